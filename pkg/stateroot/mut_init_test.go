package stateroot

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"testing/fstest"

	"github.com/smctl/smctl/pkg/config"
)

// TestMutInitTarget: Init makes a root where nothing is, or in an empty
// directory; it refuses a directory with something in it and anything
// that is not a directory, and leaves them and their parent as they were.
func TestMutInitTarget(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string)
		err   string // "" for success
	}{
		{"missing", func(*testing.T, string) {}, ""},
		{"missing parent", nil, ""},
		{"empty directory", func(t *testing.T, dir string) {
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
		}, ""},
		{"not empty", func(t *testing.T, dir string) {
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "data"), []byte("mine\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, "exists and is not empty: choose another --root"},
		{"a file", func(t *testing.T, dir string) {
			if err := os.WriteFile(dir, []byte("mine\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, "not a directory"},
		{"initialized", func(t *testing.T, dir string) {
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, config.FileName), []byte("mine\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, ErrInitialized.Error()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent := t.TempDir()
			dir := filepath.Join(parent, "root")
			if tt.setup == nil {
				dir = filepath.Join(parent, "a", "b", "root")
			} else {
				tt.setup(t, dir)
			}
			before := snapshot(t, parent)
			err := Init(context.Background(), dir, Options{Agents: fstest.MapFS{}, Drivers: testDrivers(), Devices: localhost})
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Init: %v, want error %q", err, tt.err)
				}
				if after := snapshot(t, parent); after != before {
					t.Errorf("refused Init changed %s:\n%s\nwas:\n%s", parent, after, before)
				}
				return
			}
			if err != nil {
				t.Fatalf("Init: %v", err)
			}
			st, err := os.Stat(dir)
			if err != nil {
				t.Fatal(err)
			}
			if !st.IsDir() || st.Mode().Perm() != 0o755 {
				t.Fatalf("root %s: mode %v, want a directory of mode 0755", dir, st.Mode())
			}
			for _, f := range []string{config.FileName, "key", "tree/discover_master", "tree/systems/servers/.devices"} {
				if _, err := os.Lstat(filepath.Join(dir, f)); err != nil {
					t.Errorf("after Init: %v", err)
				}
			}
			des, err := os.ReadDir(filepath.Dir(dir))
			if err != nil || len(des) != 1 || des[0].Name() != "root" {
				t.Errorf("beside the root: %v, %v; want only root (no temporary directory left)", des, err)
			}
		})
	}
}

// snapshot lists everything under dir with its mode and, for files, content.
func snapshot(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		b.WriteString(p + " " + info.Mode().String())
		if info.Mode().IsRegular() {
			c, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			b.WriteString(" " + strings.TrimSpace(string(c)))
		}
		b.WriteString("\n")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestMutInitAgentModes: Init gives the execute bits back to the agents
// it installs (files of the agents file system carry none), and only to
// them: .read and .write files, discover.d's files and the reference
// agents, not READMEs or other files, nor directories.
func TestMutInitAgentModes(t *testing.T) {
	tests := []struct {
		file string
		exec bool
	}{
		{"server/power.read", true},
		{"server/power.write", true},
		{"uptime.read", true},
		{"discover.d/scan", true},
		{"reference/ipmitool-power", true},
		{"reference/README", false},
		{"README", false},
		{"server/README", false},
		{"server/notes.txt", false},
		{"server/power.read.orig", false},
		{"lib/reference", false},
		{"lib/discover.d", false},
		// In directories named like agents: the rule looks at the
		// file's own directory only.
		{"discover.d/lib/x.sh", false},
		{"reference/sub/x.sh", false},
		{"server/old.read/x.orig", false},
	}
	af := fstest.MapFS{}
	for _, tt := range tests {
		af[tt.file] = &fstest.MapFile{Data: []byte("#!/bin/sh\n"), Mode: 0o600}
	}
	// A umask that keeps the directories CopyFS makes private, so that a
	// chmod of one shows. The umask is the process's: this test must not
	// run in parallel with others.
	old := syscall.Umask(0o077)
	dir := filepath.Join(t.TempDir(), "root")
	err := Init(context.Background(), dir, Options{Agents: af, Drivers: testDrivers(), Devices: localhost})
	syscall.Umask(old)
	if err != nil {
		t.Fatal(err)
	}
	agents := filepath.Join(dir, "agents.d")
	for _, tt := range tests {
		st, err := os.Stat(filepath.Join(agents, tt.file))
		if err != nil {
			t.Fatal(err)
		}
		want := fs.FileMode(0o600)
		if tt.exec {
			want = 0o755
		}
		if st.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", tt.file, st.Mode().Perm(), want)
		}
	}
	for _, d := range []string{"discover.d/lib", "reference/sub", "server/old.read", "discover.d", "reference"} {
		st, err := os.Stat(filepath.Join(agents, d))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o700 {
			t.Errorf("directory %s: mode %v, want 0700 (as made)", d, st.Mode().Perm())
		}
	}
}
