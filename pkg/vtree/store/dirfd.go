package store

import (
	"container/list"
	"io/fs"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

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

// maxOpenDirs bounds the directories a store keeps open and does not use
// (Hold): few enough that a command working in the store alone (find,
// cat, ls) stays within the 64 descriptors a process's table starts with
// (see reserveFDs). A directory is kept for the work of one device, which
// uses it a few times in a row; a larger cache saved nearly nothing (a
// steady-state write of 2000 nodes made 20040 openat calls with 256 kept,
// 20156 with 32).
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
	// The limit counts the directories not in use, and e, soon let go:
	// those a fan-out holds (Hold) do not push out the ones every item
	// needs (their parent).
	idle := 0
	if len(s.dirs) > s.limit {
		for _, d := range s.dirs {
			if d.users == 0 || d == e {
				idle++
			}
		}
	}
	for el := s.lru.Back(); idle > s.limit && el != nil; {
		prev := el.Prev()
		k := el.Value.(string)
		if old := s.dirs[k]; old.users == 0 {
			closing = append(closing, old)
			s.lru.Remove(el)
			delete(s.dirs, k)
			idle--
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
