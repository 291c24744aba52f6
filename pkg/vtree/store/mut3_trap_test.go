package store

import (
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/smctl/smctl/internal/testpriv"
	"golang.org/x/sys/unix"
)

// Some cases need the kernel to answer one system call otherwise than it
// would here: a file system that gives no entry types, one without
// renameat2's exchange, a file replaced at one exact point. mut3Trap stops
// a system call of one thread with a seccomp filter (SECCOMP_RET_USER_NOTIF)
// and answers it from another thread of the process, which shares the
// descriptors and the memory of the stopped one.

// mut3Notif is struct seccomp_notif: one stopped system call.
type mut3Notif struct {
	ID    uint64
	Pid   uint32
	Flags uint32
	Nr    int32
	Arch  uint32
	IP    uint64
	Args  [6]uint64
}

// mut3Resp is struct seccomp_notif_resp: what the stopped call returns.
type mut3Resp struct {
	ID    uint64
	Val   int64
	Error int32
	Flags uint32
}

// mut3Answer is what a trapped call returns: Val, or the error Errno; or,
// with Run, the call runs as it would have.
type mut3Answer struct {
	Val   int64
	Errno syscall.Errno
	Run   bool
}

// mut3Trap runs fn on a thread of its own on which every call of the
// system call nr stops before the kernel runs it; answer, called on
// another thread with the call's arguments (in the order of the calls),
// says what it returns. It returns once fn has returned. The thread ends
// with fn (it is never given back to the scheduler), and its filter with
// it. fn must not stop the test (t.Fatal): it runs on a goroutine of its
// own.
func mut3Trap(t *testing.T, nr uintptr, answer func(args [6]uint64) mut3Answer, fn func()) {
	t.Helper()
	filter := []unix.SockFilter{
		{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: 0}, // seccomp_data.nr
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: 0, Jf: 1, K: uint32(nr)},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_USER_NOTIF},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ALLOW},
	}
	prog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	listener := make(chan int, 1)
	var installErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // never unlocked: the thread ends with this goroutine
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			installErr = err
			listener <- -1
			return
		}
		fd, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER,
			unix.SECCOMP_FILTER_FLAG_NEW_LISTENER, uintptr(unsafe.Pointer(&prog)))
		if errno != 0 {
			installErr = errno
			listener <- -1
			return
		}
		listener <- int(fd)
		fn()
	}()
	lfd := <-listener
	if lfd < 0 {
		<-done
		testpriv.Need(t, "seccomp user notification ("+installErr.Error()+")")
	}
	defer syscall.Close(lfd)
	for {
		select {
		case <-done:
			return
		default:
		}
		pfd := []unix.PollFd{{Fd: int32(lfd), Events: unix.POLLIN}}
		if n, err := unix.Poll(pfd, 20); err != nil && err != unix.EINTR {
			t.Fatalf("poll of the seccomp listener: %v", err)
		} else if n == 0 || pfd[0].Revents&unix.POLLIN == 0 {
			continue
		}
		var n mut3Notif
		if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(lfd), unix.SECCOMP_IOCTL_NOTIF_RECV, uintptr(unsafe.Pointer(&n))); errno != 0 {
			continue // the call was interrupted meanwhile: it comes again
		}
		a := answer(n.Args)
		r := mut3Resp{ID: n.ID, Val: a.Val, Error: -int32(a.Errno)}
		if a.Run {
			r = mut3Resp{ID: n.ID, Flags: unix.SECCOMP_USER_NOTIF_FLAG_CONTINUE}
		}
		// An error here (ENOENT) means the call was interrupted: it is
		// made again, and answered again.
		unix.Syscall(unix.SYS_IOCTL, uintptr(lfd), unix.SECCOMP_IOCTL_NOTIF_SEND, uintptr(unsafe.Pointer(&r)))
	}
}

// mut3WriteMem writes b at the address addr of the process's memory, the
// buffer a stopped system call was given.
func mut3WriteMem(addr uint64, b []byte) error {
	f, err := os.OpenFile("/proc/self/mem", os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.WriteAt(b, int64(addr))
	return err
}

// mut3Getdents answers a stopped getdents64 call (fd, buffer, size) as
// the kernel would, then lets edit change the records it read: the
// records are read with the same descriptor, from the other thread.
// Records read for a call that was interrupted before its answer are
// given to the call made again.
func mut3Getdents(edit func(recs []byte) []byte) func(args [6]uint64) mut3Answer {
	var mu sync.Mutex
	var pending []byte
	return func(args [6]uint64) mut3Answer {
		mu.Lock()
		defer mu.Unlock()
		if pending == nil {
			buf := make([]byte, args[2])
			n, err := unix.Getdents(int(args[0]), buf)
			if err != nil {
				return mut3Answer{Errno: err.(syscall.Errno)}
			}
			if n == 0 {
				return mut3Answer{}
			}
			pending = edit(buf[:n])
		}
		if err := mut3WriteMem(args[1], pending); err != nil {
			return mut3Answer{Errno: syscall.EFAULT}
		}
		out := pending
		pending = nil
		return mut3Answer{Val: int64(len(out))}
	}
}

// mut3Listing is the names and types of a directory listing, sorted.
func mut3Listing(des []fs.DirEntry) []string {
	var out []string
	for _, de := range des {
		out = append(out, de.Name()+" "+de.Type().String())
	}
	slices.Sort(out)
	return out
}

// TestMut3ListUnknownTypes: on a file system that gives no entry types
// (DT_UNKNOWN in every record, as XFS without ftype or some network file
// systems), ReadDir stats each entry for its type: the listing is the one
// os.ReadDir gives, directories, symlinks and FIFOs included.
func TestMut3ListUnknownTypes(t *testing.T) {
	s, dir := newStore(t)
	d := filepath.Join(dir, "d")
	for _, sub := range []string{"d", "d/sub"} {
		if err := os.Mkdir(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(d, "f"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("sub", filepath.Join(d, "l")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(d, "p"), 0o644); err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadDir(d)
	if err != nil {
		t.Fatal(err)
	}
	unknown := 0
	var got []fs.DirEntry
	var gerr error
	mut3Trap(t, unix.SYS_GETDENTS64, mut3Getdents(func(recs []byte) []byte {
		for b := recs; len(b) >= 19; {
			reclen := int(*(*uint16)(unsafe.Pointer(&b[16])))
			b[18] = syscall.DT_UNKNOWN
			unknown++
			b = b[reclen:]
		}
		return recs
	}), func() { got, gerr = s.ReadDir("d") })
	if unknown == 0 {
		t.Fatal("no entry was listed without its type")
	}
	if g, w := mut3Listing(got), mut3Listing(want); gerr != nil || !slices.Equal(g, w) {
		t.Errorf("listing without types: %q, %v; want %q", g, gerr, w)
	}
}

// TestMut3ListMalformed: a record that cannot be one (shorter than its
// header, or longer than what getdents returned) ends the parse of what
// getdents returned: the entries before it are listed, nothing is read
// outside the records.
func TestMut3ListMalformed(t *testing.T) {
	for _, reclen := range []uint16{8, 200} {
		t.Run("reclen "+strconv.Itoa(int(reclen)), func(t *testing.T) {
			s, dir := newStore(t)
			d := filepath.Join(dir, "d")
			if err := os.Mkdir(d, 0o755); err != nil {
				t.Fatal(err)
			}
			for _, n := range []string{"a", "b", "c"} {
				if err := os.WriteFile(filepath.Join(d, n), nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadDir(d)
			if err != nil {
				t.Fatal(err)
			}
			var got []fs.DirEntry
			var gerr error
			mut3Trap(t, unix.SYS_GETDENTS64, mut3Getdents(func(recs []byte) []byte {
				bad := make([]byte, 24)
				*(*uint16)(unsafe.Pointer(&bad[16])) = reclen
				bad[18] = syscall.DT_REG
				copy(bad[19:], "zz")
				return append(recs, bad...)
			}), func() { got, gerr = s.ReadDir("d") })
			if g, w := mut3Listing(got), mut3Listing(want); gerr != nil || !slices.Equal(g, w) {
				t.Errorf("listing ending in a record of length %d: %q, %v; want %q", reclen, g, gerr, w)
			}
		})
	}
}

// TestMut3NoExchange: where renameat2 cannot exchange two names (EINVAL:
// the file system does not know the flag; ENOSYS: no renameat2; ENOTSUP),
// a write over an existing file falls back to a new file renamed over it.
func TestMut3NoExchange(t *testing.T) {
	defer func(d time.Duration) { SpareRest = d }(SpareRest)
	SpareRest = 0
	for _, errno := range []syscall.Errno{unix.EINVAL, unix.ENOSYS, unix.ENOTSUP} {
		t.Run(errno.Error(), func(t *testing.T) {
			s, dir := newStore(t)
			f := filepath.Join(dir, "f")
			for _, v := range []string{"one", "two"} { // the second leaves a spare
				if err := s.WriteFile("f", []byte(v)); err != nil {
					t.Fatal(err)
				}
			}
			spare := inode(t, filepath.Join(dir, SparePrefix+"f"))
			exchanges := 0
			var err error
			mut3Trap(t, unix.SYS_RENAMEAT2, func(args [6]uint64) mut3Answer {
				if args[4]&unix.RENAME_EXCHANGE == 0 {
					return mut3Answer{Run: true}
				}
				exchanges++
				return mut3Answer{Errno: errno}
			}, func() { err = s.WriteFile("f", []byte("three")) })
			if exchanges == 0 {
				t.Fatal("no exchange was tried")
			}
			if b, _ := os.ReadFile(f); err != nil || string(b) != "three" {
				t.Errorf("write where exchange fails with %v: %v; f = %q", errno, err, b)
			}
			if inode(t, f) == spare {
				t.Error("f is the former spare: it was exchanged")
			}
		})
	}
}
