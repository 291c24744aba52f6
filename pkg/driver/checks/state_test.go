package checks

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/smctl/smctl/internal/testpriv"
	"github.com/smctl/smctl/pkg/check"
	"github.com/smctl/smctl/pkg/trust"
)

// critical is a status after three CRITICAL results of a check of 3
// attempts: HARD.
func critical() check.Status {
	var st check.Status
	at := time.Date(2026, 11, 22, 21, 40, 1, 0, time.UTC)
	for i := range 3 {
		st, _ = st.Next(check.Critical, at.Add(time.Duration(i)*5*time.Second), check.Policy{MaxAttempts: 3})
	}
	return st
}

// TestStatusRoundTrip: what SaveStatus keeps, LoadStatus reads back,
// in a file of its own per device and check, 0644 in 0755 directories
// whatever the umask.
func TestStatusRoundTrip(t *testing.T) {
	root := t.TempDir()
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	if _, ok, err := LoadStatus(root, "/systems/servers/n1", "ssh"); ok || err != nil {
		t.Fatalf("nothing kept yet: %v, %v", ok, err)
	}
	st := critical()
	if got := st.String(); got != "CRITICAL HARD 3/3 since 2026-11-22T21:40:01Z" {
		t.Fatalf("the status: %s", got)
	}
	d := New(root)
	for _, dev := range []string{"/systems/servers/n1", "/systems/chassis/c1/blades/3", "/"} {
		if err := d.SaveStatus(dev, "ssh", st); err != nil {
			t.Fatal(err)
		}
		got, ok, err := d.LoadStatus(dev, "ssh")
		if err != nil || !ok || !reflect.DeepEqual(got, st) {
			t.Errorf("%s: LoadStatus = %v, %v, %v; want %v", dev, got, ok, err, st)
		}
	}
	if _, ok, err := LoadStatus(root, "/systems/servers/n1", "tcp"); ok || err != nil {
		t.Errorf("another check: %v, %v", ok, err)
	}
	next, _ := st.Next(check.OK, st.LastCheck.Add(time.Minute), check.Policy{MaxAttempts: 3})
	if err := SaveStatus(root, "/systems/servers/n1", "ssh", next); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := LoadStatus(root, "/systems/servers/n1", "ssh"); got.String() != "OK HARD 1/3 since 2026-11-22T21:41:11Z" {
		t.Errorf("replaced: %s", got)
	}
	for p, want := range map[string]os.FileMode{
		"checks": 0o755 | os.ModeDir, "checks/systems/servers/n1": 0o755 | os.ModeDir,
		"checks/systems/servers/n1/ssh.state": 0o644, "checks/ssh.state": 0o644,
	} {
		if fi, err := os.Stat(filepath.Join(root, p)); err != nil || fi.Mode() != want {
			t.Errorf("%s: %v, %v; want %v", p, fi.Mode(), err, want)
		}
	}
	ents, _ := os.ReadDir(filepath.Join(root, "checks/systems/servers/n1"))
	if len(ents) != 1 {
		t.Errorf("left behind: %v", ents)
	}
	for _, tc := range []struct{ dev, name string }{
		{"systems/n1", "ssh"}, {"/systems/../etc", "ssh"}, {"/systems/.x", "ssh"}, {"/systems/", "ssh"},
		{"/systems/n1", "../../x"}, {"/systems/n1", "a.b"}, {"/systems/n1", ""},
	} {
		if err := SaveStatus(root, tc.dev, tc.name, st); err == nil {
			t.Errorf("SaveStatus(%q, %q) took it", tc.dev, tc.name)
		}
		if _, _, err := LoadStatus(root, tc.dev, tc.name); err == nil {
			t.Errorf("LoadStatus(%q, %q) took it", tc.dev, tc.name)
		}
	}
	if err := SaveStatus("", "/systems/n1", "ssh", st); err == nil {
		t.Errorf("saved with no state root")
	}
}

// TestStatusRefused: a status a less-trusted user could have written (the
// file, or a directory on the way, theirs or open to them), a symlink, a
// file with another link or a malformed line is refused with an error
// naming the file; SaveStatus writes into no such directory.
func TestStatusRefused(t *testing.T) {
	for _, tc := range []struct {
		name  string
		root  bool // needs root: gives a file to nobody
		setup func(t *testing.T, root, dir, file string)
		why   string
	}{
		{"file of another user", true, func(t *testing.T, root, dir, file string) { chownNobody(t, file) }, "owned by another user"},
		{"file writable by its group", false, func(t *testing.T, root, dir, file string) { os.Chmod(file, 0o664) }, "writable by its group"},
		{"directory of another user", true, func(t *testing.T, root, dir, file string) { chownNobody(t, dir) }, "a directory owned by another user"},
		{"directory writable by others", false, func(t *testing.T, root, dir, file string) { os.Chmod(dir, 0o777) }, "without the sticky bit"},
		{"checks/ writable by its group", false, func(t *testing.T, root, dir, file string) {
			os.Chmod(filepath.Join(root, "checks"), 0o775)
		}, "without the sticky bit"},
		{"a symlinked directory", false, func(t *testing.T, root, dir, file string) {
			other := filepath.Join(root, "elsewhere")
			os.Rename(dir, other)
			os.Symlink(other, dir)
		}, "not a directory (a symlink?)"},
		{"a symlinked file", false, func(t *testing.T, root, dir, file string) {
			os.Rename(file, file+".real")
			os.Symlink(file+".real", file)
		}, "is a symlink"},
		{"a hard link", false, func(t *testing.T, root, dir, file string) { os.Link(file, filepath.Join(root, "link")) }, "one link"},
		{"malformed", false, func(t *testing.T, root, dir, file string) {
			os.WriteFile(file, []byte("check-status/1 state=CRITICAL type=HARD\n"), 0o644)
		}, "malformed status"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.root && os.Geteuid() != 0 {
				testpriv.Need(t, "root (to give a file to another user)")
			}
			root := t.TempDir()
			const dev = "/systems/servers/n1"
			if err := SaveStatus(root, dev, "ssh", critical()); err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(root, "checks/systems/servers/n1")
			tc.setup(t, root, dir, filepath.Join(dir, "ssh.state"))
			_, ok, err := LoadStatus(root, dev, "ssh")
			if ok || err == nil || !strings.Contains(err.Error(), tc.why) || !strings.HasPrefix(err.Error(), "device "+dev+": check ssh: state: ") {
				t.Errorf("LoadStatus: %v, %v; want an error: ...%s...", ok, err, tc.why)
			}
			if strings.Contains(tc.why, "owned by") || strings.Contains(tc.why, "writable") {
				if !errors.Is(err, trust.ErrUntrusted) {
					t.Errorf("not ErrUntrusted: %v", err)
				}
				if strings.Contains(tc.name, "directory") || strings.Contains(tc.name, "checks/") {
					if err := SaveStatus(root, dev, "tcp", critical()); !errors.Is(err, trust.ErrUntrusted) {
						t.Errorf("SaveStatus into it: %v", err)
					}
				}
			}
		})
	}
}

func chownNobody(t *testing.T, p string) {
	t.Helper()
	if err := os.Chown(p, testpriv.Nobody, testpriv.Nobody); err != nil {
		t.Fatal(err)
	}
}
