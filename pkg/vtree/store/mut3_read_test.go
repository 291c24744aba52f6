package store

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/smctl/smctl/pkg/trust"
	"golang.org/x/sys/unix"
)

// mut3File makes the file name in dir with data and opens it for reading;
// the descriptor is closed when the test ends.
func mut3File(t *testing.T, dir, name, data string) int {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	fd, err := syscall.Open(p, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	return fd
}

// mut3Pipe returns a non-blocking pipe holding data, whose write end stays
// open until the test ends: a read past data fails with EAGAIN instead of
// returning 0, so a reader that reads again after a short read is caught.
func mut3Pipe(t *testing.T, data string) int {
	t.Helper()
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_NONBLOCK|unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(p[0]); syscall.Close(p[1]) })
	if data != "" {
		if n, err := syscall.Write(p[1], []byte(data)); err != nil || n != len(data) {
			t.Fatalf("write to the pipe: %d, %v", n, err)
		}
	}
	return p[0]
}

// TestMut3ReadFDSizes: readFD reads the whole file up to limit whatever
// the size it is given says: a file that grew after its stat is read on
// (one, two or many more buffers), one that shrank is read as it is, an
// unknown size (-1) is no limit, and limit bounds it all, smaller than,
// equal to or larger than the file.
func TestMut3ReadFDSizes(t *testing.T) {
	dir := t.TempDir()
	ten := "0123456789"
	big := strings.Repeat("abcdefgh", 1500) // 12000 bytes: several buffers of an unknown size
	for _, tc := range []struct {
		data        string
		size, limit int64
		want        string
	}{
		{ten, 3, 100, ten},       // grew: the first buffer (4) is full, read on
		{ten, 4, 100, ten},       // grew to twice the first buffer (5): the end is a read of 0
		{ten, 0, 100, ten},       // stat'ed empty, then written
		{ten, -1, 100, ten},      // unknown
		{ten, 3, 6, ten[:6]},     // grew past limit
		{ten, 3, 8, ten[:8]},     // grew, limit reached by the second read exactly
		{ten, 10, 10, ten},       // limit equal to the size
		{ten, 10, 4, ten[:4]},    // limit smaller than the size
		{ten, 10, 11, ten},       // limit one more than the size
		{ten, 20, 100, ten},      // shrank
		{"", 0, 100, ""},         // empty
		{"", -1, 100, ""},        // empty, unknown
		{ten, 10, 0, ""},         // no bytes wanted
		{big, -1, 1 << 20, big},  // unknown, longer than the first buffer
		{big, 100, 1 << 20, big}, // grew to many times its size
		{big, -1, 5000, big[:5000]},
	} {
		fd := mut3File(t, dir, "f", tc.data)
		got, err := readFD(fd, tc.size, tc.limit)
		if err != nil || string(got) != tc.want {
			t.Errorf("%d bytes, size %d, limit %d: %d bytes %q, %v; want %d bytes", len(tc.data), tc.size, tc.limit, len(got), trim(got), err, len(tc.want))
		}
	}
}

// trim shortens b for a message.
func trim(b []byte) string {
	if len(b) > 16 {
		return string(b[:16]) + "..."
	}
	return string(b)
}

// TestMut3ReadFDOneRead: a file whose size is known, or at most 4095 bytes
// when it is not, is read with one read: the read of one byte more than
// the size comes back short, which ends a regular file. A pipe that its
// writer holds open stands for the file here, since a second read of it
// fails (EAGAIN) where a file's would return 0.
func TestMut3ReadFDOneRead(t *testing.T) {
	for _, tc := range []struct {
		data        string
		size, limit int64
		want        string
	}{
		{"a", 1, 100, "a"},
		{"ab", 2, 100, "ab"},
		{"abc", 3, 100, "abc"},
		{"ab", -1, 100, "ab"},       // unknown: one read of up to 4096 bytes
		{"abc", 8, 100, "abc"},      // shrank since its stat
		{"abcdef", 6, 4, "abcd"},    // limit below the size: one read of limit bytes
		{"abcdef", 6, 6, "abcdef"},  // limit equal to the size
		{"abcdef", -1, 6, "abcdef"}, // unknown, limit reached
		{strings.Repeat("x", 4095), -1, 1 << 20, strings.Repeat("x", 4095)},
	} {
		got, err := readFD(mut3Pipe(t, tc.data), tc.size, tc.limit)
		if err != nil || string(got) != tc.want {
			t.Errorf("%q, size %d, limit %d: %q, %v; want %q in one read", trim([]byte(tc.data)), tc.size, tc.limit, trim(got), err, trim([]byte(tc.want)))
		}
	}
}

// TestMut3ReadFDBuffer: readFD's buffer is one byte more than the size
// stat'ed, not a page: the thousands of small files a command reads (an
// empty one above all) cost a few bytes each.
func TestMut3ReadFDBuffer(t *testing.T) {
	dir := t.TempDir()
	for _, data := range []string{"", "0\n", strings.Repeat("x", 100)} {
		fd := mut3File(t, dir, "f", data)
		const runs = 200
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for i := 0; i < runs; i++ {
			if _, err := syscall.Seek(fd, 0, 0); err != nil {
				t.Fatal(err)
			}
			if b, err := readFD(fd, int64(len(data)), 1<<20); err != nil || string(b) != data {
				t.Fatalf("readFD: %q, %v", b, err)
			}
		}
		runtime.ReadMemStats(&after)
		if per := (after.TotalAlloc - before.TotalAlloc) / runs; per > 1024 {
			t.Errorf("a file of %d bytes costs %d bytes of buffer per read", len(data), per)
		}
	}
}

// TestMut3ReadSized: readSized stops at max when the file grew after its
// stat, and reads a file that has not grown with one read (a pipe whose
// writer stays open stands for it: a second read would wait).
func TestMut3ReadSized(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	for _, tc := range []struct {
		data      string
		size, max int64
		want      string
	}{
		{"abcdefghij", 2, 5, "abcde"}, // grew past max
		{"abcdefghij", 2, 3, "abc"},   // the first read reaches max
		{"abcdefghij", 0, 4, "abcd"},
		{"abcdefghij", 9, 10, "abcdefghij"},
	} {
		if err := os.WriteFile(p, []byte(tc.data), 0o644); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		got, err := readSized(f, tc.size, tc.max)
		f.Close()
		if err != nil || string(got) != tc.want {
			t.Errorf("%q size %d max %d: %q, %v; want %q", tc.data, tc.size, tc.max, got, err, tc.want)
		}
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if _, err := w.Write([]byte("ab")); err != nil {
		t.Fatal(err)
	}
	// Only a second read waits for the deadline.
	if err := r.SetReadDeadline(time.Now().Add(2 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if got, err := readSized(r, 2, 10); err != nil || string(got) != "ab" {
		t.Errorf("a file of the size stat'ed: %q, %v; want \"ab\" from one read", got, err)
	}
}

// TestMut3ReadLock: a lock file, which openShared neither locks nor
// stats (its size is unknown), is read whole by ReadFile and ReadResult;
// even a FIFO planted under the name is read as it is, without blocking,
// with one read when it holds less than a page.
func TestMut3ReadLock(t *testing.T) {
	s, dir := newStore(t)
	if err := s.CreateLock(LockName); err != nil {
		t.Fatal(err)
	}
	if b, err := s.ReadFile(LockName, 100); err != nil || string(b) != "1\n" {
		t.Errorf("ReadFile(lock) = %q, %v; want \"1\\n\"", b, err)
	}
	if b, _, ok, err := s.ReadResult(LockName, 100); err != nil || string(b) != "1\n" || ok {
		t.Errorf("ReadResult(lock) = %q, %v, %v; want \"1\\n\" and no status", b, ok, err)
	}

	if err := os.Mkdir(filepath.Join(dir, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "d", LockName)
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	mut3Refused(t, s, "d/"+LockName)
}

// mut3Refused: ReadFile and ReadResult of rel, a FIFO or a symlink to
// one (no writer), return at once with ErrNotRegular: a FIFO planted in
// the tree by anyone who may write a directory of it must not hang a read.
func mut3Refused(t *testing.T, s *Store, rel string) {
	t.Helper()
	for _, read := range []struct {
		name string
		f    func() ([]byte, error)
	}{
		{"ReadFile", func() ([]byte, error) { return s.ReadFile(rel, 100) }},
		{"ReadResult", func() ([]byte, error) {
			b, _, _, err := s.ReadResult(rel, 100)
			return b, err
		}},
	} {
		done := make(chan error, 1)
		go func() { _, err := read.f(); done <- err }()
		select {
		case err := <-done:
			if !errors.Is(err, ErrNotRegular) {
				t.Errorf("%s of %s: %v; want %v", read.name, rel, err, ErrNotRegular)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s of %s waits for a writer", read.name, rel)
		}
	}
}

// TestMut3FIFOs: a FIFO, or a symlink to one inside the tree, is refused
// by reads without waiting for a writer; CheckReadable of one asks
// access(2) and returns at once.
func TestMut3FIFOs(t *testing.T) {
	s, dir := newStore(t)
	if err := syscall.Mkfifo(filepath.Join(dir, "p"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("p", filepath.Join(dir, "l")); err != nil {
		t.Fatal(err)
	}
	mut3Refused(t, s, "p")
	mut3Refused(t, s, "l")
	done := make(chan error, 1)
	go func() { done <- s.CheckReadable("l") }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("CheckReadable of a readable FIFO: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("CheckReadable of a FIFO waits for a writer")
	}
	if err := s.CheckReadable("missing"); err != nil {
		t.Errorf("CheckReadable of a missing file: %v", err)
	}
}

// TestMut3StatMissing: Stat of a missing name is an error wrapping
// fs.ErrNotExist, as Lstat's; of a file or directory, its Lstat.
func TestMut3StatMissing(t *testing.T) {
	s, dir := newStore(t)
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("abc"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, rel := range []string{"none", "d/none", "none/f"} {
		if fi, err := s.Stat(rel); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Stat(%s) = %v, %v; want ErrNotExist", rel, fi, err)
		}
	}
	for _, rel := range []string{"f", "d"} {
		fi, err := s.Stat(rel)
		li, lerr := s.Lstat(rel)
		if err != nil || lerr != nil || fi.Mode() != li.Mode() || fi.Size() != li.Size() {
			t.Errorf("Stat(%s) = %v, %v; Lstat: %v, %v", rel, fi, err, li, lerr)
		}
	}
}

// TestMut3TrustedSymlink: a symlink where a trusted file is expected is
// refused before it is opened: the error names no owner (UID -1), since
// none was judged.
func TestMut3TrustedSymlink(t *testing.T) {
	s, dir := newStore(t)
	if err := os.WriteFile(filepath.Join(dir, "target"), []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("target", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	_, err := s.ReadTrusted("link", 100)
	var te *trust.Error
	if !errors.As(err, &te) || te.UID != -1 || te.Why != "it is a symlink" || strings.Contains(err.Error(), "owner") {
		t.Errorf("ReadTrusted of a symlink: %v; want a trust error with UID -1", err)
	}
}

// TestMut3ReadExchangedAgain: a reader whose file is exchanged each time
// before it gets its lock opens the new one three times, then reads the
// fourth it opened: a writer cannot keep it from reading. The test holds
// each file's lock until the reader waits for it, then puts the next
// file under the name and lets the waited-for file go.
func TestMut3ReadExchangedAgain(t *testing.T) {
	s, dir := newStore(t)
	p := filepath.Join(dir, "f")
	const files = 5
	var unlock [files]func()
	var ino [files]uint64
	for i := 0; i < files; i++ {
		name := p
		if i > 0 {
			name = filepath.Join(dir, "n"+string(rune('0'+i)))
		}
		if err := os.WriteFile(name, []byte{byte('0' + i)}, 0o644); err != nil {
			t.Fatal(err)
		}
		unlock[i] = holdFlock(t, name)
		ino[i] = inode(t, name)
	}
	type res struct {
		b   []byte
		err error
	}
	done := make(chan res, 1)
	go func() {
		b, err := s.ReadFile("f", 100)
		done <- res{b, err}
	}()
	for i := 0; i < files-1; i++ {
		waitFlockWaiter(t, ino[i])
		if err := os.Rename(filepath.Join(dir, "n"+string(rune('1'+i))), p); err != nil {
			t.Fatal(err)
		}
		unlock[i]()
	}
	unlock[files-1]()
	if r := <-done; r.err != nil || string(r.b) != "3" {
		t.Errorf("read = %q, %v; want \"3\", the fourth file opened", r.b, r.err)
	}
}
