package store

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestStatInfo: a raw stat reads as os.Lstat reads the same entry: name,
// size, mode (type and permission bits, setuid, setgid, sticky), time and
// Sys; sameFile tells one inode from another.
func TestStatInfo(t *testing.T) {
	_, dir := newStore(t)
	os.WriteFile(filepath.Join(dir, "f"), []byte("abc"), 0o640)
	os.Chmod(filepath.Join(dir, "f"), 0o4751|fs.ModeSetuid)
	os.Mkdir(filepath.Join(dir, "d"), 0o755)
	os.Chmod(filepath.Join(dir, "d"), 0o1777|fs.ModeSticky|fs.ModeSetgid)
	os.Symlink("f", filepath.Join(dir, "l"))
	syscall.Mkfifo(filepath.Join(dir, "p"), 0o600)
	os.Link(filepath.Join(dir, "f"), filepath.Join(dir, "h"))
	past := time.Date(2020, 1, 2, 3, 4, 5, 6000, time.UTC)
	os.Chtimes(filepath.Join(dir, "f"), past, past)
	d, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	fd := int(d.Fd())
	for _, name := range []string{"f", "d", "l", "p", "h"} {
		got, err := lstatAt(fd, name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want, err := os.Lstat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if got.Name() != want.Name() || got.Size() != want.Size() || got.Mode() != want.Mode() ||
			!got.ModTime().Equal(want.ModTime()) || got.IsDir() != want.IsDir() {
			t.Errorf("%s: %s %d %v %v; os.Lstat: %s %d %v %v", name, got.Name(), got.Size(), got.Mode(), got.ModTime(),
				want.Name(), want.Size(), want.Mode(), want.ModTime())
		}
		if *got.Sys().(*syscall.Stat_t) != *want.Sys().(*syscall.Stat_t) {
			t.Errorf("%s: Sys differs from os.Lstat's", name)
		}
	}
	f, _ := lstatAt(fd, "f")
	h, _ := lstatAt(fd, "h")
	l, _ := lstatAt(fd, "l")
	if !sameFile(&f.st, &h.st) || sameFile(&f.st, &l.st) {
		t.Error("sameFile: a hard link is the same file, a symlink to it is not")
	}
	if _, err := lstatAt(fd, "missing"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing: %v", err)
	}
}

// TestOpenDirSymlink: a directory reached through a symlink inside the
// backing tree is followed (as the os.Root follows it); one that leads
// out of the tree is refused; a file is not a directory.
func TestOpenDirSymlink(t *testing.T) {
	s, dir := newStore(t)
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "secret"), []byte("outside\n"), 0o644)
	os.MkdirAll(filepath.Join(dir, "real"), 0o755)
	os.WriteFile(filepath.Join(dir, "real", "v"), []byte("inside\n"), 0o644)
	os.Symlink("real", filepath.Join(dir, "alias"))
	os.Symlink(outside, filepath.Join(dir, "out"))
	os.WriteFile(filepath.Join(dir, "file"), nil, 0o644)
	if b, err := s.ReadFile("alias/v", 100); err != nil || string(b) != "inside\n" {
		t.Errorf("through a symlink inside the tree: %q, %v", b, err)
	}
	if fi, err := s.Lstat("alias"); err != nil || fi.Mode().Type() != fs.ModeSymlink {
		t.Errorf("Lstat of the symlinked directory, once opened: %v, %v; want the symlink", fi, err)
	}
	if b, err := s.ReadFile("out/secret", 100); err == nil {
		t.Errorf("a symlink out of the tree was followed: %q", b)
	}
	if _, err := s.ReadDir("file"); !errors.Is(err, syscall.ENOTDIR) {
		t.Errorf("listing a file: %v; want ENOTDIR", err)
	}
	// A file reached through a symlink is read as what it points to, but
	// never out of the tree.
	os.Symlink("real/v", filepath.Join(dir, "vlink"))
	os.Symlink(filepath.Join(outside, "secret"), filepath.Join(dir, "slink"))
	if b, err := s.ReadFile("vlink", 100); err != nil || string(b) != "inside\n" {
		t.Errorf("a symlinked file inside the tree: %q, %v", b, err)
	}
	if b, err := s.ReadFile("slink", 100); err == nil {
		t.Errorf("a symlinked file out of the tree was read: %q", b)
	}
	if fi, err := s.Stat("vlink"); err != nil || !fi.Mode().IsRegular() || fi.Size() != 7 {
		t.Errorf("Stat follows a symlink inside the tree: %v, %v", fi, err)
	}
	if _, err := s.Stat("slink"); err == nil {
		t.Error("Stat followed a symlink out of the tree")
	}
}

// TestListDirAgain: listing a kept directory again rewinds it: the second
// listing is the whole directory, with what changed since.
func TestListDirAgain(t *testing.T) {
	s, dir := newStore(t)
	os.MkdirAll(filepath.Join(dir, "d"), 0o755)
	for _, n := range []string{"a", "b", "c"} {
		os.WriteFile(filepath.Join(dir, "d", n), nil, 0o644)
	}
	names := func() []string {
		t.Helper()
		des, err := s.ReadDir("d")
		if err != nil {
			t.Fatal(err)
		}
		var ns []string
		for _, de := range des {
			ns = append(ns, de.Name())
		}
		slices.Sort(ns)
		return ns
	}
	if got := names(); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("first listing %q", got)
	}
	os.WriteFile(filepath.Join(dir, "d", "e"), nil, 0o644)
	if got := names(); !slices.Equal(got, []string{"a", "b", "c", "e"}) {
		t.Errorf("second listing %q, want [a b c e]", got)
	}
	if got := names(); !slices.Equal(got, []string{"a", "b", "c", "e"}) {
		t.Errorf("third listing %q, want [a b c e]", got)
	}
}

// TestIsDir: as Lstat's IsDir for every kind of entry, a directory kept
// open after (its later use costs no second open), a FIFO never opened.
func TestIsDir(t *testing.T) {
	s, dir := newStore(t)
	os.MkdirAll(filepath.Join(dir, "d", "sub"), 0o755)
	os.WriteFile(filepath.Join(dir, "d", "f"), nil, 0o644)
	os.Symlink("sub", filepath.Join(dir, "d", "l"))
	syscall.Mkfifo(filepath.Join(dir, "d", "p"), 0o644)
	for name, want := range map[string]bool{"": true, "d": true, "d/sub": true, "d/f": false, "d/l": false, "d/p": false} {
		got, err := s.IsDir(name)
		if err != nil || got != want {
			t.Errorf("IsDir(%q) = %v, %v; want %v", name, got, err, want)
		}
		if name == "" {
			continue
		}
		fi, err := s.Lstat(name)
		if err != nil || fi.IsDir() != want {
			t.Errorf("Lstat(%q) after IsDir: %v, %v", name, fi, err)
		}
	}
	if _, ok := s.dirs["d/sub"]; !ok {
		t.Error("a directory IsDir opened is not kept")
	}
	if _, ok := s.dirs["d/f"]; ok {
		t.Error("a file is kept as a directory")
	}
	if _, err := s.IsDir("d/none"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing: %v", err)
	}
	if _, err := s.IsDir("d/f/x"); err == nil {
		t.Error("below a file: no error")
	}
	// The kept directory serves the next operation in it.
	if err := s.WriteFile("d/sub/v", []byte("x\n")); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "d", "sub", "v")); err != nil || string(b) != "x\n" {
		t.Errorf("written through the kept directory: %q, %v", b, err)
	}
}

// TestReadLocked: a read waits for a writer's lock on a regular file (it
// is replacing it), and refuses at once a FIFO whose lock someone holds.
func TestReadLocked(t *testing.T) {
	s, dir := newStore(t)
	os.WriteFile(filepath.Join(dir, "f"), []byte("v\n"), 0o644)
	syscall.Mkfifo(filepath.Join(dir, "p"), 0o644)
	hold := func(name string) *os.File {
		f, err := os.OpenFile(filepath.Join(dir, name), os.O_RDWR|syscall.O_NONBLOCK, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
			t.Fatal(err)
		}
		return f
	}
	p := hold("p")
	defer p.Close()
	done := make(chan error, 1)
	go func() { _, err := s.ReadFile("p", 100); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, ErrNotRegular) {
			t.Errorf("a locked FIFO: %v; want %v", err, ErrNotRegular)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a read waits for the lock of a FIFO")
	}
	f := hold("f")
	released := make(chan struct{})
	go func() {
		time.Sleep(100 * time.Millisecond)
		close(released)
		f.Close()
	}()
	b, err := s.ReadFile("f", 100)
	select {
	case <-released:
	default:
		t.Error("a read of a regular file did not wait for the writer's lock")
	}
	if err != nil || string(b) != "v\n" {
		t.Errorf("after the lock: %q, %v", b, err)
	}
}

// TestCloseDirs: CloseDirs closes every directory the store keeps, the
// backing directory's own descriptor included (the os.Root's stays), and
// is harmless on a store that kept none.
func TestCloseDirs(t *testing.T) {
	s, dir := newStore(t)
	s.CloseDirs()
	os.Mkdir(filepath.Join(dir, "a"), 0o755)
	real, _ := filepath.EvalSymlinks(dir)
	at := func() (root, below int) {
		des, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Skipf("no /proc/self/fd: %v", err)
		}
		for _, de := range des {
			target, _ := os.Readlink("/proc/self/fd/" + de.Name())
			switch {
			case target == real:
				root++
			case strings.HasPrefix(target, real+"/"):
				below++
			}
		}
		return root, below
	}
	root0, _ := at()
	for _, d := range []string{".", "a"} {
		if _, err := s.ReadDir(d); err != nil {
			t.Fatal(err)
		}
	}
	if root, below := at(); root != root0+1 || below != 1 {
		t.Fatalf("kept: %d more of the backing directory, %d below it; want 1 and 1", root-root0, below)
	}
	s.CloseDirs()
	if root, below := at(); root != root0 || below != 0 {
		t.Errorf("after CloseDirs: %d more of the backing directory, %d below it", root-root0, below)
	}
	if _, err := s.ReadDir("a"); err != nil {
		t.Errorf("the store after CloseDirs: %v", err)
	}
}

// TestLastLockedFIFO: a FIFO planted as NAME.status, its lock held, is no
// status, at once: Last and ReadResult never wait on it.
func TestLastLockedFIFO(t *testing.T) {
	s, dir := newStore(t)
	os.WriteFile(filepath.Join(dir, "c"), []byte("v\n"), 0o644)
	syscall.Mkfifo(filepath.Join(dir, "c.status"), 0o644)
	p, err := os.OpenFile(filepath.Join(dir, "c.status"), os.O_RDWR|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := syscall.Flock(int(p.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	done := make(chan bool, 2)
	go func() { _, ok := s.Last("c"); done <- ok }()
	go func() { _, _, ok, _ := s.ReadResult("c", 100); done <- ok }()
	for range 2 {
		select {
		case ok := <-done:
			if ok {
				t.Error("a FIFO read as a status")
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a read of the status waits for the lock of a FIFO")
		}
	}
}

// reserveFDs grows the descriptor table without taking or replacing a
// descriptor: one in use at the number it duplicates to stays as it was.
func TestReserveFDs(t *testing.T) {
	count := func() int {
		es, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Skip("no /proc/self/fd")
		}
		return len(es)
	}
	// The table grows (fdSize), unless this test process has grown it
	// already.
	if n := fdSize(); n >= 0 && n < reserveFDsTo {
		reserveFDs()
		if got := fdSize(); got < reserveFDsTo {
			t.Errorf("FDSize %d after reserving, want at least %d (was %d)", got, reserveFDsTo, n)
		}
	}
	f, err := os.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := unix.Dup3(int(f.Fd()), reserveFDsTo-1, unix.O_CLOEXEC); err != nil {
		t.Skipf("cannot place a descriptor at %d: %v", reserveFDsTo-1, err)
	}
	defer unix.Close(reserveFDsTo - 1)
	var before, after unix.Stat_t
	if err := unix.Fstat(reserveFDsTo-1, &before); err != nil {
		t.Fatal(err)
	}
	n := count()
	reserveFDs()
	if got := count(); got != n {
		t.Errorf("descriptors open: %d before, %d after", n, got)
	}
	if err := unix.Fstat(reserveFDsTo-1, &after); err != nil || after.Ino != before.Ino || after.Dev != before.Dev {
		t.Errorf("descriptor %d replaced: %v", reserveFDsTo-1, err)
	}
	unix.Close(reserveFDsTo - 1)
	reserveFDs() // free this time
	if got := count(); got != n-1 {
		t.Errorf("descriptors open after reserving with %d free: %d, want %d", reserveFDsTo-1, got, n-1)
	}
}

// fdSize is the entries of this process's descriptor table (FDSize in
// /proc/self/status), -1 if unknown.
func fdSize() int {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "FDSize:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	return -1
}

// A store that keeps many directories, one after another, uses no
// descriptor beyond the 64 a process's table starts with; one whose
// descriptors reach reserveAbove, as a fan-out's connections push them,
// grows the table to reserveFDsTo entries at once. Run in a new process of
// this test binary. (A new process's table is as large as its parent's
// highest descriptor needed, so only growth is asked of FDSize.)
func TestReserveOnKeep(t *testing.T) {
	if os.Getenv("STORE_RESERVE_DIRS") != "" {
		return // the helper's own run: see TestReserveHelper
	}
	for _, tc := range []struct {
		dirs, below int // directories kept, the first one's descriptor when not 0
		grown       bool
	}{
		{dirs: 4 * maxOpenDirs},
		{dirs: 1, below: reserveAbove - 1},
		{dirs: 1, below: reserveAbove, grown: true},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestReserveHelper$", "-test.v")
		cmd.Env = append(os.Environ(), fmt.Sprintf("STORE_RESERVE_DIRS=%d,%d", tc.dirs, tc.below))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("helper: %v\n%s", err, out)
		}
		var first, size, highest int
		if _, err := fmt.Sscanf(string(out[bytes.Index(out, []byte("FDSize="))+7:]), "%d %d highest=%d", &first, &size, &highest); err != nil {
			t.Fatalf("helper said %q", out)
		}
		switch {
		case tc.grown && first < reserveFDsTo && size != reserveFDsTo:
			t.Errorf("a directory kept at descriptor %d: FDSize %d (was %d), want %d", tc.below, size, first, reserveFDsTo)
		case !tc.grown && size != first:
			t.Errorf("%d directories kept (the first at %d): FDSize %d, was %d: grown", tc.dirs, tc.below, size, first)
		case !tc.grown && tc.below == 0 && highest >= 64:
			t.Errorf("%d directories kept: the highest descriptor was %d, want below 64", tc.dirs, highest)
		}
	}
}

func TestReserveHelper(t *testing.T) {
	var n, below int
	if _, err := fmt.Sscanf(os.Getenv("STORE_RESERVE_DIRS"), "%d,%d", &n, &below); err != nil {
		t.Skip("run by TestReserveOnKeep")
	}
	s, dir := newStore(t)
	s.rootEnt() // the root's descriptor opened before the count
	first := fdSize()
	// Descriptors held up to below-1, as a fan-out's connections: the
	// first directory kept gets descriptor below.
	for below > 0 {
		fd, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(fd)
		if fd >= below-1 {
			break
		}
	}
	highest := 0
	for i := range n {
		name := fmt.Sprintf("d%d", i)
		if err := os.Mkdir(filepath.Join(dir, name), 0o755); err != nil {
			t.Fatal(err)
		}
		if ok, err := s.IsDir(name); !ok || err != nil {
			t.Fatal(name, ok, err)
		}
		s.mu.Lock()
		highest = max(highest, s.dirs[name].fd)
		s.mu.Unlock()
	}
	size := 0
	for range 40 { // the growth runs in the background
		if size = fdSize(); size >= reserveFDsTo {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	fmt.Printf("FDSize=%d %d highest=%d\n", first, size, highest)
}

// TestListDir checks that ListDir lists as ReadDir does, keeps no
// directory it did not keep already, follows a symlinked directory inside
// the tree as openDir does, and names a missing or non-directory path.
func TestListDir(t *testing.T) {
	s, dir := newStore(t)
	for _, f := range []string{"d/sub/a", "d/sub/b", "d/sub/c/x"} {
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(f)), 0o755); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, f), nil, 0o644)
	}
	os.Symlink("sub", filepath.Join(dir, "d", "link"))
	names := func(des []fs.DirEntry) string {
		var n []string
		for _, de := range des {
			n = append(n, de.Name()+fmt.Sprint(de.IsDir()))
		}
		slices.Sort(n)
		return strings.Join(n, " ")
	}
	want := "afalse bfalse ctrue"
	for _, rel := range []string{"d/sub", "d/link"} {
		des, err := s.ListDir(rel)
		if err != nil || names(des) != want {
			t.Errorf("ListDir(%q) = %q, %v; want %q", rel, names(des), err, want)
		}
	}
	if _, ok := s.dirs["d/sub"]; ok {
		t.Error("ListDir kept the directory it listed")
	}
	// A kept directory is listed through its descriptor, again and again.
	if _, err := s.IsDir("d/sub"); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if des, err := s.ListDir("d/sub"); err != nil || names(des) != want {
			t.Errorf("ListDir of a kept directory = %q, %v", names(des), err)
		}
	}
	for _, rel := range []string{"d/none", "d/sub/a"} {
		if _, err := s.ListDir(rel); err == nil || !strings.Contains(err.Error(), rel) {
			t.Errorf("ListDir(%q) = %v, want an error naming it", rel, err)
		}
	}
	if _, err := s.ListDir("d/none"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ListDir of a missing directory: %v, want not exist", err)
	}
}
