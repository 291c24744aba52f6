package sshx

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// accept-new writes a host key only into a known_hosts file: a regular file
// with one link owned by the running user, or a new one; /dev/null records
// nothing.
func TestOpenKnownHosts(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	os.WriteFile(victim, []byte("# keep\n"), 0o600)
	for _, tc := range []struct {
		name  string
		setup func(p string)
		want  string // "" ok, "nil" nothing recorded, else an error
	}{
		{"new", func(string) {}, ""},
		{"existing", func(p string) { os.WriteFile(p, nil, 0o600) }, ""},
		{"dev-null", nil, "nil"},
		{"authorized_keys2", func(string) {}, "named like an authorized_keys file"},
		{"symlink", func(p string) { os.Symlink(victim, p) }, "symlink"},
		{"hardlink", func(p string) { os.Link(victim, p) }, "hard links"},
		{"group-writable", func(p string) { os.WriteFile(p, nil, 0o600); os.Chmod(p, 0o620) }, "writable by group"},
		{"other-user", func(p string) { os.WriteFile(p, nil, 0o600); os.Chown(p, 65534, 65534) }, "not by the running user"},
		{"directory", func(p string) { os.Mkdir(p, 0o700) }, "is a directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, tc.name)
			if tc.setup == nil {
				p = os.DevNull
			} else {
				tc.setup(p)
			}
			if tc.name == "other-user" && os.Geteuid() != 0 {
				t.Skip("needs root to give a file to another user")
			}
			f, err := openKnownHosts(p)
			switch tc.want {
			case "":
				if err != nil || f == nil {
					t.Fatalf("openKnownHosts: %v, %v", f, err)
				}
				f.Close()
			case "nil":
				if err != nil || f != nil {
					t.Fatalf("openKnownHosts(/dev/null) = %v, %v; want nothing recorded", f, err)
				}
			default:
				if f != nil || err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("openKnownHosts = %v, %v; want an error with %q", f, err, tc.want)
				}
				if tc.name != "directory" && !errors.Is(err, ErrNotKnownHosts) {
					t.Errorf("error does not wrap ErrNotKnownHosts: %v", err)
				}
			}
			if b, _ := os.ReadFile(victim); string(b) != "# keep\n" {
				t.Fatalf("victim changed: %q", b)
			}
		})
	}
}
