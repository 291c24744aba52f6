package creds

import (
	"encoding/base64"
	"errors"

	"bytes"
	"golang.org/x/crypto/chacha20poly1305"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSealOpen(t *testing.T) {
	dir := t.TempDir()
	kf := filepath.Join(dir, "key")
	if err := CreateKey(kf); err != nil {
		t.Fatal(err)
	}
	if err := CreateKey(kf); err == nil {
		t.Fatal("CreateKey over an existing key succeeded")
	}
	k, err := LoadKey(kf)
	if err != nil {
		t.Fatal(err)
	}
	pairs := []Pair{{"admin", "s3cret:with:colons"}, {"root", ""}}
	sealed, err := k.Seal(pairs, "/systems/servers/n1")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("s3cret")) || bytes.Contains(sealed, []byte("admin")) {
		t.Fatalf("sealed ids shows clear text: %q", sealed)
	}
	got, old, err := k.Open(sealed, "/systems/servers/n1")
	if err != nil || old {
		t.Fatal(err, old)
	}
	if len(got) != 2 || got[0] != pairs[0] || got[1] != pairs[1] {
		t.Fatalf("Open = %v, want %v", got, pairs)
	}
	if m := string(Masked(got)); m != "admin:********\nroot:********\n" {
		t.Errorf("Masked = %q", m)
	}

	// Another key cannot open it; a flipped byte is detected.
	kf2 := filepath.Join(dir, "key2")
	if err := CreateKey(kf2); err != nil {
		t.Fatal(err)
	}
	k2, _ := LoadKey(kf2)
	if _, _, err := k2.Open(sealed, "/systems/servers/n1"); !errors.Is(err, ErrWrongPlace) {
		t.Errorf("open with other key: %v", err)
	}
	// A copy in another directory does not decrypt, and says what to do.
	for _, place := range []string{"/systems/servers/n2", "/", "/systems/servers/n1/x", "/systems/servers"} {
		if _, _, err := k.Open(sealed, place); !errors.Is(err, ErrWrongPlace) || !strings.Contains(err.Error(), "smctl write "+strings.TrimSuffix(place, "/")+"/ids --prompt") {
			t.Errorf("open at %s: %v", place, err)
		}
	}
	bad := bytes.Replace(sealed, []byte("\n"), []byte("\nAAAA"), 1)
	if _, _, err := k.Open(bad, "/systems/servers/n1"); err == nil {
		t.Error("open of corrupt ids succeeded")
	}
	if _, _, err := k.Open([]byte("admin:secret\n"), "/"); err == nil || !strings.Contains(err.Error(), "header") {
		t.Errorf("open of clear-text ids: %v", err)
	}
}

// A file of the first format (bound to no place) opens anywhere, reported
// as old so that the caller rewrites it bound to its place.
func TestOpenFirstFormat(t *testing.T) {
	kf := filepath.Join(t.TempDir(), "key")
	if err := CreateKey(kf); err != nil {
		t.Fatal(err)
	}
	k, err := LoadKey(kf)
	if err != nil {
		t.Fatal(err)
	}
	aead, _ := chacha20poly1305.NewX(k.k[:])
	nonce := make([]byte, aead.NonceSize())
	box := aead.Seal(nonce, nonce, []byte("admin:pw\n"), []byte(HeaderV1))
	v1 := []byte(HeaderV1 + "\n" + base64.StdEncoding.EncodeToString(box) + "\n")
	pairs, old, err := k.Open(v1, "/anywhere")
	if err != nil || !old || len(pairs) != 1 || pairs[0] != (Pair{"admin", "pw"}) {
		t.Fatalf("Open(v1) = %v, %v, %v", pairs, old, err)
	}
}

func TestLoadKeyErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadKey(filepath.Join(dir, "none")); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing key: %v", err)
	}
	kf := filepath.Join(dir, "key")
	if err := CreateKey(kf); err != nil {
		t.Fatal(err)
	}
	os.Chmod(kf, 0o644)
	if _, err := LoadKey(kf); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("world-readable key: %v", err)
	}
	os.Chmod(kf, 0o600)
	os.WriteFile(kf, []byte("short\n"), 0o600)
	if _, err := LoadKey(kf); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Errorf("corrupt key: %v", err)
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		in, err string
		n       int
	}{
		{in: "admin:secret\n", n: 1},
		{in: "# comment\n\nadmin:a\nroot:b\n", n: 2},
		{in: "admin\n", err: "line 1: want user:password"},
		{in: ":pw\n", err: "line 1"},
		{in: "", err: "no user:password"},
		{in: "a b:c", err: "white space"},
	}
	for _, tt := range tests {
		got, err := Parse([]byte(tt.in))
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("Parse(%q) error %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || len(got) != tt.n {
			t.Errorf("Parse(%q) = %v, %v", tt.in, got, err)
		}
	}
}
