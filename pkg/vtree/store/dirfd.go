package store

import (
	"io/fs"
	"os"
	"syscall"
)

func (e *dirEnt) close() {
	e.r.Close()
	if e.dot != nil {
		e.dot.Close()
	}
}

// dirFD returns a descriptor of the directory rel for raw *at system
// calls on one name (no os.File per file, and a real O_NOFOLLOW: os.Root
// follows a final symlink that stays inside it), kept open with the
// directory; release it with the directory. It is -1 when the directory
// cannot be opened so (callers then use the os.Root). Never flock it: it
// is shared.
func (s *Store) dirFD(rel string) (*os.Root, int, func(), error) {
	d, release, err := s.openDir(rel)
	if err != nil {
		return nil, -1, nil, err
	}
	s.mu.Lock()
	e := s.dirs[rel]
	if rel == "." || rel == "" {
		if s.rootDot == nil {
			s.rootDot = &dirEnt{r: d}
		}
		e = s.rootDot
	}
	if e == nil || e.r != d {
		s.mu.Unlock()
		return d, -1, release, nil
	}
	dot := e.dot
	s.mu.Unlock()
	if dot == nil {
		f, err := d.OpenFile(".", os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_DIRECTORY, 0)
		if err != nil {
			return d, -1, release, nil
		}
		f.Fd() // blocking from now on: its Fd is used raw
		s.mu.Lock()
		if e.dot == nil {
			e.dot = f
		} else {
			f.Close()
		}
		dot = e.dot
		s.mu.Unlock()
	}
	return d, int(dot.Fd()), release, nil
}

// listDir lists the directory rel, open as d and, when dfd is not -1, as
// the raw descriptor dfd.
func listDir(d *os.Root, dfd int, rel string) ([]fs.DirEntry, error) {
	if dfd < 0 {
		f, err := d.OpenFile(".", os.O_RDONLY|syscall.O_NONBLOCK, 0)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		return readDir(d, int(f.Fd()), rel)
	}
	// A description of its own: a listing has an offset.
	fd, err := syscall.Openat(dfd, ".", syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: rel, Err: err}
	}
	defer syscall.Close(fd)
	return readDir(d, fd, rel)
}
