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
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/smctl/smctl/pkg/trust"
)

// Names with a meaning to the store.
const (
	IDsName      = "ids"  // credentials: written 0600, never exchanged
	LockName     = "lock" // lock files: flocked, never exchanged
	StatusSuffix = ".status"
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
	// other-writable, and never through a spare.
	Trusted func(name string) bool

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
		e.r.Close()
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
				e.r.Close()
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
		e.r.Close()
		delete(s.dirs, k)
	}
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

func (s *Store) Lstat(rel string) (fi fs.FileInfo, err error) {
	err = s.inDir(rel, func(d *os.Root, name string) error {
		fi, err = d.Lstat(name)
		return err
	})
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
		f, err := openShared(d, name)
		if err != nil {
			return err
		}
		defer f.Close()
		b, err = io.ReadAll(io.LimitReader(f, max))
		return err
	})
	return b, err
}

// openShared opens name for reading under a shared flock, so that a writer
// cannot recycle the inode (see exchange) while it is read; if name was
// exchanged before the lock was taken, it opens the new one.
func openShared(d *os.Root, name string) (*os.File, error) {
	for attempt := 0; ; attempt++ {
		f, err := d.Open(name)
		if err != nil || name == LockName { // lock files are never exchanged
			return f, err
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH); err != nil {
			return f, nil // no flock here (some file systems): read as is
		}
		fst, err1 := f.Stat()
		lst, err2 := d.Lstat(name)
		if attempt >= 3 || err1 != nil || err2 != nil || os.SameFile(fst, lst) {
			return f, nil
		}
		f.Close()
	}
}

func (s *Store) ReadDir(rel string) ([]fs.DirEntry, error) {
	f, err := s.root.Open(rel)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.ReadDir(-1)
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

// writeFile replaces rel atomically: the data goes to a hidden temporary
// file in the same directory, which is renamed over rel, so a killed smctl
// never leaves a torn file. An existing regular file's permission bits
// (and, where the user may set them, owner and group) are kept; a new file
// gets 0666 less the umask; nothing is ever copied from a symlink or other
// non-regular entry found at rel. In a directory that its group or others
// may write (a delegated device), a stored result is made writable by them
// too, so that it can never be renamed into a trusted name and pass for
// one. Trusted names (see store.trusted) get a new inode owned by the
// writer, never writable by group or others. The user must be allowed to
// write the existing file: temp-and-rename would otherwise turn directory
// write access into file write access.
func (s *Store) WriteFile(rel string, data []byte) error {
	dir, name := SplitRel(rel)
	return s.WriteFiles(dir, []string{name}, [][]byte{data})
}

// writeFiles replaces several files of one directory, each atomically as
// writeFile does, walking to the directory once. It stops at the first
// error.
func (s *Store) WriteFiles(dir string, names []string, data [][]byte) error {
	d, release, err := s.openDir(dir)
	if err != nil {
		return err
	}
	defer release()
	var dmode fs.FileMode
	for i, name := range names {
		trusted := s.Trusted != nil && s.Trusted(name)
		if !trusted && dmode == 0 {
			dmode = s.dirMode(dir)
		}
		if err := replace(d, dmode, name, data[i], trusted); err != nil {
			return err
		}
	}
	return nil
}

// widen is what a stored result in a directory of mode dmode gains: the
// write bits the directory gives its group and others.
func widen(dmode fs.FileMode) fs.FileMode { return dmode.Perm() & 0o022 }

func replace(d *os.Root, dmode fs.FileMode, name string, data []byte, trusted bool) error {
	old, err := d.Lstat(name)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	var st *syscall.Stat_t
	if old != nil {
		if old.IsDir() {
			return syscall.EISDIR
		}
		if !old.Mode().IsRegular() {
			// A symlink or other entry planted here is replaced, and
			// nothing of it (mode, owner) is kept.
			old = nil
		}
	}
	if old != nil {
		st, _ = old.Sys().(*syscall.Stat_t)
		// May this user write the file itself? The mode answers for root
		// and for an owner with write permission; otherwise ask the kernel.
		euid := os.Geteuid()
		if st == nil || euid != 0 && !(int(st.Uid) == euid && st.Mode&0o200 != 0) {
			f, err := d.OpenFile(name, os.O_WRONLY|syscall.O_NOFOLLOW, 0)
			if err != nil {
				return err
			}
			f.Close()
		}
		if !trusted && len(name) <= MaxName {
			err := exchange(d, name, old, st, dmode, data)
			if !errors.Is(err, errNoExchange) {
				return err
			}
		}
	}
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	// Hidden, and short whatever the name's length.
	tmp := TempPrefix + hex.EncodeToString(rnd[:])
	f, err := d.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
	if err != nil {
		return err
	}
	_, werr := f.Write(data)
	if werr == nil {
		werr = setMode(f, newFileMode, old, st, dmode, name, trusted)
	}
	cerr := f.Close()
	if werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = d.Rename(tmp, name)
		if errors.Is(werr, syscall.EPERM) && old != nil && !trusted {
			// A sticky (delegated) directory: a member may not replace the
			// owner's file, only write it where its mode allows, in place,
			// under the lock smctl's readers take.
			_ = d.Remove(tmp)
			return writeInPlace(d, name, data)
		}
	}
	if werr != nil {
		_ = d.Remove(tmp)
	}
	return werr
}

// writeInPlace rewrites the existing regular file name under an exclusive
// flock: smctl's readers (openShared) see the old or the new content.
func writeInPlace(d *os.Root, name string, data []byte) error {
	f, err := d.OpenFile(name, os.O_WRONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if sys, ok := fi.Sys().(*syscall.Stat_t); !ok || !fi.Mode().IsRegular() || sys.Nlink != 1 {
		return fmt.Errorf("%s: not a regular file with one link: not written in place", name)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		return err
	}
	return writeAll(f, data)
}

// setMode gives the new file f, whose permission bits are cur, its mode:
// for a trusted name, the old file's bits (else cur) less group and other
// write, and 0600 for ids, owned by the writer; for others, the old file's
// bits and, where the user may set them, its owner and group, plus the
// directory's group and other write bits (widen).
func setMode(f *os.File, cur fs.FileMode, old fs.FileInfo, st *syscall.Stat_t, dmode fs.FileMode, name string, trusted bool) error {
	want := cur.Perm()
	if old != nil {
		want = old.Mode().Perm()
	}
	if trusted {
		want &^= 0o022
		if name == IDsName {
			want = 0o600
		}
	} else {
		want |= widen(dmode)
	}
	if want != cur.Perm() {
		if err := f.Chmod(want); err != nil {
			return err
		}
	}
	if !trusted && st != nil && (int(st.Uid) != os.Geteuid() || int(st.Gid) != os.Getegid()) {
		// Keeping the owner needs privilege and keeping the group needs
		// membership; without them the file stays the writer's.
		if f.Chown(int(st.Uid), int(st.Gid)) != nil {
			_ = f.Chown(-1, int(st.Gid))
		}
	}
	return nil
}

// errNoExchange says the file system cannot exchange two names atomically.
var errNoExchange = errors.New("renameat2 RENAME_EXCHANGE not supported")

// SpareRest is how long a spare must have been left alone before it is
// written over (a variable for tests).
var SpareRest = time.Second

// SparePrefix names the hidden spare of a file: the inode the next write
// goes into, which then trades places with the file. TempPrefix names the
// temporary files renamed over a file; leftovers of killed runs are swept
// (see sweepTemps).
const (
	SparePrefix = ".~s."
	TempPrefix  = ".~"
)

// exchange replaces name with data without allocating or freeing an inode:
// the data is written over name's spare, which is then exchanged with name
// in one atomic renameat2(RENAME_EXCHANGE); the old inode becomes the next
// spare. A reader sees the old or the new content, never a mix, and a
// killed smctl leaves at worst a torn spare. On file systems where
// creating and freeing small files is slow (journals, online discard) this
// is several times cheaper than a new temporary file renamed over the old.
// An flock on the spare keeps two writers of the same file apart. A spare
// is used only when it is a regular file with one link, owned by the
// writer; anything else found under its name (a planted hard link or
// symlink, another user's file) is removed and a new file written instead.
func exchange(d *os.Root, name string, old fs.FileInfo, st *syscall.Stat_t, dmode fs.FileMode, data []byte) error {
	spare := SparePrefix + name
	for attempt := 0; attempt < 3; attempt++ {
		f, err := d.OpenFile(spare, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0o600)
		if err != nil {
			_ = d.Remove(spare) // a symlink (ELOOP) or a FIFO: not a spare
			return errNoExchange
		}
		fst, err1 := f.Stat()
		if err1 != nil {
			f.Close()
			return errNoExchange
		}
		sys, ok := fst.Sys().(*syscall.Stat_t)
		if !ok || !fst.Mode().IsRegular() || sys.Nlink > 1 || int(sys.Uid) != os.Geteuid() {
			// Not a spare of ours: remove what is under the name, if it is
			// still what was opened, and write a new file instead.
			f.Close()
			if lst, err := d.Lstat(spare); err == nil && os.SameFile(fst, lst) {
				_ = d.Remove(spare)
			}
			return errNoExchange
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
			f.Close()
			return errNoExchange
		}
		lst, err2 := d.Lstat(spare)
		if err2 != nil || !os.SameFile(fst, lst) {
			// Another writer swapped it in meanwhile (or it was unlinked,
			// Nlink 0): take the new spare.
			f.Close()
			continue
		}
		// The spare was the file until its last exchange: a reader outside
		// smctl may still hold it open. Reuse it only once it has rested;
		// smctl's own readers hold a shared flock, which the one above
		// waits for.
		if time.Since(time.Unix(sys.Ctim.Unix())) < SpareRest {
			f.Close()
			return errNoExchange
		}
		if err := writeAll(f, data); err != nil {
			f.Close()
			return errNoExchange
		}
		if err := setMode(f, fst.Mode(), old, st, dmode, name, false); err != nil {
			// Another user's spare with another mode: a new file instead.
			f.Close()
			return errNoExchange
		}
		err = renameExchange(d, spare, name)
		f.Close()
		if errors.Is(err, syscall.EPERM) {
			return errNoExchange // a sticky directory: see replace
		}
		return err
	}
	return errNoExchange
}

func writeAll(f *os.File, data []byte) error {
	if _, err := f.WriteAt(data, 0); err != nil {
		return err
	}
	return f.Truncate(int64(len(data)))
}

func renameExchange(d *os.Root, a, b string) error {
	dir, err := d.Open(".")
	if err != nil {
		return err
	}
	defer dir.Close()
	fd := int(dir.Fd())
	err = unix.Renameat2(fd, a, fd, b, unix.RENAME_EXCHANGE)
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.ENOTSUP) {
		return errNoExchange
	}
	return err
}

// readFiles reads the named files of directory dir (missing ones are
// left out), walking to the directory once. Each file must be trusted
// (readTrustedIn); the first that is not is the error, named by its
// virtual path. The same listing sweeps temporary files left by killed
// runs.
func (s *Store) ReadFiles(dir string, names []string, max int64) (map[string][]byte, error) {
	out := map[string][]byte{}
	d, release, err := s.openDir(dir)
	if err != nil {
		return out, nil
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
				if IsTemp(p) {
					sweepTemp(d, p)
				}
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
		b, err := readTrustedIn(d, n, "/"+JoinRel(dir, n), max)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return out, err
		}
		out[n] = b
	}
	return out, nil
}

// readTrusted reads the file rel, which decides what smctl runs or where
// it connects, if it is trusted: a regular file with one link, not a
// symlink, owned by root or the running user and not writable by group or
// others (judged on the open descriptor).
func (s *Store) ReadTrusted(rel string, max int64) (b []byte, err error) {
	err = s.inDir(rel, func(d *os.Root, name string) error {
		b, err = readTrustedIn(d, name, "/"+strings.TrimPrefix(rel, "./"), max)
		return err
	})
	return b, err
}

func readTrustedIn(d *os.Root, name, vpath string, max int64) ([]byte, error) {
	f, err := d.OpenFile(name, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		if errors.Is(err, syscall.ELOOP) {
			return nil, &trust.Error{Name: vpath, UID: -1, Why: "it is a symlink"}
		}
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if err := trust.Info(vpath, fi); err != nil {
		return nil, err
	}
	sys := fi.Sys().(*syscall.Stat_t)
	switch {
	case !fi.Mode().IsRegular():
		return nil, &trust.Error{Name: vpath, UID: int(sys.Uid), Mode: fi.Mode(), Why: "not a regular file"}
	case sys.Nlink != 1:
		return nil, &trust.Error{Name: vpath, UID: int(sys.Uid), Mode: fi.Mode(), Why: fmt.Sprintf("it has %d hard links", sys.Nlink)}
	}
	return io.ReadAll(io.LimitReader(f, max))
}

// tempRest is how old a temporary file must be before a listing sweeps it
// as the leftover of a killed run (a live write holds one for
// milliseconds).
var tempRest = 10 * time.Minute

// isTemp reports the names of writeFile's temporary files.
func IsTemp(name string) bool {
	if len(name) != len(TempPrefix)+16 || !strings.HasPrefix(name, TempPrefix) {
		return false
	}
	_, err := hex.DecodeString(name[len(TempPrefix):])
	return err == nil
}

// sweepTemp removes the temporary file name of d if it has rested long
// enough to be the leftover of a killed run.
func sweepTemp(d *os.Root, name string) {
	if st, err := d.Lstat(name); err == nil && st.Mode().IsRegular() && time.Since(st.ModTime()) > tempRest {
		_ = d.Remove(name)
	}
}

// lockDir takes an exclusive flock on the directory dir until the returned
// function is called: a file's content and its status are stored under it,
// so that they always come from the same run.
func (s *Store) LockDir(dir string) (func(), error) {
	d, release, err := s.openDir(dir)
	if err != nil {
		return nil, err
	}
	f, err := d.Open(".")
	release()
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return func() {}, nil // no flock on this file system
	}
	return func() { f.Close() }, nil
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

// createLock creates an empty-valued lock file unless it exists. It is never
// replaced afterwards: flock locks belong to the inode. It is private to
// its owner (0600): any user who could open it could flock it and block
// every run under it (smctl delegate gives a group read and write).
func (s *Store) CreateLock(rel string) error {
	f, err := s.root.OpenFile(rel, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		st, serr := s.root.Lstat(rel)
		if serr == nil && !st.Mode().IsRegular() {
			return fmt.Errorf("%s exists and is not a regular file", rel)
		}
		return nil
	}
	if err != nil {
		return err
	}
	_, err = f.Write([]byte("1\n"))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
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
