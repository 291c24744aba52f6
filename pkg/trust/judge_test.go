package trust

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"testing/fstest"

	"github.com/smctl/smctl/internal/testpriv"
)

// stranger is a uid that is neither root, nor the running user, nor (as
// far as the tests go) anyone's: it has no name.
const stranger = 4242

// who resolves the owners the tables speak of: "root", "me" (the running
// user, who is root in an ordinary run as root), "stranger".
func who(t *testing.T, name string) int {
	switch name {
	case "root":
		return 0
	case "me":
		return os.Geteuid()
	case "stranger":
		return stranger
	case "":
		return -1
	}
	t.Fatalf("unknown owner %q", name)
	return 0
}

// trusting makes TrustOwner(uid) hold for the rest of the test.
func trusting(t *testing.T, uid int) {
	TrustOwner(uid)
	t.Cleanup(func() { TrustOwner(-1) })
}

// TestStat judges files by their fstat alone: owner and mode.
func TestStat(t *testing.T) {
	for _, tc := range []struct {
		name    string
		owner   string // "root", "me" or "stranger"
		mode    uint32
		trusted string // TrustOwner: "" (none) or an owner
		why     string // "": trusted
	}{
		{"root's", "root", 0o644, "", ""},
		{"mine", "me", 0o600, "", ""},
		{"mine, setuid", "me", 0o4755, "", ""},
		{"root's, group-writable", "root", 0o664, "", "writable by its group"},
		{"mine, group-writable", "me", 0o620, "", "writable by its group"},
		{"mine, writable by others", "me", 0o602, "", "writable by others"},
		{"mine, writable by all", "me", 0o666, "", "writable by its group"},
		{"a stranger's", "stranger", 0o644, "", "owned by another user"},
		{"a stranger's, group-writable", "stranger", 0o664, "", "owned by another user"},
		{"a trusted owner's", "stranger", 0o644, "stranger", ""},
		{"a trusted owner's, writable by others", "stranger", 0o646, "stranger", "writable by others"},
		{"a stranger's, another owner trusted", "stranger", 0o644, "root", "owned by another user"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.trusted != "" {
				trusting(t, who(t, tc.trusted))
			}
			uid := who(t, tc.owner)
			st := &syscall.Stat_t{Uid: uint32(uid), Mode: syscall.S_IFREG | tc.mode}
			err := Stat("/systems/servers/n1/x", st)
			if tc.why == "" {
				if err != nil {
					t.Fatalf("Stat of a file of uid %d mode %04o: %v", uid, tc.mode, err)
				}
				return
			}
			var te *Error
			if !errors.As(err, &te) || !errors.Is(err, ErrUntrusted) {
				t.Fatalf("Stat of a file of uid %d mode %04o = %v, want an *Error for %q", uid, tc.mode, err, tc.why)
			}
			if te.Why != tc.why || te.UID != uid || te.Mode.Perm() != fs.FileMode(tc.mode).Perm() || te.Name != "/systems/servers/n1/x" {
				t.Errorf("Stat of a file of uid %d mode %04o = %+v, want why %q", uid, tc.mode, te, tc.why)
			}
		})
	}
}

// TestDir judges directories: a directory others may write must be
// sticky.
func TestDir(t *testing.T) {
	for _, tc := range []struct {
		name   string
		owner  string
		mode   uint32
		why    string // "": trusted
		sticky bool   // the error's mode shows the sticky bit
	}{
		{"root's", "root", 0o755, "", false},
		{"mine", "me", 0o700, "", false},
		{"mine, group-writable", "me", 0o775, "without the sticky bit", false},
		{"mine, writable by others", "me", 0o757, "without the sticky bit", false},
		{"mine, sticky, writable by all", "me", 0o1777, "", false},
		{"root's, sticky, group-writable", "root", 0o1770, "", false},
		{"a stranger's", "stranger", 0o755, "owned by another user", false},
		{"a stranger's, sticky", "stranger", 0o1777, "owned by another user", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			uid := who(t, tc.owner)
			st := &syscall.Stat_t{Uid: uint32(uid), Mode: syscall.S_IFDIR | tc.mode}
			err := Dir("/systems/servers/n1", st)
			if tc.why == "" {
				if err != nil {
					t.Fatalf("Dir of uid %d mode %04o: %v", uid, tc.mode, err)
				}
				return
			}
			var te *Error
			if !errors.As(err, &te) || !errors.Is(err, ErrUntrusted) || !strings.Contains(te.Why, tc.why) {
				t.Fatalf("Dir of uid %d mode %04o = %v, want %q", uid, tc.mode, err, tc.why)
			}
			if te.Mode.Perm() != fs.FileMode(tc.mode).Perm() || te.Mode&fs.ModeSticky != 0 != tc.sticky {
				t.Errorf("Dir of uid %d mode %04o: error mode %v", uid, tc.mode, te.Mode)
			}
		})
	}
}

// TestOwners checks the message of an untrusted file: one line naming the
// file, its owner and mode, what is wrong and whom it must belong to.
func TestOwners(t *testing.T) {
	me := userName(os.Geteuid())
	for _, tc := range []struct {
		name    string
		trusted int    // TrustOwner, -1 for none
		want    string // "ME" is the running user
		asRoot  string // the same run as root, where ME is root
	}{
		{"none", -1, "root or ME", "root"},
		{"root", 0, "root or ME", "root"},
		{"daemon", 1, "root, ME or daemon (uid 1)", "root or daemon (uid 1)"},
		{"a stranger", stranger, "root, ME or uid 4242", "root or uid 4242"},
		{"myself", os.Geteuid(), "root or ME", "root"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			trusting(t, tc.trusted)
			want := strings.ReplaceAll(tc.want, "ME", me)
			if os.Geteuid() == 0 {
				want = tc.asRoot
			}
			err := Stat("/x", &syscall.Stat_t{Uid: 4243, Mode: syscall.S_IFREG | 0o644})
			full := "untrusted file /x: owner uid 4243, mode 0644: owned by another user (it must be owned by " + want + " and not writable by group or others)"
			if err == nil || err.Error() != full {
				t.Errorf("error = %v\nwant %s", err, full)
			}
		})
	}
	if got := userName(0); got != "root (uid 0)" {
		t.Errorf("userName(0) = %q", got)
	}
}

// A file whose owner is unknown (no fstat behind its FileInfo) is not
// trusted.
func TestInfoWithoutOwner(t *testing.T) {
	fsys := fstest.MapFS{"agent": {Data: []byte("#!/bin/sh\n"), Mode: 0o755}}
	fi, err := fs.Stat(fsys, "agent")
	if err != nil {
		t.Fatal(err)
	}
	err = Info("agent", fi)
	var te *Error
	if !errors.As(err, &te) || te.Why != "its owner is unknown" || te.UID != -1 {
		t.Fatalf("Info of a file without fstat = %v, want its owner unknown", err)
	}
}

func TestFileAndReadFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	if err := os.WriteFile(p, []byte("0123456789"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		max  int64
		want string
	}{{4, "0123"}, {10, "0123456789"}, {100, "0123456789"}, {0, ""}} {
		if b, err := ReadFile(p, tc.max); err != nil || string(b) != tc.want {
			t.Errorf("ReadFile(%d) = %q, %v, want %q", tc.max, b, err, tc.want)
		}
	}
	if _, err := ReadFile(filepath.Join(dir, "none"), 10); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadFile of a missing file: %v", err)
	}
	if _, err := Open(filepath.Join(dir, "none")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open of a missing file: %v", err)
	}
	os.Chmod(p, 0o666)
	if b, err := ReadFile(p, 10); !errors.Is(err, ErrUntrusted) || b != nil {
		t.Errorf("ReadFile of a world-writable file = %q, %v", b, err)
	}
	// A file that can no longer be judged is not trusted.
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := File(p, f); err == nil || errors.Is(err, ErrUntrusted) {
		t.Errorf("File of a closed file: %v, want fstat's error", err)
	}
}

// childEnv marks a copy of the test binary run by runTests.
const childEnv = "SMCTL_TRUST_TEST_CHILD"

// runTests runs the tests named in a fresh copy of the test binary, as
// uid (-1: the running user), and fails unless each of them passed.
func runTests(t *testing.T, uid int, tests ...string) {
	t.Helper()
	bin := os.Args[0]
	var attr *syscall.SysProcAttr
	if uid >= 0 && uid != os.Geteuid() {
		if os.Geteuid() != 0 {
			t.Skip("needs root to run as another user")
		}
		// The binary is in go test's private directory: copy it where
		// uid can run it.
		bin = filepath.Join(testpriv.SharedDir(t), "trust.test")
		b, err := os.ReadFile(os.Args[0])
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(bin, b, 0o755); err != nil {
			t.Fatal(err)
		}
		attr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid)}}
	}
	cmd := exec.Command(bin, "-test.run=^("+strings.Join(tests, "|")+")$", "-test.v", "-test.count=1")
	cmd.Env = []string{"PATH=/usr/bin:/bin", childEnv + "=1"}
	cmd.Dir = filepath.Dir(bin)
	cmd.SysProcAttr = attr
	out, err := cmd.CombinedOutput()
	if _, exited := err.(*exec.ExitError); err != nil && !exited {
		t.Skipf("cannot run the test binary as uid %d: %v", uid, err)
	}
	if err != nil {
		t.Fatalf("as uid %d: %v\n%s", uid, err, out)
	}
	for _, name := range tests {
		if !strings.Contains(string(out), "--- PASS: "+name+" ") {
			t.Errorf("as uid %d, %s did not pass:\n%s", uid, name, out)
		}
	}
}

// TestAsAnotherUser runs TestStat, TestDir and TestOwners again as an
// unprivileged user, where the running user is not root: a test run as
// root cannot tell "owned by root" from "owned by me".
func TestAsAnotherUser(t *testing.T) {
	if os.Getenv(childEnv) != "" {
		t.Skip("in the child")
	}
	runTests(t, 65534, "TestStat", "TestDir", "TestOwners")
}

// TestUntrustedByDefault checks, in a process that never called
// TrustOwner, that only root and the running user are trusted.
func TestUntrustedByDefault(t *testing.T) {
	if os.Getenv(childEnv) == "" {
		runTests(t, -1, "TestUntrustedByDefault")
		return
	}
	for _, uid := range []int{1, 2, 65534, stranger} {
		if uid == os.Geteuid() {
			continue
		}
		if err := Stat("/x", &syscall.Stat_t{Uid: uint32(uid), Mode: syscall.S_IFREG | 0o644}); !errors.Is(err, ErrUntrusted) {
			t.Errorf("a file of uid %d in a process that trusts no third owner: %v", uid, err)
		}
	}
}
