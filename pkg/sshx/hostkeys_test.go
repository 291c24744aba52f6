package sshx

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/smctl/smctl/pkg/sim"
)

// A key learnt under accept-new earlier in the same process is the key: a
// server answering later under the same name with another key is refused,
// whether the second connection goes through the known_hosts database
// loaded before the first key was recorded or through a new one, and the
// file records the first key only.
func TestHostKeyChangesWithinOneProcess(t *testing.T) {
	a := startSim(t, sim.Options{N: 1, Prefix: "a"})
	b := startSim(t, sim.Options{N: 1, Prefix: "b"}) // another host key, same alias
	kh := filepath.Join(t.TempDir(), "known_hosts")
	cfg := func(c *sim.Cluster) string {
		p := filepath.Join(t.TempDir(), "ssh_config")
		os.WriteFile(p, []byte(strings.ReplaceAll(readFile(t, c.ConfigFile), c.KnownHosts, kh)), 0o600)
		return p
	}
	cfgA, cfgB := cfg(a), cfg(b)
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		warmDB bool // load known_hosts (empty) into the pool before the first key is learnt
	}{
		{"database loaded before", true},
		{"database loaded after", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			os.Remove(kh)
			p := NewPool(Options{StrictHostKey: "accept-new"})
			defer p.Close()
			if tc.warmDB {
				os.WriteFile(kh, nil, 0o600)
			}
			ta := &Transport{Pool: p, Target: Target{Alias: a.Nodes[0].Name, ConfigFile: cfgA}}
			if _, err := ta.Exec(ctx, "true", nil, 100); err != nil {
				t.Fatalf("first key: %v", err)
			}
			first := readFile(t, kh)
			tb := &Transport{Pool: p, Target: Target{Alias: b.Nodes[0].Name, ConfigFile: cfgB}}
			_, err := tb.Exec(ctx, "true", nil, 100)
			if !errors.Is(err, ErrHostKeyChanged) {
				t.Fatalf("another key under the same name in the same process: %v, want %v", err, ErrHostKeyChanged)
			}
			if got := readFile(t, kh); got != first || strings.Count(got, "\n") != 1 {
				t.Errorf("known_hosts changed by the refused key:\n%s", got)
			}
			// The first server is still accepted.
			if _, err := ta.Exec(ctx, "true", nil, 100); err != nil {
				t.Errorf("first server after the refusal: %v", err)
			}
		})
	}
}

// accept records a name's first key and refuses any other for it, also when
// two handshakes reach it before either key was recorded (the callback's
// check has passed for both).
func TestAcceptRecordsFirstKeyOnly(t *testing.T) {
	kh := filepath.Join(t.TempDir(), "known_hosts")
	s := &Settings{Alias: "n1", KnownHostsFiles: []string{kh}}
	keyA, keyB := testKey(t), testKey(t)
	var h hostKeys
	if err := h.accept(s, "n1", keyA); err != nil {
		t.Fatal(err)
	}
	if err := h.accept(s, "n1", keyA); err != nil {
		t.Errorf("the same key again: %v", err)
	}
	if err := h.accept(s, "n1", keyB); !errors.Is(err, ErrHostKeyChanged) {
		t.Errorf("another key: %v, want %v", err, ErrHostKeyChanged)
	}
	if got := readFile(t, kh); strings.Count(got, "\n") != 1 || !strings.HasPrefix(got, "n1 "+keyA.Type()) {
		t.Errorf("known_hosts:\n%s", got)
	}
}

func testKey(t *testing.T) ssh.PublicKey {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
