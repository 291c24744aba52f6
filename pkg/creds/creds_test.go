package creds

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/crypto/chacha20poly1305"

	"github.com/smctl/smctl/internal/testpriv"
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
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse([]byte(tt.in))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("Parse(%q) error %v, want %q", tt.in, err, tt.err)
				}
				return
			}
			if err != nil || len(got) != tt.n {
				t.Errorf("Parse(%q) = %v, %v", tt.in, got, err)
			}
		})
	}
}

// A key that could not be written is an error, not a key file reported
// created: ids sealed with the key in memory could never be opened again.
func TestCreateKeyWriteFails(t *testing.T) {
	if !testpriv.Alone(t) { // it lowers RLIMIT_FSIZE, the whole process's
		return
	}
	kf := filepath.Join(t.TempDir(), "key")
	// No file may grow past 0 bytes: the write of the key fails (EFBIG;
	// Go ignores SIGXFSZ).
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		t.Fatal(err)
	}
	zero := old
	zero.Cur = 0
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &zero); err != nil {
		t.Skipf("setrlimit: %v", err)
	}
	err := CreateKey(kf)
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(err, syscall.EFBIG) {
		t.Fatalf("CreateKey = %v, want the error of its write (file too large)", err)
	}
}

func TestLoadKeyCorrupt(t *testing.T) {
	for _, tc := range []struct{ name, content string }{
		{"not base64", "short\n"},
		{"16 bytes", base64.StdEncoding.EncodeToString(make([]byte, 16)) + "\n"},
		{"33 bytes", base64.StdEncoding.EncodeToString(make([]byte, 33)) + "\n"},
		{"empty", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kf := filepath.Join(t.TempDir(), "key")
			if err := os.WriteFile(kf, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := LoadKey(kf); err == nil || !strings.Contains(err.Error(), "corrupt") {
				t.Errorf("LoadKey of a key file holding %s: %v, want corrupt", tc.name, err)
			}
		})
	}
}

// Damaged ids files are errors that say so, never a panic; a file sealed
// with no pair is reported as such, not as corrupt.
func TestOpenDamaged(t *testing.T) {
	kf := filepath.Join(t.TempDir(), "key")
	if err := CreateKey(kf); err != nil {
		t.Fatal(err)
	}
	k, err := LoadKey(kf)
	if err != nil {
		t.Fatal(err)
	}
	const place = "/systems/servers/n1"
	empty, err := k.Seal(nil, place)
	if err != nil {
		t.Fatal(err)
	}
	ids := func(box []byte) []byte {
		return []byte(Header + "\n" + base64.StdEncoding.EncodeToString(box) + "\n")
	}
	for _, tc := range []struct {
		name string
		data []byte
		err  string
	}{
		{"no pair", empty, "no user:password pair"},
		{"10 bytes", ids(make([]byte, 10)), "too short"},
		{"nonce only", ids(make([]byte, 24)), "too short"},
		{"nonce and 15 bytes", ids(make([]byte, 24+15)), "too short"},
		{"not base64", []byte(Header + "\n%%%\n"), "bad encoding"},
		{"no header", []byte("\n"), "missing header"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := k.Open(tc.data, place)
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Open(%q) = %v, want %q", tc.data, err, tc.err)
			}
		})
	}
}

// A file of the first format that does not open is not blamed on its
// place (it is bound to none): it is corrupt or the key is wrong.
func TestOpenFirstFormatWrongKey(t *testing.T) {
	dir := t.TempDir()
	var keys []*Key
	for _, name := range []string{"key1", "key2"} {
		kf := filepath.Join(dir, name)
		if err := CreateKey(kf); err != nil {
			t.Fatal(err)
		}
		k, err := LoadKey(kf)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	aead, _ := chacha20poly1305.NewX(keys[0].k[:])
	nonce := make([]byte, aead.NonceSize())
	box := aead.Seal(nonce, nonce, []byte("admin:pw\n"), []byte(HeaderV1))
	v1 := []byte(HeaderV1 + "\n" + base64.StdEncoding.EncodeToString(box) + "\n")
	_, old, err := keys[1].Open(v1, "/anywhere")
	if err == nil || errors.Is(err, ErrWrongPlace) || !strings.Contains(err.Error(), "wrong key file") || old {
		t.Errorf("Open(v1) with another key = %v (old %v), want corrupt or wrong key, not wrong place", err, old)
	}
}
