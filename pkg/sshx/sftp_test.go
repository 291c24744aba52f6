package sshx

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smctl/smctl/pkg/sim"
	"github.com/smctl/smctl/pkg/status"
	"github.com/smctl/smctl/pkg/transport"
)

// TestOpenFiles copies through SFTP on the pool's connection: a file
// written on one simulated node lands in that node's file space only;
// renaming replaces; errors say which file and why.
func TestOpenFiles(t *testing.T) {
	c := startSim(t, sim.Options{N: 2})
	p := NewPool(Options{ConfigFiles: []string{c.ConfigFile}})
	defer p.Close()
	ctx := context.Background()
	tr := &Transport{Pool: p, Target: Target{Alias: c.Nodes[0].Name}}
	f, err := transport.OpenFiles(ctx, tr)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := f.CreateNew("/tmp/.x.new")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(w, "hello\n"); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.CreateNew("/tmp/.x.new"); err == nil {
		t.Error("CreateNew over an existing file succeeded")
	}
	if err := f.Chmod("/tmp/.x.new", 0o640); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(c.Dir, sim.NodesDir, c.Nodes[0].Name, "tmp", "x"), []byte("old"), 0o644)
	if err := f.Rename("/tmp/.x.new", "/tmp/x"); err != nil {
		t.Fatal(err)
	}
	fi, err := f.Stat("/tmp/x")
	if err != nil || fi.Size() != 6 || fi.Mode().Perm() != 0o640 {
		t.Errorf("Stat(/tmp/x) = %v, %v; want 6 bytes, mode 0640", fi, err)
	}
	got, err := os.ReadFile(filepath.Join(c.Dir, sim.NodesDir, c.Nodes[0].Name, "tmp", "x"))
	if err != nil || string(got) != "hello\n" {
		t.Errorf("node 1's /tmp/x = %q, %v", got, err)
	}
	if _, err := os.Stat(filepath.Join(c.Dir, sim.NodesDir, c.Nodes[1].Name, "tmp", "x")); err == nil {
		t.Error("node 2 got node 1's file")
	}
	r, err := f.Open("/proc/sys/kernel/hostname")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r)
	r.Close()
	if string(b) != c.Nodes[0].Name+"\n" {
		t.Errorf("/proc/sys/kernel/hostname = %q", b)
	}
	if _, err := f.Stat("/nope"); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "/nope") {
		t.Errorf("Stat(/nope) = %v, want ErrNotExist naming /nope", err)
	}
	if _, err := f.CreateNew("/proc/evil"); err == nil {
		t.Error("created a file in the simulated /proc")
	}
}

// TestSFTPRefusedAndHanging: a node that refuses the subsystem fails with
// an error saying so (not "unreachable"); one that hangs is cut when the
// context ends, and the error is the context's.
func TestSFTPRefusedAndHanging(t *testing.T) {
	c := startSim(t, sim.Options{N: 2, Fail: 0.5, Hang: 0.5})
	p := NewPool(Options{ConfigFiles: []string{c.ConfigFile}})
	defer p.Close()
	for _, n := range c.Nodes {
		tr := &Transport{Pool: p, Target: Target{Alias: n.Name}}
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		start := time.Now()
		_, err := transport.OpenFiles(ctx, tr)
		cancel()
		switch n.Behaviour {
		case sim.Fail:
			if err == nil || !strings.Contains(err.Error(), "refused the sftp subsystem") || status.Of(err) != status.Failed {
				t.Errorf("refusing node: %v (status %d)", err, status.Of(err))
			}
		case sim.Hang:
			if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
				t.Errorf("hanging node: %v after %v", err, time.Since(start))
			}
		}
	}
}
