package store

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestReadBeneath checks that a result read from its directory's parent
// (the directory not kept open) is what the read through the directory
// gives: content and status, stale or not, a symlink, a missing file, a
// directory, a FIFO, a directory that is a symlink on the way; that the
// directory is not kept for it; that a lock file held by a run is read
// without waiting; and that without openat2 the reads still answer.
func TestReadBeneath(t *testing.T) {
	_, dir := newStore(t)
	d := filepath.Join(dir, "top", "d")
	os.MkdirAll(filepath.Join(d, "sub"), 0o755)
	old, newer := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC)
	write := func(name, data string, at time.Time) {
		p := filepath.Join(d, name)
		os.WriteFile(p, []byte(data), 0o644)
		os.Chtimes(p, at, at)
	}
	write("c", "v\n", newer)
	write("c.status", "0\nran: x\n", old)
	write("s", "w\n", old)
	write("s.status", "4 gone\nstale: the content is from an earlier run\n", newer)
	write("lock", "", old)
	os.Symlink("c", filepath.Join(d, "l"))
	syscall.Mkfifo(filepath.Join(d, "fifo"), 0o644)
	os.Symlink("d", filepath.Join(dir, "top", "alias"))
	lock, err := os.Open(filepath.Join(d, "lock"))
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	for _, off := range []bool{false, true} {
		beneath.Store(!off)
		for _, rel := range []string{"top/d/c", "top/d/s", "top/d/l", "top/d/none", "top/d/sub", "top/d/fifo", "top/d/lock", "top/alias/c"} {
			fresh, _ := newStoreAt(t, dir)
			done := make(chan struct{})
			var (
				b   []byte
				l   Last
				ok  bool
				err error
			)
			go func() { b, l, ok, err = fresh.ReadResult(rel, 100); close(done) }()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatalf("ReadResult(%s) blocked", rel)
			}
			if _, kept := fresh.dirs[filepath.Dir(rel)]; kept && !off && rel != "top/alias/c" && rel != "top/d/l" && err == nil {
				t.Errorf("%s: its directory was kept open", rel)
			}
			kept, _ := newStoreAt(t, dir)
			kept.IsDir(filepath.Dir(rel)) // the directory kept: read through it
			wb, wl, wok, werr := kept.ReadResult(rel, 100)
			if string(b) != string(wb) || (err == nil) != (werr == nil) || ok != wok || l != wl {
				t.Errorf("openat2 %v, %s: %q %+v %v %v; through the directory: %q %+v %v %v", !off, rel, b, l, ok, err, wb, wl, wok, werr)
			}
		}
	}
	beneath.Store(true)
}

// TestOpenBeneath checks openBeneath's refusals: a symlink on the way or
// at the end, "..", and a path leaving the directory.
func TestOpenBeneath(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "a", "b"), 0o755)
	os.WriteFile(filepath.Join(dir, "a", "b", "f"), []byte("x"), 0o644)
	os.Symlink("b", filepath.Join(dir, "a", "lb"))
	os.Symlink("f", filepath.Join(dir, "a", "b", "lf"))
	dfd, err := syscall.Open(dir, syscall.O_RDONLY|syscall.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(dfd)
	fd, err := openBeneath(dfd, "a/b/f", syscall.O_RDONLY)
	if err != nil {
		t.Fatalf("a/b/f: %v", err)
	}
	syscall.Close(fd)
	for _, p := range []string{"a/lb/f", "a/b/lf", "a/../a/b/f", "a/b/../../../x", "/etc/passwd/x"} {
		if fd, err := openBeneath(dfd, p, syscall.O_RDONLY); err == nil {
			syscall.Close(fd)
			t.Errorf("%s: opened", p)
		}
	}
}
