package store

import (
	"math"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// The cases below stop the fstat(2) of fstatFD (syscall.Fstat), which is
// SYS_FSTAT on amd64 (other architectures may stat through another call).

// mut3IsInode reports whether the open descriptor fd is the inode ino.
func mut3IsInode(fd uint64, ino uint64) bool {
	var st syscall.Stat_t
	return syscall.Fstat(int(fd), &st) == nil && st.Ino == ino
}

// TestMut3SpareGoneBeforeStat: what a writer finds under the spare's name
// and does not take as a spare (here a FIFO) is removed only if it is
// still what the writer opened: a file put under the name meanwhile (here
// between the open and its fstat) stays.
func TestMut3SpareGoneBeforeStat(t *testing.T) {
	s, dir := newStore(t)
	f, spare := filepath.Join(dir, "f"), filepath.Join(dir, SparePrefix+"f")
	if err := s.WriteFile("f", []byte("one")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(spare, 0o600); err != nil {
		t.Fatal(err)
	}
	fifo := inode(t, spare)
	planted := filepath.Join(dir, "planted")
	if err := os.WriteFile(planted, []byte("planted"), 0o600); err != nil {
		t.Fatal(err)
	}
	replaced := false
	var err error
	mut3Trap(t, syscall.SYS_FSTAT, func(args [6]uint64) mut3Answer {
		if !replaced && mut3IsInode(args[0], fifo) {
			replaced = os.Rename(planted, spare) == nil
		}
		return mut3Answer{Run: true}
	}, func() { err = s.WriteFile("f", []byte("two")) })
	if !replaced {
		t.Fatal("the FIFO was never stat'ed through a descriptor")
	}
	if b, _ := os.ReadFile(f); err != nil || string(b) != "two" {
		t.Errorf("write: %v; f = %q", err, b)
	}
	if b, err := os.ReadFile(spare); err != nil || string(b) != "planted" {
		t.Errorf("the file put under the spare's name: %q, %v; want it kept", b, err)
	}
}

// TestMut3SpareRestExact: a spare is used once it has rested SpareRest,
// strictly less being too soon: one whose rest equals SpareRest to the
// nanosecond is used. The equality is arranged with the one value both
// can hold whatever the clock: the shortest Duration, to which the rest
// of a spare changed in 2400 saturates (its ctime, which only the kernel
// sets, is changed in the answer to the writer's fstat).
func TestMut3SpareRestExact(t *testing.T) {
	defer func(d time.Duration) { SpareRest = d }(SpareRest)
	SpareRest = 0
	s, dir := newStore(t)
	f, spare := filepath.Join(dir, "f"), filepath.Join(dir, SparePrefix+"f")
	for _, v := range []string{"one", "two"} { // the second leaves a spare
		if err := s.WriteFile("f", []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	sino := inode(t, spare)
	future := time.Date(2400, 1, 1, 0, 0, 0, 0, time.UTC)
	SpareRest = time.Duration(math.MinInt64)
	if rest := time.Since(future); rest != SpareRest {
		t.Fatalf("the rest of a spare changed in 2400 is %v, not the shortest Duration", rest)
	}
	faked := 0
	var err error
	mut3Trap(t, syscall.SYS_FSTAT, func(args [6]uint64) mut3Answer {
		var st syscall.Stat_t
		if errno := syscall.Fstat(int(args[0]), &st); errno != nil || st.Ino != sino {
			return mut3Answer{Run: true}
		}
		st.Ctim = syscall.Timespec{Sec: future.Unix()}
		if mut3WriteMem(args[1], unsafe.Slice((*byte)(unsafe.Pointer(&st)), unsafe.Sizeof(st))) != nil {
			return mut3Answer{Run: true}
		}
		faked++
		return mut3Answer{}
	}, func() { err = s.WriteFile("f", []byte("three")) })
	if faked == 0 {
		t.Fatal("the spare was never stat'ed through a descriptor")
	}
	if b, _ := os.ReadFile(f); err != nil || string(b) != "three" {
		t.Errorf("write: %v; f = %q", err, b)
	}
	if inode(t, f) != sino {
		t.Error("the spare, rested exactly SpareRest, was not used")
	}
}
