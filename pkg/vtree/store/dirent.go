package store

import (
	"io/fs"
	"sync"
	"syscall"
	"unsafe"
)

// readDir lists the open directory fd (rel in s) from its current offset
// with the types getdents gives, one system call per 32 KiB of entries. (*os.File).ReadDir on a directory
// opened through an os.Root stats every entry; a device's listing is read
// for every device a find walks, and its entries' types are all it needs.
// An entry whose type the file system does not give (DT_UNKNOWN) is
// stat'ed.
func readDir(s *Store, fd int, rel string) ([]fs.DirEntry, error) {
	// A few allocations per listing, not two per entry: the entries in one
	// slice, their names in one string.
	type raw struct {
		off, end int
		typ      fs.FileMode
	}
	var (
		ents  []raw
		names []byte
	)
	done := func() []fs.DirEntry {
		if len(ents) == 0 {
			return nil
		}
		all := string(names)
		des := make([]dirent, len(ents))
		out := make([]fs.DirEntry, len(ents))
		for i, r := range ents {
			des[i] = dirent{s: s, dir: rel, name: all[r.off:r.end], typ: r.typ}
			out[i] = &des[i]
		}
		return out
	}
	bp := direntBufs.Get().(*[]byte)
	defer direntBufs.Put(bp)
	buf := *bp
	for {
		n, err := syscall.ReadDirent(fd, buf)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return done(), &fs.PathError{Op: "readdirent", Path: rel, Err: err}
		}
		if n <= 0 {
			return done(), nil
		}
		for b := buf[:n]; len(b) >= 19; {
			reclen := int(*(*uint16)(unsafe.Pointer(&b[16])))
			if reclen < 19 || reclen > len(b) {
				break
			}
			name := b[19:reclen]
			for i, c := range name {
				if c == 0 {
					name = name[:i]
					break
				}
			}
			if nm := string(name); nm != "." && nm != ".." { // no allocation: compared only
				r := raw{off: len(names), end: len(names) + len(name), typ: direntType(b[18])}
				if b[18] == syscall.DT_UNKNOWN {
					if fi, err := lstatAt(fd, string(name)); err == nil {
						r.typ = fi.Mode().Type()
					}
				}
				if names == nil {
					names = make([]byte, 0, n)
				}
				names = append(names, name...)
				ents = append(ents, r)
			}
			b = b[reclen:]
		}
	}
}

// direntBufs are getdents buffers: a find lists thousands of directories,
// and a new 32 KiB buffer for each (zeroed) costs more than the listing.
var direntBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func direntType(t byte) fs.FileMode {
	switch t {
	case syscall.DT_DIR:
		return fs.ModeDir
	case syscall.DT_LNK:
		return fs.ModeSymlink
	case syscall.DT_FIFO:
		return fs.ModeNamedPipe
	case syscall.DT_SOCK:
		return fs.ModeSocket
	case syscall.DT_CHR:
		return fs.ModeDevice | fs.ModeCharDevice
	case syscall.DT_BLK:
		return fs.ModeDevice
	}
	return 0
}

// dirent is an fs.DirEntry from getdents: its Info stats it when asked.
type dirent struct {
	s         *Store
	dir, name string
	typ       fs.FileMode
}

func (e *dirent) Name() string               { return e.name }
func (e *dirent) IsDir() bool                { return e.typ.IsDir() }
func (e *dirent) Type() fs.FileMode          { return e.typ }
func (e *dirent) Info() (fs.FileInfo, error) { return e.s.Lstat(JoinRel(e.dir, e.name)) }
func (e *dirent) String() string             { return fs.FormatDirEntry(e) }
