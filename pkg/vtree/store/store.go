// Package store is the backing tree of a smctl state root: a real
// directory whose file contents are the last values read or written. All
// access is relative to descriptors of its directories, opened from the
// root down, never through a symlink (one in the tree is followed only
// through an os.Root, which keeps it inside), so symlinks in the backing
// tree cannot lead outside it; files that decide what smctl runs are read and written
// under the trust rules (pkg/trust); results are replaced atomically, by
// renaming a temporary file or exchanging a spare, so readers never see a
// torn value.
package store

import (
	"container/list"
	"errors"
	"io/fs"
	"os"
	"path"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
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
	// walk from the root (see dirfd.go).
	mu      sync.Mutex
	rootDir *dirEnt
	dirs    map[string]*dirEnt
	lru     *list.List
	limit   int
	indexes map[string]index      // device indexes read, by directory
	written map[string]indexState // device indexes as this store wrote them
	files   map[string]bool       // HasFile's answers, by path
}

// newFileMode is the mode a new file gets (0666 less the umask), known
// without asking the file system after each create.
var newFileMode = func() fs.FileMode {
	m := syscall.Umask(0)
	syscall.Umask(m)
	return fs.FileMode(0o666 &^ m)
}()

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

// DirStat describes the directory rel itself: one fstat of its open
// descriptor, the directory every later operation in it is relative to.
// Its mode is kept for dirMode.
func (s *Store) DirStat(rel string) (*syscall.Stat_t, error) {
	e, release, err := s.openDir(rel)
	if err != nil {
		return nil, err
	}
	defer release()
	fi, err := fstatFD(e.fd, rel)
	if err != nil {
		return nil, &fs.PathError{Op: "stat", Path: rel, Err: err}
	}
	s.mu.Lock()
	e.mode = fs.FileMode(fi.st.Mode&0o777) | fs.ModeDir
	s.mu.Unlock()
	return &fi.st, nil
}

// Lstat describes rel without following a final symlink. A directory the
// store keeps open is described once per command (from its descriptor): a
// path lookup through /systems/servers for each of 2000 devices stats
// those two once.
func (s *Store) Lstat(rel string) (fs.FileInfo, error) {
	s.mu.Lock()
	e, ok := s.dirs[rel]
	if ok && e.info != nil {
		fi := e.info
		s.mu.Unlock()
		return fi, nil
	}
	if ok {
		e.users++
	}
	s.mu.Unlock()
	if ok {
		defer s.release(e)
		fi, err := fstatFD(e.fd, path.Base(rel))
		if err != nil {
			return nil, &fs.PathError{Op: "lstat", Path: rel, Err: err}
		}
		if fi.IsDir() && e.own == nil { // a symlinked directory is described as the symlink
			s.mu.Lock()
			e.info = fi
			s.mu.Unlock()
			return fi, nil
		}
	}
	dir, name := SplitRel(rel)
	d, release, err := s.openDir(dir)
	if err != nil {
		return nil, err
	}
	defer release()
	fi, err := lstatAt(d.fd, name)
	if err != nil {
		return nil, &fs.PathError{Op: "lstat", Path: rel, Err: err}
	}
	return fi, nil
}

// Stat describes rel, following a symlink (never out of the backing tree).
func (s *Store) Stat(rel string) (fs.FileInfo, error) {
	fi, err := s.Lstat(rel)
	if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		return fi, err
	}
	return s.root.Stat(rel)
}

// ReadFile reads up to max bytes of rel, under a shared lock (see
// openShared). Only a regular file is read: a FIFO or device planted in
// the tree is refused, never waited on.
func (s *Store) ReadFile(rel string, max int64) ([]byte, error) {
	dir, name := SplitRel(rel)
	d, release, err := s.openDir(dir)
	if err != nil {
		return nil, err
	}
	defer release()
	b, _, err := readShared(d.fd, name, rel, max)
	if err == syscall.ELOOP {
		return s.readLink(rel, max)
	}
	return b, err
}

// readLink reads the symlink rel as ReadFile does: what it points to,
// never out of the tree.
func (s *Store) readLink(rel string, max int64) ([]byte, error) {
	f, err := s.root.OpenFile(rel, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if err := regular(fi.Sys().(*syscall.Stat_t), rel); err != nil {
		return nil, err
	}
	_ = syscall.Flock(int(f.Fd()), syscall.LOCK_SH)
	return readSized(f, fi.Size(), max)
}

// ErrNotRegular is wrapped by the error for reading an entry of the
// backing tree that is neither a regular file nor a directory.
var ErrNotRegular = errors.New("not a regular file")

// regular fails unless st is a regular file's: a directory is EISDIR,
// anything else ErrNotRegular.
func regular(st *syscall.Stat_t, rel string) error {
	switch st.Mode & syscall.S_IFMT {
	case syscall.S_IFREG:
		return nil
	case syscall.S_IFDIR:
		return &fs.PathError{Op: "read", Path: rel, Err: syscall.EISDIR}
	}
	return &fs.PathError{Op: "read", Path: rel, Err: ErrNotRegular}
}

// readShared reads up to max bytes of the regular file name of the
// directory dfd (rel in messages) under a shared lock, and returns its
// stat; ELOOP (bare) for a symlink.
func readShared(dfd int, name, rel string, max int64) ([]byte, *syscall.Stat_t, error) {
	fd, st, err := openShared(dfd, name)
	if err == syscall.ELOOP {
		return nil, nil, err
	}
	if err != nil {
		return nil, nil, &fs.PathError{Op: "open", Path: rel, Err: err}
	}
	defer syscall.Close(fd)
	if err := regular(st, rel); err != nil {
		return nil, nil, err
	}
	b, err := readFD(fd, st.Size, max)
	if err != nil {
		return nil, nil, &fs.PathError{Op: "read", Path: rel, Err: err}
	}
	return b, st, nil
}

// openShared opens name of the directory dfd for reading (never through
// a symlink: ELOOP) under a shared flock, so that a writer cannot recycle
// the inode (see exchange) while it is read; if name was exchanged before
// the lock was taken, it opens the new one. The stat returned is the
// file's when it was locked.
func openShared(dfd int, name string) (int, *syscall.Stat_t, error) {
	for attempt := 0; ; attempt++ {
		fd, err := openAt(dfd, name)
		if err != nil {
			return fd, nil, err
		}
		var st syscall.Stat_t
		stat := func() (int, *syscall.Stat_t, error) {
			if err := syscall.Fstat(fd, &st); err != nil {
				syscall.Close(fd)
				return -1, nil, err
			}
			return fd, &st, nil
		}
		if name == LockName || strings.HasSuffix(name, "/"+LockName) { // lock files are never exchanged, and runs hold them
			return stat()
		}
		// Without waiting first: a lock held (by a writer, for a moment)
		// is waited for only on a regular file; anything else is
		// returned for the caller to refuse.
		err = syscall.Flock(fd, syscall.LOCK_SH|syscall.LOCK_NB)
		if err == syscall.EWOULDBLOCK {
			if _, _, err := stat(); err != nil {
				return -1, nil, err
			}
			if st.Mode&syscall.S_IFMT != syscall.S_IFREG {
				return fd, &st, nil
			}
			for err = syscall.EINTR; err == syscall.EINTR; {
				err = syscall.Flock(fd, syscall.LOCK_SH)
			}
		}
		if err != nil {
			return stat() // no flock here (some file systems): read as is
		}
		if _, _, err := stat(); err != nil {
			return -1, nil, err
		}
		if st.Mode&syscall.S_IFMT != syscall.S_IFREG {
			return fd, &st, nil
		}
		lst, err := lstatAt(dfd, name)
		if attempt >= 3 || err != nil || sameFile(&st, &lst.st) {
			return fd, &st, nil
		}
		syscall.Close(fd)
	}
}

func (s *Store) ReadDir(rel string) ([]fs.DirEntry, error) {
	e, release, err := s.openDir(rel)
	if err != nil {
		return nil, err
	}
	defer release()
	return listDir(s, e, rel)
}

// ListDir lists the directory rel as ReadDir does, without keeping it
// open when it is not kept already: a walk lists thousands of directories
// once each, and keeping each (then closing it when more push it out)
// costs more than the listing.
func (s *Store) ListDir(rel string) ([]fs.DirEntry, error) {
	s.mu.Lock()
	_, kept := s.dirs[rel]
	s.mu.Unlock()
	if kept || rel == "." || rel == "" {
		return s.ReadDir(rel)
	}
	parent, name := SplitRel(rel)
	p, release, err := s.openDir(parent)
	if err != nil {
		return nil, err
	}
	fd, err := openDirAt(p.fd, name)
	release()
	switch {
	case err == syscall.ELOOP || err == syscall.ENOTDIR:
		return s.ReadDir(rel) // a symlink: followed as openDir follows it
	case err != nil:
		return nil, &fs.PathError{Op: "open", Path: rel, Err: err}
	}
	defer syscall.Close(fd)
	return readDir(s, fd, rel)
}

// checkReadable fails if the current user may not read the existing file.
func (s *Store) CheckReadable(rel string) error {
	dir, name := SplitRel(rel)
	d, release, err := s.openDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	defer release()
	// access(2), not an open: a FIFO planted here cannot block it.
	switch err := unix.Faccessat(d.fd, name, unix.R_OK, 0); {
	case err == nil || err == syscall.ENOENT:
		return nil
	case err == syscall.EACCES || err == syscall.EPERM:
		return &fs.PathError{Op: "open", Path: rel, Err: fs.ErrPermission}
	default:
		return &fs.PathError{Op: "access", Path: rel, Err: err}
	}
}

// lockDir takes an exclusive flock on the directory dir until the returned
// function is called: a file's content and its status are stored under it,
// so that they always come from the same run. The flock is taken on the
// kept descriptor (no open of its own), whose holders in this process
// take its mutex first.
func (s *Store) LockDir(dir string) (func(), error) {
	e, release, err := s.openDir(dir)
	if err != nil {
		return nil, err
	}
	e.locked.Lock()
	for {
		err = syscall.Flock(e.fd, syscall.LOCK_EX)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil { // no flock on this file system
		return func() { e.locked.Unlock(); release() }, nil
	}
	return func() {
		_ = syscall.Flock(e.fd, syscall.LOCK_UN)
		e.locked.Unlock()
		release()
	}, nil
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
