package vtree

// Change notification for a tree that lives (smctl serve, smctl watch):
// Watch reports what changes in the backing tree, whoever writes it, and
// keeps the tree's per-directory caches coherent with it; Live does only
// the latter, for the whole tree.
//
// Both read inotify (golang.org/x/sys/unix, no fsnotify): a watch is
// added per backing directory through /proc/self/fd of a directory opened
// through the tree's os.Root, so a symlink swapped into the backing tree
// cannot make it watch something else; the descriptor is served by Go's
// poller, so cancelling closes it and wakes the reader without polling.
// fsnotify would add a dependency and a goroutine and give neither
// recursion, nor batches, nor watches by descriptor.

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Change says what changed about a path; an Event may carry several.
type Change uint16

const (
	// Created: the path appeared. A file got its first stored value or
	// status (Content and Status say which); a directory was made (with
	// Type when it is a device already). Paths below a new directory
	// follow it.
	Created Change = 1 << iota
	// Content: the stored value was written (replaced or rewritten,
	// perhaps with the same bytes), or removed while its status stays.
	Content
	// Status: NAME.status was written; the event's RC and Message are the
	// new status.
	Status
	// Removed: the path is gone: a file's stored value and status, or a
	// directory with everything below it (whose paths come first).
	Removed
	// Type: the directory's type marker was written: it became a device
	// or changed type. A marker removed is not reported (a device removed
	// is Removed; one whose marker alone goes, rarely, is not told).
	Type
	// Lost: changes may have been missed. With a nil Err the kernel's
	// event queue overflowed: the watch has rescanned what it watches and
	// reports the differences after this event, and the tree's caches
	// were dropped. With an Err, Path could not be watched (a permission,
	// the inotify watch limit), or, with Path "/", watching ended.
	Lost
)

var changeNames = [...]string{"created", "content", "status", "removed", "type", "lost"}

func (c Change) String() string {
	var parts []string
	for i, n := range changeNames {
		if c&(1<<i) != 0 {
			parts = append(parts, n)
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "|")
}

// Event is a change to a virtual path.
type Event struct {
	Path    string // clean virtual path; never NAME.status, whose changes are NAME's Status
	Change  Change
	Dir     bool   // Path is a directory
	RC      int    // with Status: the status code, as Tree.Status reads it (0 if unreadable)
	Message string // with Status: the status message
	Err     error  // with Lost: why (nil for a queue overflow)
}

func (e Event) String() string {
	s := e.Path + " " + e.Change.String()
	if e.Change&Status != 0 {
		s += fmt.Sprintf(" rc=%d", e.RC)
		if e.Message != "" {
			s += " " + e.Message
		}
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// ErrLiveWatch is wrapped by the error for watching a live directory,
// which is read from the node and has nothing to watch.
var ErrLiveWatch = errors.New("live directories are read from the node: they cannot be watched")

// Watch reports changes to the contents and statuses of the virtual paths
// given: a file (its stored value and its NAME.status; watching
// NAME.status is watching NAME), or a directory, meaning everything below
// it, recursively, including directories and devices made later. A path
// that does not exist yet, in an existing directory, is watched for its
// appearance. Writes by any process on this host count: other smctl
// commands, agents, an editor. Live directories (proc, sys) cannot be
// watched.
//
// Watch records the state of what it watches before it returns; each
// change after that is reported on the returned channel, which the caller
// must drain: while it does not, the kernel queues what happens, and when
// its queue overflows the next event says so (Lost). The channel is closed
// when ctx ends, after which nothing more is sent and the inotify
// descriptor is closed. Cancel ctx before closing the tree; a tree closed
// under a watch ends it with a Lost event.
//
// Events are computed, not relayed: a change to a directory's entries
// wakes the watch, which compares what is there now (inode, size, mtime)
// with what it knew. So one logical write gives one event per path
// whatever the system calls behind it (smctl's temporary files renamed
// over a file, the RENAME_EXCHANGE of spares, a store of content and
// status together); hidden names (temporaries, spares) give none; and a
// path written again before the watch looked gives one event for both
// writes. A store of content and status is seen whole: the watch takes
// the directory's shared flock, which the store holds exclusively, before
// it looks, and while a store holds it looks again shortly after (backing
// off to 100ms), reporting other directories meanwhile. Files written in
// place are reported when closed. Events for one path come in order; a
// directory's Created comes before its paths', and its paths' Removed
// before its own.
//
// Seeing a change to a device's type marker, attribute files, ids or lock,
// or to a directory itself, the watch drops what the tree's caches know
// of it before sending the event, so that an operation after the event
// sees the new state.
//
// Not covered: smctl.yaml and the agent directories; writes that inotify
// does not see (another host's, on a network file system); a directory
// whose name is a symlink (not followed); a file created by hard link or
// mknod, until it next changes. The status of an event is read as
// Tree.Status reads it, waiting for a writer's lock on the file.
func (t *Tree) Watch(ctx context.Context, paths []string) (<-chan Event, error) {
	out := make(chan Event)
	w, err := t.newWatcher(ctx, paths, out)
	if err != nil {
		return nil, err
	}
	go func() {
		defer close(out)
		w.run(ctx)
	}()
	return out, nil
}

// Live keeps the tree's caches coherent with the whole backing tree until
// ctx ends, as Watch does for what it watches, for a tree that lives
// longer than one command. The returned channel is closed once it has
// stopped.
func (t *Tree) Live(ctx context.Context) (<-chan struct{}, error) {
	return t.live(ctx, nil)
}

// live is Live calling batch after each round of changes (for tests).
func (t *Tree) live(ctx context.Context, batch func()) (<-chan struct{}, error) {
	w, err := t.newWatcher(ctx, []string{"/"}, nil)
	if err != nil {
		return nil, err
	}
	w.batch = batch
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.run(ctx)
	}()
	return done, nil
}

// forgetChanged drops what the tree's caches know that a change of name in
// the backing directory dir may have made wrong ("" for dir itself, its
// mode or its being there): the type marker, a directory and everything
// below it; ids and lock, the directory's answer for them; any other
// attribute file, the device's attributes. Other names are not cached.
func (t *Tree) forgetChanged(dir, name string) {
	switch {
	case name == "" || name == typeFile:
		t.forgetTree(dir)
	case name == IDsName:
		t.forgetSpecial(dir, IDsName)
		t.idsMu.Lock()
		delete(t.ids, joinRel(dir, IDsName))
		t.idsMu.Unlock()
	case name == LockName:
		t.forgetSpecial(dir, LockName)
	case t.trustedName(name):
		t.forgetDevice(vpathOf(dir))
	}
}

// forgetTree drops every cache entry for the backing directory dir and
// below it: types, lock and ids lookups, device attributes, decrypted ids,
// trust judgements and open directories.
func (t *Tree) forgetTree(dir string) {
	if dir == "." || dir == "" {
		t.forgetAll()
		return
	}
	t.forgetType(dir)
	under := func(k string) bool { return k == dir || strings.HasPrefix(k, dir+"/") }
	t.idsMu.Lock()
	for k := range t.ids {
		if under(k) {
			delete(t.ids, k)
		}
	}
	t.idsMu.Unlock()
	t.agentMu.Lock()
	for k := range t.dirErr {
		if under(k) {
			delete(t.dirErr, k)
		}
	}
	t.agentMu.Unlock()
}

// forgetAll drops everything the caches know of the backing tree.
func (t *Tree) forgetAll() {
	t.mu.Lock()
	clear(t.types)
	clear(t.specials)
	clear(t.devices)
	t.mu.Unlock()
	t.idsMu.Lock()
	clear(t.ids)
	t.idsMu.Unlock()
	t.agentMu.Lock()
	clear(t.dirErr)
	t.agentMu.Unlock()
	t.store.mu.Lock()
	open := make([]string, 0, len(t.store.dirs))
	for k := range t.store.dirs {
		open = append(open, k)
	}
	t.store.mu.Unlock()
	for _, k := range open {
		t.store.forgetDirs(k)
	}
}

// What a watch asks inotify for. IN_CREATE is for directories: a file
// counts once written and closed, or renamed into place.
const (
	watchMask = unix.IN_CREATE | unix.IN_DELETE | unix.IN_MOVED_FROM | unix.IN_MOVED_TO |
		unix.IN_CLOSE_WRITE | unix.IN_ATTRIB | unix.IN_DELETE_SELF | unix.IN_MOVE_SELF |
		unix.IN_ONLYDIR | unix.IN_EXCL_UNLINK
	watchReadBuf    = 64 << 10 // one read of the queue
	watchMaxDrain   = 4        // further reads before a round is reconciled
	watchMaxBackoff = 100 * time.Millisecond
)

// watcher is the state of one Watch or Live, owned by its goroutine once
// started.
type watcher struct {
	t         *Tree
	f         *os.File // the inotify descriptor
	rc        syscall.RawConn
	closeOnce sync.Once
	out       chan<- Event // nil: caches only (Live)
	batch     func()
	roots     []string // backing paths watched with everything below them
	dirs      map[string]*wdir
	wds       map[int32]*wdir
	dirty     map[string]*dirtyDir
	lost      bool          // the kernel's queue overflowed
	ended     error         // the tree was closed
	pending   []Event       // found while setting up, sent first
	backoff   time.Duration // before looking again at a directory being stored
}

// wdir is a watched backing directory and what the watcher knows of it.
type wdir struct {
	rel  string
	wd   int32
	ino  uint64
	dead bool // deleted, or its watch is gone
	ents map[string]ent
}

// ent is what an entry was when last looked at: for files what a write
// changes (a new inode for a rename, size and mtime in place).
type ent struct {
	dir   bool
	ino   uint64
	size  int64
	mtime int64
}

func entOf(fi fs.FileInfo) ent {
	e := ent{dir: fi.IsDir(), ino: inoOf(fi)}
	if !e.dir {
		e.size = fi.Size()
		e.mtime = fi.ModTime().UnixNano()
	}
	return e
}

func inoOf(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino
	}
	return 0
}

// dirtyDir is what is to be looked at again in a directory.
type dirtyDir struct {
	names map[string]bool
	self  bool // the directory itself (mode, moved, deleted)
	all   bool // every entry (new watch, overflow)
	quiet bool // record only, report nothing (setting up)
}

func (t *Tree) newWatcher(ctx context.Context, paths []string, out chan<- Event) (*watcher, error) {
	if len(paths) == 0 {
		return nil, errors.New("watch: no paths")
	}
	w := &watcher{
		t: t, out: out,
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
		cp, err := Clean(p)
		if err != nil {
			return nil, err
		}
		n, err := t.resolve(ctx, cp, true)
		if err != nil {
			return nil, err
		}
		if n.live != "" {
			return nil, pathErr("watch", cp, ErrLiveWatch)
		}
		r := n.rel
		if n.special == specialStatus {
			r = strings.TrimSuffix(r, statusSuffix)
		}
		w.roots = append(w.roots, r)
		if r == "." {
			adds = append(adds, add{".", true})
			continue
		}
		// The parent too, to see the path itself come and go.
		parent, _ := splitRel(r)
		adds = append(adds, add{parent, !n.isDir})
		if n.isDir {
			adds = append(adds, add{r, true})
		}
	}
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, os.NewSyscallError("inotify_init1", err)
	}
	w.f = os.NewFile(uintptr(fd), "inotify")
	if w.rc, err = w.f.SyscallConn(); err != nil {
		w.close()
		return nil, err
	}
	var discard []Event
	for _, a := range adds {
		if _, err := w.addDir(a.rel, true, &discard); err != nil && a.required {
			w.close()
			return nil, pathErr("watch", vpathOf(a.rel), unwrapPath(err))
		}
	}
	w.pending = w.reconcile(ctx)
	return w, nil
}

func (w *watcher) close() { w.closeOnce.Do(func() { w.f.Close() }) }

// run reads the kernel's events until ctx ends: each round reads what is
// queued, looks at the directories it names, and sends what changed.
func (w *watcher) run(ctx context.Context) {
	defer w.close()
	stop := context.AfterFunc(ctx, w.close) // wakes the read below
	defer stop()
	for _, e := range w.pending {
		if !w.send(ctx, e) {
			return
		}
	}
	w.pending = nil
	buf := make([]byte, watchReadBuf)
	for {
		// Directories being stored are looked at again after a while;
		// otherwise the read waits for the kernel.
		var deadline time.Time
		if len(w.dirty) > 0 {
			deadline = time.Now().Add(w.backoff)
		}
		_ = w.f.SetReadDeadline(deadline)
		n, err := w.read(buf, true)
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			if ctx.Err() == nil {
				w.send(ctx, Event{Path: "/", Change: Lost, Dir: true, Err: fmt.Errorf("watch ended: %w", err)})
			}
			return
		}
		parseEvents(buf[:n], w.handle)
		_ = w.f.SetReadDeadline(time.Time{})
		for i := 0; i < watchMaxDrain; i++ {
			n, err := w.read(buf, false)
			if err != nil || n == 0 {
				break
			}
			parseEvents(buf[:n], w.handle)
		}
		evs := w.reconcile(ctx)
		if w.batch != nil {
			w.batch()
		}
		for _, e := range evs {
			if !w.send(ctx, e) {
				return
			}
		}
		if w.ended != nil {
			w.send(ctx, Event{Path: "/", Change: Lost, Dir: true, Err: fmt.Errorf("watch ended: %w", w.ended)})
			return
		}
	}
}

func (w *watcher) send(ctx context.Context, e Event) bool {
	if w.out == nil {
		return ctx.Err() == nil
	}
	select {
	case w.out <- e:
		return true
	case <-ctx.Done():
		return false
	}
}

// read reads the inotify descriptor, waiting for events if wait is set
// (until the read deadline); without, it returns 0 when none is queued.
func (w *watcher) read(buf []byte, wait bool) (int, error) {
	var n int
	var rerr error
	err := w.rc.Read(func(fd uintptr) bool {
		for {
			n, rerr = unix.Read(int(fd), buf)
			if rerr != unix.EINTR {
				break
			}
		}
		return !(wait && rerr == unix.EAGAIN)
	})
	if err != nil {
		return 0, err
	}
	if rerr == unix.EAGAIN {
		return 0, nil
	}
	if rerr != nil {
		return 0, os.NewSyscallError("read inotify", rerr)
	}
	return n, nil
}

// parseEvents calls fn for each inotify event in buf.
func parseEvents(buf []byte, fn func(wd int32, mask uint32, name string)) {
	for len(buf) >= unix.SizeofInotifyEvent {
		wd := int32(binary.NativeEndian.Uint32(buf[0:]))
		mask := binary.NativeEndian.Uint32(buf[4:])
		end := unix.SizeofInotifyEvent + int(binary.NativeEndian.Uint32(buf[12:]))
		if end > len(buf) {
			return
		}
		name := buf[unix.SizeofInotifyEvent:end]
		if i := bytes.IndexByte(name, 0); i >= 0 {
			name = name[:i]
		}
		fn(wd, mask, string(name))
		buf = buf[end:]
	}
}

// handle notes what one inotify event says is to be looked at.
func (w *watcher) handle(wd int32, mask uint32, name string) {
	if mask&unix.IN_Q_OVERFLOW != 0 {
		w.lost = true
		return
	}
	d := w.wds[wd]
	if d == nil {
		return // a watch already dropped
	}
	switch {
	case mask&(unix.IN_IGNORED|unix.IN_DELETE_SELF|unix.IN_UNMOUNT) != 0:
		d.dead = true
		if mask&unix.IN_IGNORED != 0 {
			// The kernel dropped the watch: its number is not ours to
			// remove any more.
			delete(w.wds, wd)
			d.wd = -1
		}
		w.mark(d.rel, false).self = true
	case mask&unix.IN_MOVE_SELF != 0 || name == "":
		w.mark(d.rel, false).self = true
	case mask&unix.IN_CREATE != 0 && mask&unix.IN_ISDIR == 0:
		// A file being created: it counts once written and closed.
	case name[0] == '.' && name != typeFile:
		// Temporaries (isTemp), spares (sparePrefix) and other hidden
		// names are no virtual files; renaming one over a file or
		// exchanging it with one names the file as well.
	default:
		w.mark(d.rel, false).names[name] = true
	}
}

func (w *watcher) mark(rel string, quiet bool) *dirtyDir {
	dd := w.dirty[rel]
	if dd == nil {
		dd = &dirtyDir{names: map[string]bool{}, quiet: quiet}
		w.dirty[rel] = dd
	}
	dd.quiet = dd.quiet && quiet
	return dd
}

// isUnder reports whether the backing path rel is watched: at or below a
// watched path.
func (w *watcher) isUnder(rel string) bool {
	for _, r := range w.roots {
		if r == "." || rel == r || strings.HasPrefix(rel, r+"/") {
			return true
		}
	}
	return false
}

func vpathOf(rel string) string {
	if rel == "." || rel == "" {
		return "/"
	}
	return "/" + rel
}

func isStatusName(name string) bool {
	return strings.HasSuffix(name, statusSuffix) && len(name) > len(statusSuffix)
}

// addDir watches the backing directory rel, unless it is watched, and
// marks it to be looked at whole; it reports whether rel holds a type
// marker.
func (w *watcher) addDir(rel string, quiet bool, evs *[]Event) (bool, error) {
	r, err := w.t.store.root.OpenRoot(rel)
	if err != nil {
		return false, err
	}
	defer r.Close()
	df, err := r.Open(".")
	if err != nil {
		return false, err
	}
	defer df.Close()
	fi, err := df.Stat()
	if err != nil {
		return false, err
	}
	_, terr := r.Lstat(typeFile)
	typed := terr == nil
	ino := inoOf(fi)
	if d := w.dirs[rel]; d != nil && !d.dead && d.ino == ino {
		return typed, nil
	}
	var wd int
	var werr error
	cerr := w.rc.Control(func(fd uintptr) {
		// By descriptor: the directory opened through the tree's root.
		wd, werr = unix.InotifyAddWatch(int(fd), fmt.Sprintf("/proc/self/fd/%d", df.Fd()), watchMask)
		if errors.Is(werr, unix.ENOENT) { // no /proc: by name
			wd, werr = unix.InotifyAddWatch(int(fd), filepath.Join(w.t.store.dir, filepath.FromSlash(rel)), watchMask|unix.IN_DONT_FOLLOW)
		}
	})
	if cerr != nil {
		return false, cerr
	}
	if werr != nil {
		return false, os.NewSyscallError("inotify_add_watch", werr)
	}
	if old := w.wds[int32(wd)]; old != nil && old.rel != rel {
		// The same directory under a new name (moved): nothing is left
		// under the old one.
		w.dropTree(old.rel, int32(wd), evs)
	}
	if w.dirs[rel] != nil {
		w.dropTree(rel, int32(wd), evs) // replaced
	}
	d := &wdir{rel: rel, wd: int32(wd), ino: ino, ents: map[string]ent{}}
	if typed {
		if st, err := r.Lstat(typeFile); err == nil {
			d.ents[typeFile] = entOf(st)
		}
	}
	w.dirs[rel] = d
	w.wds[d.wd] = d
	w.mark(rel, quiet).all = true
	return typed, nil
}

func (w *watcher) rmWatch(wd int32) {
	_ = w.rc.Control(func(fd uintptr) {
		_, _ = unix.InotifyRmWatch(int(fd), uint32(wd))
	})
}

// dropTree forgets the watched directory rel and everything below it,
// reporting each watched path gone (the directory's last). keep is a
// watch descriptor now serving another directory, not to be removed.
func (w *watcher) dropTree(rel string, keep int32, evs *[]Event) {
	if d := w.dirs[rel]; d != nil {
		delete(w.dirs, rel)
		delete(w.dirty, rel)
		if w.wds[d.wd] == d {
			delete(w.wds, d.wd)
		}
		if d.wd != keep && d.wd >= 0 {
			w.rmWatch(d.wd)
		}
		bases := map[string]bool{}
		for _, name := range sortedKeys(d.ents) {
			switch e := d.ents[name]; {
			case e.dir:
				w.dropTree(joinRel(rel, name), keep, evs)
			case name[0] == '.':
			case isStatusName(name):
				bases[strings.TrimSuffix(name, statusSuffix)] = true
			default:
				bases[name] = true
			}
		}
		for _, b := range sortedKeys(bases) {
			if c := joinRel(rel, b); w.isUnder(c) {
				*evs = append(*evs, Event{Path: vpathOf(c), Change: Removed})
			}
		}
	}
	w.t.forgetTree(rel)
	if rel != "." {
		pdir, base := splitRel(rel)
		if p := w.dirs[pdir]; p != nil {
			delete(p.ents, base)
		}
	}
	if w.isUnder(rel) {
		*evs = append(*evs, Event{Path: vpathOf(rel), Change: Removed, Dir: true})
	}
}

// gone handles the watched directory d no longer being what was watched:
// its parent, if watched, looks at its name again; otherwise it is
// dropped.
func (w *watcher) gone(d *wdir, quiet bool, evs *[]Event) {
	if d.rel != "." {
		pdir, base := splitRel(d.rel)
		if p := w.dirs[pdir]; p != nil && !p.dead {
			d.dead = true
			w.mark(pdir, quiet).names[base] = true
			return
		}
	}
	w.dropTree(d.rel, -1, evs)
}

// reconcile looks at every directory marked, deepest first (those found
// meanwhile too), until none is left but those being stored, and returns
// what changed: so a directory's paths are reported removed before it,
// and the root's changes last.
func (w *watcher) reconcile(ctx context.Context) []Event {
	var evs []Event
	if w.lost {
		w.lost = false
		evs = append(evs, Event{Path: "/", Change: Lost, Dir: true})
		w.t.forgetAll()
		for rel := range w.dirs {
			w.mark(rel, false).all = true
		}
	}
	busy := map[string]bool{}
	for w.ended == nil {
		var todo []string
		for rel := range w.dirty {
			if !busy[rel] {
				todo = append(todo, rel)
			}
		}
		if len(todo) == 0 {
			break
		}
		// The deepest only: looking at them may mark deeper ones (new
		// directories), to be looked at before the shallower.
		deepest := 0
		for _, rel := range todo {
			deepest = max(deepest, depth(rel))
		}
		todo = slices.DeleteFunc(todo, func(rel string) bool { return depth(rel) < deepest })
		sort.Strings(todo)
		for _, rel := range todo {
			dd := w.dirty[rel]
			if dd == nil {
				continue // dropped meanwhile
			}
			delete(w.dirty, rel)
			d := w.dirs[rel]
			if d == nil {
				continue
			}
			if w.reconcileDir(ctx, d, dd, &evs) {
				busy[rel] = true
				if more := w.dirty[rel]; more != nil {
					for n := range more.names {
						dd.names[n] = true
					}
					dd.self, dd.all = dd.self || more.self, dd.all || more.all
				}
				w.dirty[rel] = dd
			}
		}
	}
	if len(busy) > 0 {
		w.backoff = min(max(2*w.backoff, time.Millisecond), watchMaxBackoff)
	} else {
		w.backoff = 0
	}
	return evs
}

func depth(rel string) int {
	if rel == "." {
		return 0
	}
	return strings.Count(rel, "/") + 1
}

// reconcileDir compares the entries of d that dd names with what the
// watcher knew, records them, drops the caches they concern and appends
// the changes to evs. It reports true, doing nothing, while a store holds
// the directory's lock.
func (w *watcher) reconcileDir(ctx context.Context, d *wdir, dd *dirtyDir, evs *[]Event) bool {
	out := evs
	if dd.quiet {
		var discard []Event
		evs = &discard
		defer func() {
			for _, e := range discard {
				if e.Change&Lost != 0 {
					*out = append(*out, e)
				}
			}
		}()
	}
	r, err := w.t.store.root.OpenRoot(d.rel)
	var df *os.File
	if err == nil {
		defer r.Close()
		df, err = r.Open(".")
	}
	var fi fs.FileInfo
	if err == nil {
		defer df.Close()
		fi, err = df.Stat()
	}
	switch {
	case errors.Is(err, fs.ErrClosed):
		w.ended = errors.New("the tree was closed")
		return false
	case err != nil && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR):
		// There, but not for us (a permission changed).
		if w.isUnder(d.rel) {
			*evs = append(*evs, Event{Path: vpathOf(d.rel), Change: Lost, Dir: true, Err: unwrapPath(err)})
		}
		return false
	case err != nil || d.dead || inoOf(fi) != d.ino:
		w.gone(d, dd.quiet, evs)
		return false
	}
	if !dd.quiet {
		// A store of content and status holds the lock exclusively: look
		// once it is done, so that both are seen together.
		if err := unix.Flock(int(df.Fd()), unix.LOCK_SH|unix.LOCK_NB); errors.Is(err, unix.EWOULDBLOCK) {
			return true
		}
		if dd.self {
			w.t.forgetChanged(d.rel, "")
		}
	}
	names := dd.names
	if dd.all {
		names = map[string]bool{}
		for n := range dd.names {
			names[n] = true
		}
		list, _ := df.Readdirnames(-1)
		for _, n := range list {
			names[n] = true
		}
		for n := range d.ents {
			names[n] = true
		}
	}
	// A file and its status are looked at together, whichever was named:
	// a store writes both under the lock, and the event of the second may
	// not have been read yet when the first's is.
	bases := map[string]bool{}
	typeChanged := false
	for n := range names {
		switch {
		case n == typeFile:
			typeChanged = true
		case n == "" || n[0] == '.':
		case isStatusName(n):
			bases[strings.TrimSuffix(n, statusSuffix)] = true
		default:
			bases[n] = true
		}
	}
	if typeChanged {
		old, had := d.ents[typeFile]
		st, err := r.Lstat(typeFile)
		changed := false
		if err != nil {
			delete(d.ents, typeFile)
		} else {
			e := entOf(st)
			changed = !had || e != old
			d.ents[typeFile] = e
		}
		if !dd.quiet {
			w.t.forgetChanged(d.rel, typeFile)
		}
		if changed && w.isUnder(d.rel) {
			*evs = append(*evs, Event{Path: vpathOf(d.rel), Change: Type, Dir: true})
		}
	}
	for _, base := range sortedKeys(bases) {
		child := joinRel(d.rel, base)
		oldF, hadF := d.ents[base]
		st, err := r.Lstat(base)
		isDir := err == nil && st.IsDir()
		if hadF && oldF.dir && !isDir {
			w.dropTree(child, -1, evs) // a directory gone (or a file now)
			hadF = false
		}
		if isDir {
			w.reconcileSubdir(d, base, st, dd.quiet, evs)
			continue
		}
		if err == nil {
			d.ents[base] = entOf(st)
		} else {
			delete(d.ents, base)
		}
		if !dd.quiet {
			w.t.forgetChanged(d.rel, base)
		}
		sname := base + statusSuffix
		oldS, hadS := d.ents[sname]
		if st, err := r.Lstat(sname); err == nil && !st.IsDir() {
			d.ents[sname] = entOf(st)
		} else {
			delete(d.ents, sname)
		}
		nowF, hasF := d.ents[base]
		nowS, hasS := d.ents[sname]
		var ch Change
		switch had, has := hadF || hadS, hasF || hasS; {
		case !had && has:
			ch = Created
			if hasF {
				ch |= Content
			}
			if hasS {
				ch |= Status
			}
		case had && !has:
			ch = Removed
		default:
			if hadF != hasF || hasF && nowF != oldF {
				ch |= Content
			}
			if hasS && (!hadS || nowS != oldS) {
				ch |= Status
			}
		}
		if ch == 0 || !w.isUnder(child) {
			continue
		}
		ev := Event{Path: vpathOf(child), Change: ch}
		if ch&Status != 0 && w.out != nil && !dd.quiet {
			ev.RC, ev.Message, _ = w.t.Status(ctx, ev.Path)
		}
		*evs = append(*evs, ev)
	}
	return false
}

// reconcileSubdir handles the entry base of d, found to be the directory
// st: a new one is watched if it is under a watched path, one that
// replaced another under the same name too, after the old is dropped.
func (w *watcher) reconcileSubdir(d *wdir, base string, st fs.FileInfo, quiet bool, evs *[]Event) {
	child := joinRel(d.rel, base)
	ino := inoOf(st)
	old, had := d.ents[base]
	if had && !old.dir {
		// A file replaced by a directory.
		delete(d.ents, base)
		delete(d.ents, base+statusSuffix)
		if w.isUnder(child) {
			*evs = append(*evs, Event{Path: vpathOf(child), Change: Removed})
		}
		had = false
	}
	sub := w.dirs[child]
	if had && old.ino != ino || sub != nil && (sub.dead || sub.ino != ino) {
		w.dropTree(child, -1, evs) // another directory under the same name
		had, sub = false, nil
	}
	d.ents[base] = ent{dir: true, ino: ino}
	if !quiet {
		w.t.forgetChanged(child, "")
	}
	if !w.isUnder(child) || sub != nil {
		return
	}
	typed, err := w.addDir(child, quiet, evs)
	if !had {
		ev := Event{Path: vpathOf(child), Change: Created, Dir: true}
		if typed {
			ev.Change |= Type
		}
		*evs = append(*evs, ev)
	}
	if err != nil {
		*evs = append(*evs, Event{Path: vpathOf(child), Change: Lost, Dir: true, Err: unwrapPath(err)})
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
