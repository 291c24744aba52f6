// Package fswatch watches directory trees with inotify and reports what
// changed in them, per path, as the difference between what a path is now
// and what it was when last looked at.
//
// A Watcher watches paths below an *os.Root, each with everything below it,
// recursively (directories made or moved in later too), and the directory
// holding it, to see it come and go. An inotify watch is added per
// directory through /proc/self/fd of the directory opened through the root
// (by name with IN_DONT_FOLLOW where there is no /proc), so a symlink
// swapped into the tree cannot make it watch something else; symlinks are
// never followed (one is reported as a file). The inotify descriptor is
// served by Go's poller, so ending the context closes it and wakes the
// reader without polling. It reads inotify through golang.org/x/sys/unix:
// fsnotify would add a goroutine and give neither recursion, nor batches,
// nor watches by descriptor.
//
// Changes are computed, not relayed: an event naming an entry only wakes
// the watcher, which compares the entry's identity now (lstat: inode, and
// for a file size and modification time) with what it knew. So one logical
// write is one change whatever the system calls behind it (a temporary file
// renamed over the file, a RENAME_EXCHANGE with a spare), and an entry
// written twice before the watcher looked is one change. A file created is
// looked at once written and closed, or renamed into place; a file written
// in place, when closed (a round looking at its directory for another
// reason may find it half written, and report it again once closed). A
// round reads what the kernel queued, looks at the directories it names,
// deepest first, and hands over what changed.
package fswatch

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Stat is an entry's identity, which a write changes. The zero Stat is an
// absent entry.
type Stat struct {
	Exists bool
	Dir    bool
	Ino    uint64
	Size   int64 // files only
	Mtime  int64 // files only: modification time, nanoseconds since the epoch
}

// Change is a path that changed in a round: what it was when last looked
// at and what it is now.
//
// The Changes of a round come in an order a consumer can replay: a
// directory's creation before what is found in it, the removal of what was
// below a directory before its own; a directory's entries by name (a group,
// see Options.Group, by its entry's name, with its sidecars right after
// it). A directory is reported created when it starts being watched, and
// gone with everything known below it. A path that changes kind (a file
// replaced by a directory, a directory by a file or by another directory)
// is reported removed, then created. Only paths at or below a watched path
// are reported.
type Change struct {
	Path     string // slash-separated, relative to the root; "." is the root
	Old, New Stat
	// Err: the directory Path could not be looked at or watched (a
	// permission, the inotify watch limit); Old and New are zero.
	Err error
}

// Batch is what a round found.
type Batch struct {
	// Lost: the kernel's event queue overflowed, so events were missed:
	// every watched directory was looked at again, and Changes holds the
	// differences with what was known.
	Lost    bool
	Changes []Change
	// Busy lists the directories Options.Busy held back, to be looked at
	// again shortly.
	Busy []string
}

// Options tune a Watcher; the zero value looks at every name alone.
// Functions are called in the goroutine of Run (or New's).
type Options struct {
	// Ignore reports names (in any directory) that are neither looked at
	// nor watched. Renaming an ignored name over another name, or
	// exchanging it with one, still names the other.
	Ignore func(name string) bool
	// Group returns the names looked at and reported together with name:
	// an entry, then its sidecars, files written along with it (a
	// checksum, a status). When one of them changed, each is reported, in
	// that order, those unchanged or absent with Old equal to New. A
	// directory has no sidecars; a sidecar that is a directory counts as
	// absent. An empty result: name alone.
	Group func(name string) []string
	// Busy, if set, is asked, with the directory open, before a directory
	// is looked at (not while New sets up): while it reports true, the
	// directory is left for later and looked at again after a backoff
	// (1ms, doubling to 100ms), other directories being reported
	// meanwhile. It may take a lock on d, for instance a shared flock
	// that writers hold exclusively so that what they write together is
	// seen together; d is closed once the directory has been looked at.
	Busy func(d *os.File) (busy bool)
	// Looked, if set, is called with each path a round looks at (named by
	// an event, or rescanned), changed or not (a write in place within a
	// tick of the file system's clock may keep size and mtime), and each
	// directory that stops being watched (dir set: it stands for
	// everything below it), before the round is handed over: a cache in
	// front of the tree drops what it holds of the path. New calls it only
	// for the latter.
	Looked func(path string, dir bool)
}

// ErrRootClosed ends Run when the root was closed under the watcher.
var ErrRootClosed = errors.New("fswatch: the root was closed")

// What a watcher asks inotify for. IN_CREATE is for directories: a file
// counts once written and closed, or renamed into place.
const (
	watchMask = unix.IN_CREATE | unix.IN_DELETE | unix.IN_MOVED_FROM | unix.IN_MOVED_TO |
		unix.IN_CLOSE_WRITE | unix.IN_ATTRIB | unix.IN_DELETE_SELF | unix.IN_MOVE_SELF |
		unix.IN_ONLYDIR | unix.IN_EXCL_UNLINK
	readBuf    = 64 << 10 // one read of the queue
	maxDrain   = 4        // further reads before a round is reconciled
	maxBackoff = 100 * time.Millisecond
)

// Watcher watches paths below a root. Its state is owned by the goroutine
// of Run once started.
type Watcher struct {
	root      *os.Root
	opts      Options
	f         *os.File // the inotify descriptor
	rc        syscall.RawConn
	closeOnce sync.Once
	closed    atomic.Bool
	roots     []string // paths watched with everything below them
	dirs      map[string]*wdir
	wds       map[int32]*wdir
	dirty     map[string]*dirtyDir
	lost      bool          // the kernel's queue overflowed
	ended     error         // the root was closed
	pending   []Change      // found while setting up, handed over first
	backoff   time.Duration // before looking again at a busy directory
}

// wdir is a watched directory and what the watcher knows of it.
type wdir struct {
	rel  string
	wd   int32
	ino  uint64
	dead bool // deleted, or its watch is gone
	ents map[string]Stat
}

// dirtyDir is what is to be looked at again in a directory.
type dirtyDir struct {
	names map[string]bool
	self  bool // the directory itself (mode, moved, deleted)
	all   bool // every entry (new watch, overflow)
	quiet bool // record only, report nothing (setting up)
}

// New watches paths below root: slash-separated paths relative to it ("."
// for everything), each a directory, a file, or a name yet to be in an
// existing directory, which is watched for its appearance. It records the
// state of what it watches before it returns; Run reports the changes
// after that. The root must stay open while the watcher runs; closing it
// ends Run with ErrRootClosed. A directory that cannot be watched is an
// *fs.PathError naming it.
func New(root *os.Root, paths []string, opts Options) (*Watcher, error) {
	if len(paths) == 0 {
		return nil, errors.New("fswatch: no paths")
	}
	w := &Watcher{
		root: root, opts: opts,
		dirs:  map[string]*wdir{},
		wds:   map[int32]*wdir{},
		dirty: map[string]*dirtyDir{},
	}
	type add struct {
		rel      string
		required bool
	}
	var adds []add
	for _, p := range paths {
		if !fs.ValidPath(p) {
			return nil, &fs.PathError{Op: "watch", Path: p, Err: fs.ErrInvalid}
		}
		w.roots = append(w.roots, p)
		if p == "." {
			adds = append(adds, add{".", true})
			continue
		}
		// The parent too, to see the path itself come and go.
		fi, err := root.Lstat(p)
		isDir := err == nil && fi.IsDir()
		parent, _ := splitRel(p)
		adds = append(adds, add{parent, !isDir})
		if isDir {
			adds = append(adds, add{p, true})
		}
	}
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, os.NewSyscallError("inotify_init1", err)
	}
	w.f = os.NewFile(uintptr(fd), "inotify")
	if w.rc, err = w.f.SyscallConn(); err != nil {
		w.Close()
		return nil, err
	}
	var discard []Change
	for _, a := range adds {
		if err := w.addDir(a.rel, true, &discard); err != nil && a.required {
			w.Close()
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return nil, &fs.PathError{Op: "watch", Path: a.rel, Err: err}
		}
	}
	w.pending = w.reconcile().Changes
	return w, nil
}

// Close releases the inotify descriptor; a Run in progress returns nil.
// Run closes the watcher when it returns.
func (w *Watcher) Close() error {
	var err error
	w.closeOnce.Do(func() {
		w.closed.Store(true)
		err = w.f.Close()
	})
	return err
}

// isUnder reports whether rel is watched: at or below a watched path.
func (w *Watcher) isUnder(rel string) bool {
	for _, r := range w.roots {
		if r == "." || rel == r || strings.HasPrefix(rel, r+"/") {
			return true
		}
	}
	return false
}

func (w *Watcher) ignore(name string) bool {
	return w.opts.Ignore != nil && w.opts.Ignore(name)
}

func (w *Watcher) group(name string) []string {
	if w.opts.Group != nil {
		if g := w.opts.Group(name); len(g) > 0 {
			return g
		}
	}
	return []string{name}
}

func (w *Watcher) looked(rel string, dir bool) {
	if w.opts.Looked != nil {
		w.opts.Looked(rel, dir)
	}
}

func statOf(fi fs.FileInfo) Stat {
	s := Stat{Exists: true, Dir: fi.IsDir(), Ino: inoOf(fi)}
	if !s.Dir {
		s.Size = fi.Size()
		s.Mtime = fi.ModTime().UnixNano()
	}
	return s
}

func inoOf(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino
	}
	return 0
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

func depth(rel string) int {
	if rel == "." {
		return 0
	}
	return strings.Count(rel, "/") + 1
}

func (s Stat) String() string {
	switch {
	case !s.Exists:
		return "absent"
	case s.Dir:
		return fmt.Sprintf("dir ino=%d", s.Ino)
	}
	return fmt.Sprintf("file ino=%d size=%d mtime=%d", s.Ino, s.Size, s.Mtime)
}
