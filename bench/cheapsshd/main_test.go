package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/smctl/smctl/pkg/sim"
)

// TestServe starts three nodes and reaches them as the benchmark's
// clients do, from the files cheapsshd writes: the key, known_hosts and
// the discovery statements.
func TestServe(t *testing.T) {
	dir := t.TempDir()
	stop, err := serve(dir, 3, "n", "sim")
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	for _, f := range []string{"id_ed25519", "known_hosts", "ssh_config", "ssh_config.common", "hosts.txt", "discover.txt", "ready"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s not written: %v", f, err)
		}
	}
	disc, err := os.ReadFile(filepath.Join(dir, "discover.txt"))
	if err != nil {
		t.Fatal(err)
	}
	// The line bench/main.go's simNodeFile and smctl's discovery read.
	re := regexp.MustCompile(`(?m)^server (n000[1-3]) address=127\.0\.0\.1 port=(\d+) ssh_config=` + regexp.QuoteMeta(filepath.Join(dir, "ssh_config.common")) + `$`)
	lines := re.FindAllStringSubmatch(string(disc), -1)
	if len(lines) != 3 {
		t.Fatalf("discover.txt: %d lines of the expected form, want 3:\n%s", len(lines), disc)
	}
	kb, err := os.ReadFile(filepath.Join(dir, "id_ed25519"))
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.ParsePrivateKey(kb)
	if err != nil {
		t.Fatal(err)
	}
	hb, err := os.ReadFile(filepath.Join(dir, "known_hosts"))
	if err != nil {
		t.Fatal(err)
	}
	_, hosts, hostKey, _, _, err := ssh.ParseKnownHosts(hb)
	if err != nil {
		t.Fatal(err)
	}
	if len(hosts) != 1 || hosts[0] != sim.HostKeyAlias {
		t.Errorf("known_hosts names %q, want %q", hosts, sim.HostKeyAlias)
	}
	cfg := &ssh.ClientConfig{User: "sim", Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)}, HostKeyCallback: ssh.FixedHostKey(hostKey)}

	for i, l := range lines {
		addr := net.JoinHostPort("127.0.0.1", l[2])
		t.Run(l[1], func(t *testing.T) {
			c, err := ssh.Dial("tcp", addr, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			tests := []struct {
				command string
				out     string
				code    int
				stderr  string
			}{
				{"vmstat", string(vmstat(i)), 0, ""},
				{"cat -- '/proc/loadavg'", "0.15 0.10 0.05 1/123 4567\n", 0, ""},
				{"cat /proc/loadavg", "", 127, "cheapsshd: cat: only vmstat and cat of /proc/loadavg are answered\n"},
				{"uname -a", "", 127, "cheapsshd: uname: only vmstat and cat of /proc/loadavg are answered\n"},
			}
			for _, tt := range tests {
				s, err := c.NewSession()
				if err != nil {
					t.Fatal(err)
				}
				var out, errOut bytes.Buffer
				s.Stdout, s.Stderr = &out, &errOut
				err = s.Run(tt.command)
				code := 0
				var ee *ssh.ExitError
				if errors.As(err, &ee) {
					code = ee.ExitStatus()
				} else if err != nil {
					t.Fatalf("%s: %v", tt.command, err)
				}
				if out.String() != tt.out || code != tt.code || errOut.String() != tt.stderr {
					t.Errorf("%s: out %q, exit %d, stderr %q; want %q, %d, %q", tt.command, out.String(), code, errOut.String(), tt.out, tt.code, tt.stderr)
				}
			}
		})
	}
	if a, b := vmstat(0), vmstat(1); bytes.Equal(a, b) || !strings.HasPrefix(string(a), "procs ---") || strings.Count(string(a), "\n") != 3 {
		t.Errorf("vmstat outputs: %q and %q, want 3 lines differing by node", a, b)
	}

	// Another key is refused.
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	otherSigner, _ := ssh.NewSignerFromKey(other)
	bad := *cfg
	bad.Auth = []ssh.AuthMethod{ssh.PublicKeys(otherSigner)}
	if c, err := ssh.Dial("tcp", net.JoinHostPort("127.0.0.1", lines[0][2]), &bad); err == nil {
		c.Close()
		t.Error("a key other than id_ed25519 was accepted")
	}
}
