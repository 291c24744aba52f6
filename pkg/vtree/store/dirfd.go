package store

import (
	"container/list"
	"io/fs"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// dirEnt is a directory the store keeps open for the life of a command:
// its raw descriptor, opened from its parent's with one openat, so that
// every later operation in it is one *at system call on one name (no walk
// from the root, no os.File per file, and a real O_NOFOLLOW).
type dirEnt struct {
	fd  int
	own *os.File // the descriptor's owner when it came from the os.Root (the root, a symlinked directory)
	// mu serialises listings, which share the descriptor's offset.
	mu     sync.Mutex
	listed bool
	// locked serialises LockDir's holders in this process: the flock on
	// fd is the open description's, which all of them share.
	locked sync.Mutex
	// Under the store's mu:
	info  fs.FileInfo // its Lstat, once asked (Lstat answers from it after)
	mode  fs.FileMode // permission bits of the directory, when known
	users int
	elem  *list.Element
	gone  bool
}

func (e *dirEnt) close() {
	if e.own != nil {
		e.own.Close()
		return
	}
	syscall.Close(e.fd)
}

// maxOpenDirs bounds the directories a store keeps open: few enough that
// a command working in the store alone (find, cat, ls) stays within the
// 64 descriptors a process's table starts with (see reserveFDs). A
// directory is kept for the work of one device, which uses it a few times
// in a row; a larger cache saved nearly nothing (a steady-state write of
// 2000 nodes made 20040 openat calls with 256 kept, 20156 with 32).
const maxOpenDirs = 32

// openDir returns the directory rel, opened once; call release when done
// with its descriptor.
func (s *Store) openDir(rel string) (*dirEnt, func(), error) {
	if rel == "." || rel == "" {
		e, err := s.rootEnt()
		return e, func() {}, err
	}
	s.mu.Lock()
	if e, ok := s.dirs[rel]; ok {
		e.users++
		s.lru.MoveToFront(e.elem)
		s.mu.Unlock()
		return e, func() { s.release(e) }, nil
	}
	s.mu.Unlock()
	// From the parent, itself kept open: one openat per device rather
	// than a walk from the root through every directory above it.
	parent, name := SplitRel(rel)
	p, prelease, err := s.openDir(parent)
	if err != nil {
		return nil, nil, err
	}
	e := &dirEnt{users: 1}
	e.fd, err = openDirAt(p.fd, name)
	prelease()
	if err == syscall.ELOOP || err == syscall.ENOTDIR {
		// A symlink (O_DIRECTORY|O_NOFOLLOW says ENOTDIR for one):
		// followed as the os.Root follows it, never out of the backing
		// tree; a file is not a directory there either.
		e.own, err = s.root.OpenFile(rel, os.O_RDONLY|syscall.O_DIRECTORY, 0)
		if err != nil {
			return nil, nil, err
		}
		e.fd = int(e.own.Fd())
	} else if err != nil {
		return nil, nil, &fs.PathError{Op: "open", Path: rel, Err: err}
	}
	e = s.keep(rel, e)
	return e, func() { s.release(e) }, nil
}

// The kernel grows a process's descriptor table by doubling it (64, 128,
// 256, 512 entries), and in a process of several threads, as every Go
// program is, each growth waits for an RCU grace period: 5 to 25 ms here,
// during which every open of every thread waits too. A command that
// keeps few descriptors never pays it; one whose descriptors reach
// reserveAbove (the connections of a fan-out beside the store's kept
// directories) will go on to hundreds, and grows the table to
// reserveFDsTo entries at once, in the background while the first 64
// last: one wait instead of three.
const (
	reserveAbove = 48
	reserveFDsTo = 512
)

// reserved is set once the table has been grown: it is the process's.
var reserved atomic.Bool

// reserveFDs grows the descriptor table to reserveFDsTo entries, by
// duplicating a descriptor to the lowest free number at or above the
// last one (F_DUPFD never replaces one in use) and closing it.
func reserveFDs() {
	if fd, err := unix.FcntlInt(0, unix.F_DUPFD_CLOEXEC, reserveFDsTo-1); err == nil {
		unix.Close(fd)
	}
}

// keep adds the directory e, just opened as rel with e.users set, to the
// kept ones and returns the one kept: e, or the one another goroutine
// opened meanwhile (then e is closed and its users move over). The least
// recently used unused directories are closed beyond the limit.
func (s *Store) keep(rel string, e *dirEnt) *dirEnt {
	var closing []*dirEnt
	// Descriptors are closed after the lock is released: under it, every
	// worker of a fan-out waited for each close.
	defer func() {
		for _, c := range closing {
			c.close()
		}
	}()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dirs == nil {
		s.dirs, s.lru, s.limit = map[string]*dirEnt{}, list.New(), maxOpenDirs
	}
	if o, ok := s.dirs[rel]; ok {
		closing = append(closing, e)
		o.users += e.users
		s.lru.MoveToFront(o.elem)
		return o
	}
	e.elem = s.lru.PushFront(rel)
	s.dirs[rel] = e
	if e.fd >= reserveAbove && reserved.CompareAndSwap(false, true) {
		go reserveFDs() // while the first 64 descriptors last
	}
	for el := s.lru.Back(); len(s.dirs) > s.limit && el != nil; {
		prev := el.Prev()
		k := el.Value.(string)
		if old := s.dirs[k]; old.users == 0 {
			closing = append(closing, old)
			s.lru.Remove(el)
			delete(s.dirs, k)
		}
		el = prev
	}
	return e
}

// IsDir reports whether rel is a directory, not through a symlink (as
// Lstat's IsDir does): false for any other entry, an error wrapping
// fs.ErrNotExist for none. A directory is opened and kept (one openat,
// which using it needs anyway) rather than stat'ed first; anything else
// costs the one openat that fails (O_DIRECTORY: ENOTDIR, before a FIFO
// or device could be opened).
func (s *Store) IsDir(rel string) (bool, error) {
	if rel == "." || rel == "" {
		return true, nil
	}
	s.mu.Lock()
	e, ok := s.dirs[rel]
	s.mu.Unlock()
	if ok && e.own == nil {
		return true, nil
	}
	if !ok {
		parent, name := SplitRel(rel)
		p, release, err := s.openDir(parent)
		if err != nil {
			return false, err
		}
		fd, err := openDirAt(p.fd, name)
		release()
		switch err {
		case nil:
			s.keep(rel, &dirEnt{fd: fd})
			return true, nil
		case syscall.ENOTDIR, syscall.ELOOP: // a file, a symlink, ...
			return false, nil
		case syscall.ENOENT:
			return false, &fs.PathError{Op: "lstat", Path: rel, Err: err}
		}
		// Not to be opened (a directory it may only search): stat'ed.
	}
	fi, err := s.Lstat(rel)
	if err != nil {
		return false, err
	}
	return fi.IsDir(), nil
}

// rootEnt is the backing directory itself, opened through the os.Root.
func (s *Store) rootEnt() (*dirEnt, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rootDir != nil {
		return s.rootDir, nil
	}
	f, err := s.root.OpenFile(".", os.O_RDONLY|syscall.O_DIRECTORY, 0)
	if err != nil {
		return nil, err
	}
	s.rootDir = &dirEnt{fd: int(f.Fd()), own: f}
	return s.rootDir, nil
}

func (s *Store) release(e *dirEnt) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e.users--
	if e.gone && e.users == 0 {
		e.close()
	}
}

// ForgetDirs closes the cached directories at and below rel (removed or
// replaced); users still holding one close it on release. HasFile's
// answers for the files in them go too.
func (s *Store) ForgetDirs(rel string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.forgetIndexes(rel)
	for k := range s.files {
		if rel == "" || rel == "." || strings.HasPrefix(k, rel+"/") {
			delete(s.files, k)
		}
	}
	for k, e := range s.dirs {
		if k == rel || strings.HasPrefix(k, rel+"/") {
			s.lru.Remove(e.elem)
			delete(s.dirs, k)
			e.gone = true
			if e.users == 0 {
				e.close()
			}
		}
	}
}

// CloseDirs closes every cached directory.
func (s *Store) CloseDirs() {
	s.ForgetDirs("")
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, e := range s.dirs {
		e.close()
		delete(s.dirs, k)
	}
	if s.rootDir != nil {
		s.rootDir.close()
	}
	s.rootDir = nil
}

// ForgetAllDirs closes every directory the store keeps open (after a
// change it may not have seen, such as lost change notifications).
func (s *Store) ForgetAllDirs() {
	s.mu.Lock()
	clear(s.indexes)
	clear(s.files)
	open := make([]string, 0, len(s.dirs))
	for k := range s.dirs {
		open = append(open, k)
	}
	s.mu.Unlock()
	for _, k := range open {
		s.ForgetDirs(k)
	}
}

// listDir lists the directory e (rel) from its kept descriptor: the first
// listing reads from the start, a later one rewinds it first.
func listDir(s *Store, e *dirEnt, rel string) ([]fs.DirEntry, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.listed {
		if _, err := syscall.Seek(e.fd, 0, 0); err != nil {
			return nil, &fs.PathError{Op: "seek", Path: rel, Err: err}
		}
	}
	e.listed = true
	return readDir(s, e.fd, rel)
}

// The raw system calls, each retried on EINTR.

// openDirAt opens the directory name (one element) of the directory dfd,
// never through a symlink (ELOOP).
func openDirAt(dfd int, name string) (int, error) {
	for {
		fd, err := syscall.Openat(dfd, name, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0)
		if err != syscall.EINTR {
			return fd, err
		}
	}
}

// openAt opens the name (one element) of the directory dfd for reading,
// never through a symlink.
func openAt(dfd int, name string) (int, error) {
	return openFlags(dfd, name, syscall.O_RDONLY, 0)
}

// openFlags opens name of dfd with flag plus O_NOFOLLOW, O_NONBLOCK (a
// FIFO planted there cannot block it) and O_CLOEXEC. A name of several
// elements is opened through no symlink at all (openat2).
func openFlags(dfd int, name string, flag int, perm uint32) (int, error) {
	if strings.IndexByte(name, '/') >= 0 {
		return openBeneath(dfd, name, flag)
	}
	for {
		fd, err := syscall.Openat(dfd, name, flag|syscall.O_NOFOLLOW|syscall.O_CLOEXEC|syscall.O_NONBLOCK, perm)
		if err != syscall.EINTR {
			return fd, err
		}
	}
}

// lstatAt describes name of dfd without following a symlink.
func lstatAt(dfd int, name string) (*statInfo, error) {
	fi := &statInfo{name: name}
	for {
		// unix.Stat_t and syscall.Stat_t are the same kernel structure
		// (sizes checked below); the tree's callers know the latter.
		err := unix.Fstatat(dfd, name, (*unix.Stat_t)(unsafe.Pointer(&fi.st)), unix.AT_SYMLINK_NOFOLLOW)
		if err != syscall.EINTR {
			if err != nil {
				return nil, err
			}
			return fi, nil
		}
	}
}

// fstatFD describes the open descriptor fd, named name.
func fstatFD(fd int, name string) (*statInfo, error) {
	fi := &statInfo{name: name}
	if err := syscall.Fstat(fd, &fi.st); err != nil {
		return nil, err
	}
	return fi, nil
}

// The two stat structures are the same size (else this does not compile).
var (
	_ [unsafe.Sizeof(unix.Stat_t{}) - unsafe.Sizeof(syscall.Stat_t{})]byte
	_ [unsafe.Sizeof(syscall.Stat_t{}) - unsafe.Sizeof(unix.Stat_t{})]byte
)

// readFD reads the open regular file fd, whose size was size when it was
// stat'ed (-1: unknown), up to limit bytes. One read of one byte more than
// the size tells the end (a regular file reads short only there); a file
// that grew since is read on.
func readFD(fd int, size, limit int64) ([]byte, error) {
	if size < 0 {
		size = 4095
	}
	buf := make([]byte, max(min(size+1, limit), 1))
	n := 0
	for {
		m, err := syscall.Read(fd, buf[n:])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		n += m
		if m == 0 || n < len(buf) || int64(n) >= limit {
			return buf[:min(int64(n), limit)], nil
		}
		buf = append(buf, make([]byte, min(int64(len(buf)), limit-int64(n)))...)
	}
}

// writeFD writes all of data at the start of fd and cuts the file there.
func writeFD(fd int, data []byte) error {
	for off := 0; off < len(data); {
		n, err := syscall.Pwrite(fd, data[off:], int64(off))
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		off += n
	}
	for {
		err := syscall.Ftruncate(fd, int64(len(data)))
		if err != syscall.EINTR {
			return err
		}
	}
}

// statInfo is an fs.FileInfo of a raw stat; Sys is its *syscall.Stat_t.
type statInfo struct {
	name string
	st   syscall.Stat_t
}

func (fi *statInfo) Name() string       { return fi.name }
func (fi *statInfo) Size() int64        { return fi.st.Size }
func (fi *statInfo) Mode() fs.FileMode  { return ModeOf(fi.st.Mode) }
func (fi *statInfo) ModTime() time.Time { return time.Unix(fi.st.Mtim.Unix()) }
func (fi *statInfo) IsDir() bool        { return fi.Mode().IsDir() }
func (fi *statInfo) Sys() any           { return &fi.st }

// ModeOf is the fs.FileMode of a stat's st_mode, as os.Lstat gives it.
func ModeOf(m uint32) fs.FileMode {
	mode := fs.FileMode(m & 0o777)
	switch m & syscall.S_IFMT {
	case syscall.S_IFBLK:
		mode |= fs.ModeDevice
	case syscall.S_IFCHR:
		mode |= fs.ModeDevice | fs.ModeCharDevice
	case syscall.S_IFDIR:
		mode |= fs.ModeDir
	case syscall.S_IFIFO:
		mode |= fs.ModeNamedPipe
	case syscall.S_IFLNK:
		mode |= fs.ModeSymlink
	case syscall.S_IFSOCK:
		mode |= fs.ModeSocket
	}
	if m&syscall.S_ISGID != 0 {
		mode |= fs.ModeSetgid
	}
	if m&syscall.S_ISUID != 0 {
		mode |= fs.ModeSetuid
	}
	if m&syscall.S_ISVTX != 0 {
		mode |= fs.ModeSticky
	}
	return mode
}

// sameFile reports whether two stats describe the same inode.
func sameFile(a, b *syscall.Stat_t) bool { return a.Dev == b.Dev && a.Ino == b.Ino }
