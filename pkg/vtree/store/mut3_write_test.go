package store

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/smctl/smctl/internal/testpriv"
)

// TestMut3SpareReplacedAgain: a writer whose spare is replaced each time
// before it gets the spare's lock takes the new one twice, then gives up
// the exchange and writes a new file: the file ends up with the data, in
// none of the spares planted. The test holds each spare's lock until the
// writer waits for it, then puts the next one under the spare's name and
// lets the waited-for one go.
func TestMut3SpareReplacedAgain(t *testing.T) {
	defer func(d time.Duration) { SpareRest = d }(SpareRest)
	SpareRest = 0 // any spare could be used at once
	s, dir := newStore(t)
	f, spare := filepath.Join(dir, "f"), filepath.Join(dir, SparePrefix+"f")
	if err := s.WriteFile("f", []byte("one")); err != nil {
		t.Fatal(err)
	}
	const spares = 4
	var unlock [spares]func()
	var ino [spares]uint64
	names := make([]string, spares)
	for i := range names {
		names[i] = filepath.Join(dir, "s"+string(rune('0'+i)))
		if err := os.WriteFile(names[i], []byte("spare"), 0o600); err != nil {
			t.Fatal(err)
		}
		unlock[i] = holdFlock(t, names[i])
		ino[i] = inode(t, names[i])
		// Held open to the end, the spares' inodes are not reused.
		keep, err := os.Open(names[i])
		if err != nil {
			t.Fatal(err)
		}
		defer keep.Close()
	}
	if err := os.Rename(names[0], spare); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.WriteFile("f", []byte("two")) }()
	for i := 0; i < spares-1; i++ {
		waitFlockWaiter(t, ino[i])
		if err := os.Rename(names[i+1], spare); err != nil {
			t.Fatal(err)
		}
		unlock[i]()
	}
	unlock[spares-1]()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(f); string(b) != "two" {
		t.Errorf("f = %q, want two", b)
	}
	for i, n := range ino {
		if inode(t, f) == n {
			t.Errorf("f is spare %d: a fourth spare was taken", i)
		}
	}
	if inode(t, spare) != ino[spares-1] {
		t.Error("the last spare planted is no longer the spare")
	}
}

// TestMut3ResultGroupOwner: in a directory its group may write, of a
// group other than the writer's, a new result is given the directory's
// group and keeps the writer as its owner; a file written over keeps its
// own group, which a new result's rule does not touch.
func TestMut3ResultGroupOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		testpriv.Need(t, "root, to give a directory another group")
	}
	defer func(d time.Duration) { SpareRest = d }(SpareRest)
	SpareRest = time.Hour // files written over are replaced by new ones renamed over them
	s, dir := newStore(t)
	d := filepath.Join(dir, "dev")
	if err := os.Mkdir(d, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(d, 0, testpriv.Nobody); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(d, 0o775); err != nil {
		t.Fatal(err)
	}
	old := filepath.Join(d, "old")
	if err := os.WriteFile(old, []byte("one"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(old, os.Geteuid(), os.Getegid()); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		uid, gid int
	}{
		{"new", os.Geteuid(), testpriv.Nobody},
		{"old", os.Geteuid(), os.Getegid()},
	} {
		if err := s.WriteFile("dev/"+tc.name, []byte("two")); err != nil {
			t.Fatal(err)
		}
		var st syscall.Stat_t
		if err := syscall.Stat(filepath.Join(d, tc.name), &st); err != nil {
			t.Fatal(err)
		}
		if int(st.Uid) != tc.uid || int(st.Gid) != tc.gid || st.Mode&0o020 == 0 {
			t.Errorf("%s: %d:%d mode %04o, want %d:%d, writable by its group", tc.name, st.Uid, st.Gid, st.Mode&0o777, tc.uid, tc.gid)
		}
	}
}
