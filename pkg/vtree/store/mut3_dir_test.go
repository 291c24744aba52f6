package store

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// mut3OpenBelow lists the descriptors the process has open on files
// below dir (not dir itself).
func mut3OpenBelow(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		dir = real // as /proc names it
	}
	var out []string
	for _, de := range des {
		if target, err := os.Readlink("/proc/self/fd/" + de.Name()); err == nil && strings.HasPrefix(target, dir+"/") {
			out = append(out, de.Name()+" -> "+target)
		}
	}
	return out
}

// TestMut3NoDescriptorLeft: the directories a store keeps open, opened
// from their parent's descriptor or through the os.Root (a symlinked
// one), and described, listed, read from and asked about any number of
// times, are all closed once forgotten: no descriptor below the backing
// directory is left open.
func TestMut3NoDescriptorLeft(t *testing.T) {
	s, dir := newStore(t)
	dirs := []string{"a", "a/b", "c", "real"}
	for _, d := range dirs {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, d, "v"), []byte("x\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("real", filepath.Join(dir, "alias")); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		for _, d := range append(dirs, "alias") {
			if _, err := s.ReadDir(d); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 3; i++ {
				if _, err := s.Lstat(d); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := s.IsDir(d); err != nil {
				t.Fatal(err)
			}
			if b, err := s.ReadFile(d+"/v", 100); err != nil || string(b) != "x\n" {
				t.Fatalf("%s/v: %q, %v", d, b, err)
			}
		}
		if open := mut3OpenBelow(t, dir); len(open) < len(dirs) {
			t.Fatalf("round %d: %d directories kept open: %q", i, len(open), open)
		}
		s.ForgetAllDirs()
		if open := mut3OpenBelow(t, dir); len(open) > 0 {
			t.Fatalf("round %d: open after the directories were forgotten: %q", i, open)
		}
	}
	s.CloseDirs()
}

// TestMut3IsDirKeptSymlink: a symlink to a directory, kept open through
// the os.Root once a path through it was used, is still no directory to
// IsDir (as to Lstat).
func TestMut3IsDirKeptSymlink(t *testing.T) {
	s, dir := newStore(t)
	if err := os.Mkdir(filepath.Join(dir, "real"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "real", "v"), []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("real", filepath.Join(dir, "alias")); err != nil {
		t.Fatal(err)
	}
	if b, err := s.ReadFile("alias/v", 100); err != nil || string(b) != "x\n" {
		t.Fatalf("alias/v: %q, %v", b, err)
	}
	if e, ok := s.dirs["alias"]; !ok || e.own == nil {
		t.Fatal("the symlinked directory is not kept through the os.Root")
	}
	if got, err := s.IsDir("alias"); err != nil || got {
		t.Errorf("IsDir(alias) = %v, %v; want false (a symlink)", got, err)
	}
	if got, err := s.IsDir("real"); err != nil || !got {
		t.Errorf("IsDir(real) = %v, %v; want true", got, err)
	}
}

// TestMut3SplitJoin: SplitRel cuts at the last slash, even the first
// byte (an absolute path: the directory is ""); JoinRel puts nothing
// before a name in the top directory, spelled "." or "".
func TestMut3SplitJoin(t *testing.T) {
	for _, tc := range []struct{ rel, dir, name string }{
		{"f", ".", "f"},
		{"", ".", ""},
		{"d/f", "d", "f"},
		{"a/b/c", "a/b", "c"},
		{"/f", "", "f"},
		{"/", "", ""},
		{"d/", "d", ""},
	} {
		if dir, name := SplitRel(tc.rel); dir != tc.dir || name != tc.name {
			t.Errorf("SplitRel(%q) = %q, %q; want %q, %q", tc.rel, dir, name, tc.dir, tc.name)
		}
	}
	for _, tc := range []struct{ dir, name, want string }{
		{".", "f", "f"},
		{"", "f", "f"},
		{"d", "f", "d/f"},
		{"a/b", "c", "a/b/c"},
	} {
		if got := JoinRel(tc.dir, tc.name); got != tc.want {
			t.Errorf("JoinRel(%q, %q) = %q, want %q", tc.dir, tc.name, got, tc.want)
		}
	}
}

// TestMut3SweepOnlyFiles: only regular files are swept as leftover
// temporary files: a FIFO under such a name, however old, is not.
func TestMut3SweepOnlyFiles(t *testing.T) {
	s, dir := newStore(t)
	past := time.Now().Add(-time.Hour)
	fifo := filepath.Join(dir, ".~0123456789abcdef")
	file := filepath.Join(dir, ".~fedcba9876543210")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{fifo, file} {
		if err := os.Chtimes(p, past, past); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.ReadFiles(".", []string{"address"}, 100); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(fifo); err != nil {
		t.Errorf("an old FIFO under a temporary name was swept: %v", err)
	}
	if _, err := os.Lstat(file); err == nil {
		t.Error("an old temporary file was not swept")
	}
}

// TestMut3SweepAge: a temporary file is swept only when it is older than
// tempRest, strictly. An age that equals tempRest to the nanosecond is
// arranged with the one value both can hold whatever the clock: the
// shortest Duration, to which the age of a file from 2400 saturates.
func TestMut3SweepAge(t *testing.T) {
	defer func(d time.Duration) { tempRest = d }(tempRest)
	tempRest = time.Duration(math.MinInt64)
	future := time.Date(2400, 1, 1, 0, 0, 0, 0, time.UTC)
	// os.Chtimes cannot set it (nanoseconds since 1970 overflow in 2262).
	// A file system with 32-bit times (ext4 with small inodes) cannot
	// hold 2400; tmpfs can.
	var dir string
	for _, parent := range []string{os.TempDir(), "/dev/shm"} {
		d, err := os.MkdirTemp(parent, "mut3")
		if err != nil {
			continue
		}
		t.Cleanup(func() { os.RemoveAll(d) })
		p := filepath.Join(d, "probe")
		if os.WriteFile(p, nil, 0o600) != nil || mut3SetTime(p, future) != nil {
			continue
		}
		if st, err := os.Lstat(p); err == nil && st.ModTime().Equal(future) && os.Remove(p) == nil {
			dir = d
			break
		}
	}
	if dir == "" {
		t.Skip("no file system here keeps a time in 2400")
	}
	if age := time.Since(future); age != tempRest {
		t.Fatalf("the age of a file from 2400 is %v, not the shortest Duration", age)
	}
	s := mutStoreAt(t, dir)
	p := filepath.Join(dir, ".~0123456789abcdef")
	if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := mut3SetTime(p, future); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReadFiles(".", []string{"address"}, 100); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(p); err != nil {
		t.Errorf("a temporary file exactly tempRest old was swept: %v", err)
	}
}

// mut3SetTime sets the access and modification times of p to at, in
// seconds (a time os.Chtimes cannot express).
func mut3SetTime(p string, at time.Time) error {
	ts := []unix.Timespec{{Sec: at.Unix()}, {Sec: at.Unix()}}
	return unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, 0)
}
