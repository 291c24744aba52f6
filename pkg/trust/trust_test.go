package trust

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smctl/smctl/pkg/status"
)

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		mode os.FileMode
		uid  int // -1: the running user
		why  string
	}{
		{"private", 0o600, -1, ""},
		{"readable", 0o644, -1, ""},
		{"group-writable", 0o664, -1, "writable by its group"},
		{"other-writable", 0o646, -1, "writable by others"},
		{"world", 0o777, -1, "writable by its group"},
		{"another user's", 0o644, 65534, "owned by another user"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_"))
			if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(p, tc.mode); err != nil {
				t.Fatal(err)
			}
			if tc.uid >= 0 {
				if os.Geteuid() != 0 {
					t.Skip("needs root to give a file to another user")
				}
				if err := os.Chown(p, tc.uid, -1); err != nil {
					t.Fatal(err)
				}
			}
			f, err := Open(p)
			if tc.why == "" {
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				f.Close()
				return
			}
			if !errors.Is(err, ErrUntrusted) || !strings.Contains(err.Error(), tc.why) || !strings.Contains(err.Error(), p) {
				t.Fatalf("Open = %v, want an untrusted-file error naming %s and %q", err, p, tc.why)
			}
			var te *Error
			if !errors.As(err, &te) || te.Mode.Perm() != tc.mode.Perm() {
				t.Fatalf("error %#v does not carry mode %04o", te, tc.mode)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is more than one line: %q", err)
			}
		})
	}
}

// The judgement is of the file as opened: a symlink to a trusted file is
// judged by its target, as OpenSSH judges its configuration files.
func TestOpenFollowsToTarget(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	os.WriteFile(target, []byte("x"), 0o644)
	os.Symlink(target, filepath.Join(dir, "link"))
	f, err := Open(filepath.Join(dir, "link"))
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	os.Chmod(target, 0o666)
	if _, err := Open(filepath.Join(dir, "link")); !errors.Is(err, ErrUntrusted) {
		t.Fatalf("link to a world-writable file: %v", err)
	}
}

// TestErrUntrustedIsStatus checks that an untrusted file is a
// configuration error in the status vocabulary.
func TestErrUntrustedIsStatus(t *testing.T) {
	if ErrUntrusted != status.ErrUntrusted {
		t.Fatal("trust.ErrUntrusted is not status.ErrUntrusted")
	}
	err := error(&Error{Name: "/x", UID: 1, Mode: 0o666, Why: "writable by others"})
	if c := status.Of(err); c != status.Usage {
		t.Errorf("status.Of(untrusted) = %d, want %d", c, status.Usage)
	}
}
