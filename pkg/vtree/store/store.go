// Package store is the backing tree of a smctl state root: a real
// directory whose file contents are the last values read or written. All
// access goes through an os.Root, so symlinks in the backing tree cannot
// lead outside it; files that decide what smctl runs are read and written
// under the trust rules (pkg/trust); results are replaced atomically, by
// renaming a temporary file or exchanging a spare, so readers never see a
// torn value.
package store

import (
	"container/list"
	"errors"
	"io/fs"
	"os"
	"strings"
	"sync"
	"syscall"
)

// Names with a meaning to the store.
const (
	IDsName      = "ids"  // credentials: written 0600, never exchanged
	LockName     = "lock" // lock files: flocked, never exchanged
	StatusSuffix = ".status"
	StderrSuffix = ".stderr" // a command's whole standard error
	// MaxName is the longest name whose NAME.status still fits NAME_MAX.
	MaxName = 255 - len(StatusSuffix)
)

// Store is the backing tree.
type Store struct {
	root *os.Root
	dir  string
	// trusted reports the names of files that decide what smctl runs or
	// where it connects (.type, ids, attribute files): they are written
	// with a new inode owned by the writer, never group- or
	// other-writable, and never through a spare. Its arguments are the
	// file's directory (relative to the store) and name.
	Trusted func(dir, name string) bool

	// dirs keeps directories open for the life of a command (bounded,
	// least recently used first out), so that the many small operations
	// on one device are each one system call relative to it instead of a
	// walk from the root.
	mu      sync.Mutex
	rootDot *dirEnt // the root's descriptor for dirFD (its r is root)
	dirs    map[string]*dirEnt
	lru     *list.List
	limit   int
}

type dirEnt struct {
	r     *os.Root
	dot   *os.File    // the directory itself, for raw *at calls (dirFD), once asked
	info  fs.FileInfo // its Lstat, once asked (Lstat answers from it after)
	mode  fs.FileMode // permission bits of the directory, when known
	users int
	elem  *list.Element
	gone  bool
}

// newFileMode is the mode a new file gets (0666 less the umask), known
// without asking the file system after each create.
var newFileMode = func() fs.FileMode {
	m := syscall.Umask(0)
	syscall.Umask(m)
	return fs.FileMode(0o666 &^ m)
}()

// maxOpenDirs bounds the directories a store keeps open.
const maxOpenDirs = 256

// openDir returns the directory rel, opened once; call release when done.
func (s *Store) openDir(rel string) (*os.Root, func(), error) {
	if rel == "." || rel == "" {
		return s.root, func() {}, nil
	}
	s.mu.Lock()
	if s.dirs == nil {
		s.dirs, s.lru, s.limit = map[string]*dirEnt{}, list.New(), maxOpenDirs
	}
	if e, ok := s.dirs[rel]; ok {
		e.users++
		s.lru.MoveToFront(e.elem)
		s.mu.Unlock()
		return e.r, func() { s.release(e) }, nil
	}
	s.mu.Unlock()
	// From the parent, itself kept open: one openat per device rather
	// than a walk from the root through every directory above it.
	parent, name := SplitRel(rel)
	p, prelease, err := s.openDir(parent)
	if err != nil {
		return nil, nil, err
	}
	r, err := p.OpenRoot(name)
	prelease()
	if err != nil {
		return nil, nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.dirs[rel]; ok { // opened meanwhile by another goroutine
		r.Close()
		e.users++
		s.lru.MoveToFront(e.elem)
		return e.r, func() { s.release(e) }, nil
	}
	e := &dirEnt{r: r, users: 1}
	e.elem = s.lru.PushFront(rel)
	s.dirs[rel] = e
	for el := s.lru.Back(); len(s.dirs) > s.limit && el != nil; {
		prev := el.Prev()
		k := el.Value.(string)
		if old := s.dirs[k]; old.users == 0 {
			old.close()
			s.lru.Remove(el)
			delete(s.dirs, k)
		}
		el = prev
	}
	return e.r, func() { s.release(e) }, nil
}

// dirMode returns the permission bits of the directory rel (0 if unknown),
// looked up once per command (dirStat keeps them).
func (s *Store) dirMode(rel string) fs.FileMode {
	s.mu.Lock()
	e, ok := s.dirs[rel]
	if ok && e.mode != 0 {
		m := e.mode
		s.mu.Unlock()
		return m
	}
	s.mu.Unlock()
	st, err := s.DirStat(rel)
	if err != nil {
		return 0
	}
	return fs.FileMode(st.Mode&0o777) | fs.ModeDir // ModeDir marks "known" even for mode 0
}

// dirStat describes the directory rel itself: one fstatat of "." on its
// open descriptor, the directory every later operation in it is relative
// to. Its mode is kept for dirMode.
func (s *Store) DirStat(rel string) (*syscall.Stat_t, error) {
	d, release, err := s.openDir(rel)
	if err != nil {
		return nil, err
	}
	defer release()
	fi, err := d.Stat(".")
	if err != nil {
		return nil, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil, errors.New("no stat")
	}
	s.mu.Lock()
	if e, ok := s.dirs[rel]; ok {
		e.mode = fs.FileMode(st.Mode&0o777) | fs.ModeDir
	}
	s.mu.Unlock()
	return st, nil
}

func (s *Store) release(e *dirEnt) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e.users--
	if e.gone && e.users == 0 {
		e.close()
	}
}

// forgetDirs closes the cached directories at and below rel (removed or
// replaced); users still holding one close it on release.
func (s *Store) ForgetDirs(rel string) {
	s.mu.Lock()
	defer s.mu.Unlock()
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

// closeDirs closes every cached directory.
func (s *Store) CloseDirs() {
	s.ForgetDirs("")
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, e := range s.dirs {
		e.close()
		delete(s.dirs, k)
	}
	if s.rootDot != nil && s.rootDot.dot != nil {
		s.rootDot.dot.Close()
	}
	s.rootDot = nil
}

// inDir runs fn on the directory of rel and the name in it.
func (s *Store) inDir(rel string, fn func(d *os.Root, name string) error) error {
	dir, name := SplitRel(rel)
	d, release, err := s.openDir(dir)
	if err != nil {
		return err
	}
	defer release()
	return fn(d, name)
}

// Lstat describes rel without following a final symlink. A directory the
// store keeps open is described once per command: a path lookup through
// /systems/servers for each of 2000 devices stats those two once.
func (s *Store) Lstat(rel string) (fi fs.FileInfo, err error) {
	s.mu.Lock()
	if e, ok := s.dirs[rel]; ok && e.info != nil {
		fi = e.info
	}
	s.mu.Unlock()
	if fi != nil {
		return fi, nil
	}
	err = s.inDir(rel, func(d *os.Root, name string) error {
		fi, err = d.Lstat(name)
		return err
	})
	if err == nil && fi.IsDir() {
		s.mu.Lock()
		if e, ok := s.dirs[rel]; ok {
			e.info = fi
		}
		s.mu.Unlock()
	}
	return fi, err
}

func (s *Store) Stat(rel string) (fi fs.FileInfo, err error) {
	err = s.inDir(rel, func(d *os.Root, name string) error {
		fi, err = d.Stat(name)
		return err
	})
	return fi, err
}

func (s *Store) ReadFile(rel string, max int64) (b []byte, err error) {
	err = s.inDir(rel, func(d *os.Root, name string) error {
		f, size, err := openShared(d, name)
		if err != nil {
			return err
		}
		defer f.Close()
		b, err = readSized(f, size, max)
		return err
	})
	return b, err
}

// openShared opens name for reading under a shared flock, so that a writer
// cannot recycle the inode (see exchange) while it is read; if name was
// exchanged before the lock was taken, it opens the new one.
// The size returned is the file's when it was locked (-1 if unknown).
func openShared(d *os.Root, name string) (*os.File, int64, error) {
	for attempt := 0; ; attempt++ {
		f, err := d.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
		if err != nil || name == LockName { // lock files are never exchanged
			return f, -1, err
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH); err != nil {
			return f, -1, nil // no flock here (some file systems): read as is
		}
		fst, err1 := f.Stat()
		lst, err2 := d.Lstat(name)
		if attempt >= 3 || err1 != nil || err2 != nil || os.SameFile(fst, lst) {
			size := int64(-1)
			if err1 == nil {
				size = fst.Size()
			}
			return f, size, nil
		}
		f.Close()
	}
}

func (s *Store) ReadDir(rel string) ([]fs.DirEntry, error) {
	d, dfd, release, err := s.dirFD(rel)
	if err != nil {
		return nil, err
	}
	defer release()
	return listDir(d, dfd, rel)
}

// checkReadable fails if the current user may not read the existing file.
func (s *Store) CheckReadable(rel string) error {
	f, err := s.root.Open(rel)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	return f.Close()
}

// lockDir takes an exclusive flock on the directory dir until the returned
// function is called: a file's content and its status are stored under it,
// so that they always come from the same run.
func (s *Store) LockDir(dir string) (func(), error) {
	d, dfd, release, err := s.dirFD(dir)
	if err != nil {
		return nil, err
	}
	defer release()
	if dfd < 0 {
		f, err := d.OpenFile(".", os.O_RDONLY|syscall.O_NONBLOCK, 0)
		if err != nil {
			return nil, err
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
			f.Close()
			return func() {}, nil // no flock on this file system
		}
		return func() { f.Close() }, nil
	}
	// A description of its own (flock locks belong to one), raw.
	fd, err := syscall.Openat(dfd, ".", syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: dir, Err: err}
	}
	for {
		err = syscall.Flock(fd, syscall.LOCK_EX)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		syscall.Close(fd)
		return func() {}, nil // no flock on this file system
	}
	return func() { syscall.Close(fd) }, nil
}

func SplitRel(rel string) (string, string) {
	for i := len(rel) - 1; i >= 0; i-- {
		if rel[i] == '/' {
			return rel[:i], rel[i+1:]
		}
	}
	return ".", rel
}

func JoinRel(dir, name string) string {
	if dir == "." || dir == "" {
		return name
	}
	return dir + "/" + name
}

// New returns the store of the backing directory dir, opened as root.
func New(root *os.Root, dir string) *Store { return &Store{root: root, dir: dir} }

// Root is the backing directory, for operations of whole directories
// (making and removing devices).
func (s *Store) Root() *os.Root { return s.root }

// Dir is the backing directory's path.
func (s *Store) Dir() string { return s.dir }

// NewFileMode is the mode a new file gets: 0666 less the umask the
// process started with.
func NewFileMode() fs.FileMode { return newFileMode }

// ForgetAllDirs closes every directory the store keeps open (after a
// change it may not have seen, such as lost change notifications).
func (s *Store) ForgetAllDirs() {
	s.mu.Lock()
	open := make([]string, 0, len(s.dirs))
	for k := range s.dirs {
		open = append(open, k)
	}
	s.mu.Unlock()
	for _, k := range open {
		s.ForgetDirs(k)
	}
}
