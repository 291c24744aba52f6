package vtree

import (
	"container/list"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"strings"
	"sync"
	"syscall"
)

// store is the backing tree: a real directory whose file contents are the
// last values read or written. All access goes through an os.Root, so
// symlinks in the backing tree cannot lead outside it.
type store struct {
	root *os.Root
	dir  string

	// dirs keeps directories open for the life of a command (bounded,
	// least recently used first out), so that the many small operations
	// on one device are each one system call relative to it instead of a
	// walk from the root.
	mu    sync.Mutex
	dirs  map[string]*dirEnt
	lru   *list.List
	limit int
}

type dirEnt struct {
	r     *os.Root
	users int
	elem  *list.Element
	gone  bool
}

// newFileMode is the mode a new file gets (0666 less the umask), so that
// replacing a file with the same mode needs no chmod.
var newFileMode = func() fs.FileMode {
	m := syscall.Umask(0)
	syscall.Umask(m)
	return fs.FileMode(0o666 &^ m)
}()

// maxOpenDirs bounds the directories a store keeps open.
const maxOpenDirs = 256

// openDir returns the directory rel, opened once; call release when done.
func (s *store) openDir(rel string) (*os.Root, func(), error) {
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
	r, err := s.root.OpenRoot(rel)
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
			old.r.Close()
			s.lru.Remove(el)
			delete(s.dirs, k)
		}
		el = prev
	}
	return e.r, func() { s.release(e) }, nil
}

func (s *store) release(e *dirEnt) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e.users--
	if e.gone && e.users == 0 {
		e.r.Close()
	}
}

// forgetDirs closes the cached directories at and below rel (removed or
// replaced); users still holding one close it on release.
func (s *store) forgetDirs(rel string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, e := range s.dirs {
		if k == rel || strings.HasPrefix(k, rel+"/") {
			s.lru.Remove(e.elem)
			delete(s.dirs, k)
			e.gone = true
			if e.users == 0 {
				e.r.Close()
			}
		}
	}
}

// closeDirs closes every cached directory.
func (s *store) closeDirs() {
	s.forgetDirs("")
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, e := range s.dirs {
		e.r.Close()
		delete(s.dirs, k)
	}
}

// inDir runs fn on the directory of rel and the name in it.
func (s *store) inDir(rel string, fn func(d *os.Root, name string) error) error {
	dir, name := splitRel(rel)
	d, release, err := s.openDir(dir)
	if err != nil {
		return err
	}
	defer release()
	return fn(d, name)
}

func (s *store) lstat(rel string) (fi fs.FileInfo, err error) {
	err = s.inDir(rel, func(d *os.Root, name string) error {
		fi, err = d.Lstat(name)
		return err
	})
	return fi, err
}

func (s *store) stat(rel string) (fi fs.FileInfo, err error) {
	err = s.inDir(rel, func(d *os.Root, name string) error {
		fi, err = d.Stat(name)
		return err
	})
	return fi, err
}

func (s *store) readFile(rel string, max int64) (b []byte, err error) {
	err = s.inDir(rel, func(d *os.Root, name string) error {
		f, err := d.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		b, err = io.ReadAll(io.LimitReader(f, max))
		return err
	})
	return b, err
}

func (s *store) readDir(rel string) ([]fs.DirEntry, error) {
	f, err := s.root.Open(rel)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.ReadDir(-1)
}

// checkWritable fails with a permission error if the current user may not
// write the existing file rel; it changes nothing.
func (s *store) checkWritable(rel string) error {
	f, err := s.root.OpenFile(rel, os.O_WRONLY, 0)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	return f.Close()
}

// checkReadable fails if the current user may not read the existing file.
func (s *store) checkReadable(rel string) error {
	f, err := s.root.Open(rel)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	return f.Close()
}

// writeFile replaces rel atomically: the data goes to a hidden temporary
// file in the same directory, which is renamed over rel, so a killed smctl
// never leaves a torn file. An existing file's permission bits (and, where
// the user may set them, owner and group) are kept; a new file gets 0666
// less the umask. The user must be allowed to write the existing file:
// temp-and-rename would otherwise turn directory write access into file
// write access.
func (s *store) writeFile(rel string, data []byte) error {
	dir, name := splitRel(rel)
	return s.writeFiles(dir, []string{name}, [][]byte{data})
}

// writeFiles replaces several files of one directory, each atomically as
// writeFile does, walking to the directory once. It stops at the first
// error.
func (s *store) writeFiles(dir string, names []string, data [][]byte) error {
	d, release, err := s.openDir(dir)
	if err != nil {
		return err
	}
	defer release()
	for i, name := range names {
		if err := replace(d, name, data[i]); err != nil {
			return err
		}
	}
	return nil
}

func replace(d *os.Root, name string, data []byte) error {
	old, err := d.Lstat(name)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	var st *syscall.Stat_t
	if old != nil {
		if old.IsDir() {
			return syscall.EISDIR
		}
		st, _ = old.Sys().(*syscall.Stat_t)
		// May this user write the file itself? The mode answers for root
		// and for an owner with write permission; otherwise ask the kernel.
		euid := os.Geteuid()
		if st == nil || euid != 0 && !(int(st.Uid) == euid && st.Mode&0o200 != 0) {
			f, err := d.OpenFile(name, os.O_WRONLY, 0)
			if err != nil {
				return err
			}
			f.Close()
		}
	}
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	// Hidden, and short whatever the name's length.
	tmp := ".~" + hex.EncodeToString(rnd[:])
	f, err := d.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
	if err != nil {
		return err
	}
	_, werr := f.Write(data)
	if werr == nil && old != nil && old.Mode().Perm() != newFileMode {
		werr = f.Chmod(old.Mode().Perm())
		if st != nil && (int(st.Uid) != os.Geteuid() || int(st.Gid) != os.Getegid()) {
			// Keeping the owner needs privilege and keeping the group needs
			// membership; without them the file stays the writer's.
			if f.Chown(int(st.Uid), int(st.Gid)) != nil {
				_ = f.Chown(-1, int(st.Gid))
			}
		}
	}
	cerr := f.Close()
	if werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = d.Rename(tmp, name)
	}
	if werr != nil {
		_ = d.Remove(tmp)
	}
	return werr
}

// readFiles reads the named files of directory dir (missing ones are
// left out), walking to the directory once.
func (s *store) readFiles(dir string, names []string, max int64) map[string][]byte {
	out := map[string][]byte{}
	d, release, err := s.openDir(dir)
	if err != nil {
		return out
	}
	defer release()
	// One listing tells which of the names exist.
	if f, err := d.Open("."); err == nil {
		present, err := f.Readdirnames(-1)
		f.Close()
		if err == nil {
			have := make(map[string]bool, len(present))
			for _, p := range present {
				have[p] = true
			}
			var keep []string
			for _, n := range names {
				if have[n] {
					keep = append(keep, n)
				}
			}
			names = keep
		}
	}
	for _, n := range names {
		f, err := d.Open(n)
		if err != nil {
			continue
		}
		b, err := io.ReadAll(io.LimitReader(f, max))
		f.Close()
		if err == nil {
			out[n] = b
		}
	}
	return out
}

func splitRel(rel string) (string, string) {
	for i := len(rel) - 1; i >= 0; i-- {
		if rel[i] == '/' {
			return rel[:i], rel[i+1:]
		}
	}
	return ".", rel
}

func joinRel(dir, name string) string {
	if dir == "." || dir == "" {
		return name
	}
	return dir + "/" + name
}
