package store

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/smctl/smctl/internal/testpriv"
)

// TestMut2DirModeWhenNeeded: the directory's mode, which a stored result's
// write bits follow, is looked up (once per command) by the first write
// that needs it; writing a trusted name, which never takes the
// directory's write bits, does not fix it earlier, so a directory
// delegated after that write still widens the results written after it.
func TestMut2DirModeWhenNeeded(t *testing.T) {
	s, dir := newStore(t)
	s.Trusted = func(_, n string) bool { return n == IDsName }
	d := filepath.Join(dir, "dev")
	if err := os.Mkdir(d, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(d, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := s.WriteFile("dev/"+IDsName, []byte("admin:secret")); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(d, 0o775); err != nil {
		t.Fatal(err)
	}
	if err := s.WriteFile("dev/power", []byte("on\n")); err != nil {
		t.Fatal(err)
	}
	if m := perm(t, filepath.Join(d, "power")); m != newFileMode.Perm()|0o020 {
		t.Errorf("power: mode %04o, want %04o (the group may write the directory)", m, newFileMode.Perm()|0o020)
	}
	if m := perm(t, filepath.Join(d, IDsName)); m != 0o600 {
		t.Errorf("ids: mode %04o, want 0600", m)
	}
}

// mut2GroupEnv marks the copy of the test binary TestMut2KeepGroup runs;
// its value is the directory the parent prepared.
const mut2GroupEnv = "SMCTL_STORE_MUT2_GROUP_CHILD"

// mut2Group is the supplementary group of the copy (any number will do:
// the kernel does not ask /etc/group).
const mut2Group = 4243

// TestMut2KeepGroup: a user who may write another user's file, in a
// directory of the user's, replaces it by a new file of the user's; the
// owner cannot be kept without privilege, but the group can when the user
// is a member of it, and is. Run as root, the test prepares root's file of
// group 4243 (mode 0664) in nobody's directory and runs itself as
// nobody:nogroup with the supplementary group 4243.
func TestMut2KeepGroup(t *testing.T) {
	if shared, ok := testpriv.Child(t, mut2GroupEnv); ok {
		if err := mutStoreAt(t, filepath.Join(shared, "open")).WriteFile("f", []byte("new\n")); err != nil {
			t.Fatal(err)
		}
		return
	}
	if os.Geteuid() != 0 {
		testpriv.Need(t, "root (to plant root's file and run the test binary as uid 65534)")
	}
	shared := testpriv.SharedDir(t)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	open := filepath.Join(shared, "open")
	must(os.Mkdir(open, 0o700))
	must(os.Chown(open, testpriv.Nobody, testpriv.Nobody))
	must(os.Chmod(open, 0o755))
	f := filepath.Join(open, "f")
	must(os.WriteFile(f, []byte("old\n"), 0o600))
	must(os.Chown(f, 0, mut2Group))
	must(os.Chmod(f, 0o664))
	cmd := testpriv.Command(t, shared, testpriv.Nobody, t.Name(), mut2GroupEnv+"="+shared)
	cmd.SysProcAttr.Credential.Groups = []uint32{mut2Group}
	out, err := cmd.CombinedOutput()
	if _, exited := err.(*exec.ExitError); err != nil && !exited {
		testpriv.Need(t, "a place uid 65534 can run the test binary from ("+err.Error()+")")
	}
	if err != nil || !strings.Contains(string(out), "PASS") {
		t.Fatalf("as uid %d: %v\n%s", testpriv.Nobody, err, out)
	}
	if b, _ := os.ReadFile(f); string(b) != "new\n" {
		t.Fatalf("f holds %q after the write", b)
	}
	var st syscall.Stat_t
	must(syscall.Stat(f, &st))
	if st.Uid != testpriv.Nobody || st.Gid != mut2Group || st.Mode&0o777 != 0o664 {
		t.Errorf("after the write: %d:%d %04o, want %d:%d 0664", st.Uid, st.Gid, st.Mode&0o777, testpriv.Nobody, mut2Group)
	}
}

// mut2FileSizeLimit limits the size of the files the test process writes
// to max bytes (RLIMIT_FSIZE) until the returned function restores the
// limit: writes beyond it fail with EFBIG (Go ignores SIGXFSZ). Only
// regular files are limited; the package's tests do not run in parallel.
func mut2FileSizeLimit(t *testing.T, max uint64) func() {
	t.Helper()
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		t.Fatal(err)
	}
	lim := old
	lim.Cur = max
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil {
		t.Skipf("setrlimit RLIMIT_FSIZE: %v", err)
	}
	return func() {
		if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
			t.Fatal(err)
		}
	}
}

// TestMut2WriteFails: a write that fails (here: EFBIG, over the file size
// limit) is reported, replaces nothing and leaves no temporary file; a lock
// file that cannot be written is an error too.
//
// The file size limit is the whole process's: the test runs in a copy of
// the test binary of its own, without go test's log of file accesses, whose
// writes the limit would fail too (and fail the package, at its end).
func TestMut2WriteFails(t *testing.T) {
	if !testpriv.Alone(t) {
		return
	}
	s, dir := newStore(t)
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	big := []byte(strings.Repeat("x", 4096))
	restore := mut2FileSizeLimit(t, 1024)
	errNew := s.WriteFile("new", big)
	errOld := s.WriteFile("f", big)
	restore()
	for name, err := range map[string]error{"new": errNew, "f": errOld} {
		if !errors.Is(err, syscall.EFBIG) {
			t.Errorf("write of %s over the size limit: %v, want EFBIG", name, err)
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, "f")); err != nil || string(b) != "old\n" {
		t.Errorf("f holds %q (%v) after a failed write", b, err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "new")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("new exists after a failed write (%v)", err)
	}
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, de := range des {
		if strings.HasPrefix(de.Name(), TempPrefix) && !strings.HasPrefix(de.Name(), SparePrefix) {
			t.Errorf("temporary file %s left behind", de.Name())
		}
	}
	restore = mut2FileSizeLimit(t, 0)
	err = s.CreateLock(LockName)
	restore()
	if !errors.Is(err, syscall.EFBIG) {
		t.Errorf("CreateLock over the size limit: %v, want EFBIG", err)
	}
}
