package store

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/smctl/smctl/internal/testpriv"
)

// The rules about who may write what differ for root, whom the kernel lets
// write anything, and for everyone else. TestMutUnpriv runs part of the
// package's tests again as nobody:nogroup, with no supplementary groups (as
// testscripts/delegate.txtar's member), in a copy of the test binary.
// (pkg/delegate's TestMutUnpriv does the same for the rules of delegation.)

// mutUnprivEnv marks that copy; its value is the directory the parent
// prepared for it.
const mutUnprivEnv = "SMCTL_STORE_UNPRIV_CHILD"

// mutStoreAt is a store of the backing directory dir.
func mutStoreAt(t *testing.T, dir string) *Store {
	t.Helper()
	r, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return &Store{root: r, dir: dir}
}

// mutBusy makes p a copy of sleep(1) with the given mode and runs it until
// the test ends: a file the kernel refuses to open for writing (ETXTBSY),
// whoever asks, but that its directory's writers may replace.
func mutBusy(t *testing.T, p string, mode os.FileMode) {
	t.Helper()
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		testpriv.Need(t, "sleep on $PATH")
	}
	b, err := os.ReadFile(sleep)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	var cmd *exec.Cmd
	for i := 0; ; i++ {
		cmd = exec.Command(p, "600")
		// A fork elsewhere in the test binary may still hold the
		// descriptor the copy was written through: ETXTBSY, retried.
		if err = cmd.Start(); err == nil || !errors.Is(err, syscall.ETXTBSY) || i == 50 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	if f, err := os.OpenFile(p, os.O_WRONLY, 0); err == nil {
		f.Close()
		t.Logf("%s: a running program can be opened for writing here: the case proves less", p)
	}
}

// TestMutReplaceBusy: the user may replace a file of theirs, or root any
// file, by rename without being able to open it for writing (a running
// program): the mode answers for them, the kernel is not asked.
func TestMutReplaceBusy(t *testing.T) {
	modes := []os.FileMode{0o755}
	if os.Geteuid() == 0 {
		modes = append(modes, 0o555) // root needs no write bit
	}
	for _, mode := range modes {
		t.Run(mode.String(), func(t *testing.T) {
			dir := t.TempDir()
			s := mutStoreAt(t, dir)
			mutBusy(t, filepath.Join(dir, "prog"), mode)
			if err := s.WriteFile("prog", []byte("new\n")); err != nil {
				t.Fatalf("replacing a running program of mode %v: %v", mode, err)
			}
			if b, _ := os.ReadFile(filepath.Join(dir, "prog")); string(b) != "new\n" {
				t.Errorf("prog holds %q after the write", b)
			}
		})
	}
}

// TestMutUnpriv: as root, prepares files of root's in directories nobody
// may write and runs itself as nobody:nogroup; there, checks the
// write-permission rule of the store from the side of an unprivileged user.
func TestMutUnpriv(t *testing.T) {
	if shared, ok := testpriv.Child(t, mutUnprivEnv); ok {
		t.Run("replace", func(t *testing.T) { mutUnprivReplace(t, shared) })
		t.Run("check writable", func(t *testing.T) { mutUnprivCheckWritable(t, shared) })
		return
	}
	if os.Geteuid() != 0 {
		testpriv.Need(t, "root (to plant root's files and run the test binary as uid 65534)")
	}
	shared := testpriv.SharedDir(t)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	dirs := []struct {
		name     string
		uid, gid int
		mode     os.FileMode
	}{
		{"open", testpriv.Nobody, testpriv.Nobody, 0o755},     // the child's, holding a file of root's
		{"sticky", 0, testpriv.Nobody, 0o775 | os.ModeSticky}, // root's, delegated to nogroup
		{"ro", 0, 0, 0o755},    // root's, nobody may write it
		{"xonly", 0, 0, 0o711}, // root's, others may only pass through it
	}
	for _, d := range dirs {
		p := filepath.Join(shared, d.name)
		must(os.Mkdir(p, 0o700))
		must(os.Chown(p, d.uid, d.gid))
		must(os.Chmod(p, d.mode))
	}
	files := []struct {
		name string
		gid  int
		mode os.FileMode
	}{
		{"open/roots", 0, 0o644},
		{"sticky/f", testpriv.Nobody, 0o664},
		{"ro/f", 0, 0o666},      // writable by all, in a directory nobody may write
		{"ro/secret", 0, 0o600}, // root's alone
	}
	for _, f := range files {
		p := filepath.Join(shared, f.name)
		must(os.WriteFile(p, []byte("old\n"), 0o600))
		must(os.Chown(p, 0, f.gid))
		must(os.Chmod(p, f.mode))
	}
	testpriv.AsNobody(t, mutUnprivEnv, shared)
}

// mutUnprivReplace: write access to a directory is not write access to
// its files. The store replaces a file by a new one renamed over it, which
// the directory alone allows; it asks first whether the user may write the
// file itself. In a sticky (delegated) directory, where the user may not
// rename over the owner's file, it writes the file in place when its mode
// allows.
func mutUnprivReplace(t *testing.T, shared string) {
	own := t.TempDir()
	for _, tc := range []struct {
		name, dir, file string
		mode            os.FileMode // the user's own file, made here with this mode
		busy            bool        // ... as a running program
		err             error       // nil: written
	}{
		{"root's file, in the user's directory", filepath.Join(shared, "open"), "roots", 0, false, fs.ErrPermission},
		{"the user's read-only file", own, "ro", 0o444, false, fs.ErrPermission},
		{"the user's running program", own, "prog", 0o755, true, nil},
		{"root's group-writable file, in root's sticky directory", filepath.Join(shared, "sticky"), "f", 0, false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(tc.dir, tc.file)
			switch {
			case tc.busy:
				mutBusy(t, p, tc.mode)
			case tc.mode != 0:
				if err := os.WriteFile(p, []byte("old\n"), 0o600); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(p, tc.mode); err != nil {
					t.Fatal(err)
				}
			}
			var before syscall.Stat_t
			if err := syscall.Stat(p, &before); err != nil {
				t.Fatal(err)
			}
			err := mutStoreAt(t, tc.dir).WriteFile(tc.file, []byte("new\n"))
			if tc.err == nil && err != nil || tc.err != nil && !errors.Is(err, tc.err) {
				t.Fatalf("writeFile: %v, want %v", err, tc.err)
			}
			want := "new\n"
			if tc.err != nil {
				want = "old\n"
			}
			if b, _ := os.ReadFile(p); string(b) != want {
				t.Errorf("%s holds %q, want %q", tc.file, b, want)
			}
			var after syscall.Stat_t
			if err := syscall.Stat(p, &after); err != nil {
				t.Fatal(err)
			}
			if after.Uid != before.Uid {
				t.Errorf("%s: owner %d -> %d", tc.file, before.Uid, after.Uid)
			}
		})
	}
}

// mutUnprivCheckWritable: CheckWritable judges a file by its own mode (an
// existing file) or its directory's (a new one), as access(2) does with
// the real IDs, relative to the directory smctl keeps open.
func mutUnprivCheckWritable(t *testing.T, shared string) {
	s := mutStoreAt(t, shared)
	for _, tc := range []struct {
		rel    string
		exists bool
		err    error
	}{
		{"open/roots", true, fs.ErrPermission}, // root's 0644, in the user's directory
		{"open/new", false, nil},               // the user's directory
		{"sticky/f", true, nil},                // group-writable, in a delegated directory
		{"sticky/new", false, nil},
		{"ro/f", true, nil}, // the file's mode decides, not its directory's
		{"ro/new", false, fs.ErrPermission},
		{"new", false, fs.ErrPermission}, // the shared directory: root's
	} {
		if err := s.CheckWritable(tc.rel, tc.exists); tc.err == nil && err != nil || tc.err != nil && !errors.Is(err, tc.err) {
			t.Errorf("CheckWritable(%s, exists %v) = %v, want %v", tc.rel, tc.exists, err, tc.err)
		}
	}
	// A directory the user may pass through but not list is one to IsDir
	// (its open fails: it is stat'ed instead).
	if ok, err := s.IsDir("xonly"); !ok || err != nil {
		t.Errorf("IsDir of a search-only directory = %v, %v; want true", ok, err)
	}
	// CheckReadable likewise, by access(2) on the file.
	for rel, want := range map[string]error{"open/roots": nil, "ro/f": nil, "ro/secret": fs.ErrPermission, "ro/missing": nil} {
		if err := s.CheckReadable(rel); want == nil && err != nil || want != nil && !errors.Is(err, want) {
			t.Errorf("CheckReadable(%s) = %v, want %v", rel, err, want)
		}
	}
}
