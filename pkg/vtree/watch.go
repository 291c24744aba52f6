package vtree

// Change notification for a tree that lives (smctl serve, smctl watch):
// Watch reports what changes in the backing tree, whoever writes it, and
// keeps the tree's caches coherent with it; Live does only the latter.
// pkg/fswatch watches the backing tree; this file maps what it finds to
// virtual paths, NAME and NAME.status together.

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"syscall"

	"github.com/smctl/smctl/pkg/fswatch"
	"github.com/smctl/smctl/pkg/vtree/store"
)

// backingRoot is the backing tree, watched through its root.
func (t *Tree) backingRoot() *os.Root { return t.store.Root() }

// forgetAllDirs closes the directories the store keeps open.
func (t *Tree) forgetAllDirs() { t.store.ForgetAllDirs() }

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
// Events are computed, not relayed (see package fswatch): one logical
// write gives one event per path whatever the system calls behind it
// (temporaries renamed over a file, spares exchanged, a store of content
// and status under the directory's flock, which the watch waits for);
// hidden names give none; a path written again before the watch looked
// gives one event for both writes; files written in place are reported
// when closed. Events for one path come in order; a directory's Created
// comes before its paths', and its paths' Removed before its own.
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
	if _, err := t.watch(ctx, paths, out, nil); err != nil {
		return nil, err
	}
	return out, nil
}

// Live keeps the tree's caches coherent with the whole backing tree until
// ctx ends, as Watch does for what it watches, for a tree that lives
// longer than one command. The returned channel is closed once it has
// stopped.
func (t *Tree) Live(ctx context.Context) (<-chan struct{}, error) {
	return t.watch(ctx, []string{"/"}, nil, nil)
}

// watch watches paths until ctx ends, sending events on out (closed at the
// end) unless it is nil, and calling hook (tests) after each round.
func (t *Tree) watch(ctx context.Context, paths []string, out chan<- Event, hook func(fswatch.Batch)) (<-chan struct{}, error) {
	if len(paths) == 0 {
		return nil, errors.New("watch: no paths")
	}
	rels := make([]string, 0, len(paths))
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
		if n.special == specialStatus {
			n.rel = strings.TrimSuffix(n.rel, statusSuffix)
		}
		rels = append(rels, n.rel)
	}
	w, err := fswatch.New(t.backingRoot(), rels, fswatch.Options{
		Ignore: func(name string) bool { return name[0] == '.' && name != typeFile },
		Group: func(name string) []string { // a file and its status
			if name == typeFile {
				return nil
			}
			base, _ := strings.CutSuffix(name, statusSuffix) // never ".status": hidden
			return []string{base, base + statusSuffix}
		},
		Busy: func(d *os.File) bool { // a store holds the lock exclusively
			return syscall.Flock(int(d.Fd()), syscall.LOCK_SH|syscall.LOCK_NB) == syscall.EWOULDBLOCK
		},
		Looked: t.forgetChanged,
	})
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return nil, pathErr("watch", vpathOf(pe.Path), pe.Err)
		}
		return nil, err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		send := func(evs ...Event) {
			for _, e := range evs {
				select {
				case out <- e:
				case <-ctx.Done():
					return
				}
			}
		}
		err := w.Run(ctx, func(b fswatch.Batch) {
			evs := t.round(ctx, b, out != nil)
			if hook != nil {
				hook(b)
			}
			send(evs...)
		})
		if out != nil {
			if errors.Is(err, fswatch.ErrRootClosed) {
				err = errors.New("the tree was closed")
			}
			if err != nil {
				send(Event{Path: "/", Change: Lost, Dir: true, Err: fmt.Errorf("watch ended: %w", err)})
			}
			close(out)
		}
	}()
	return done, nil
}

// round takes in what a round of the watch found in the backing tree: it
// drops the caches if changes were lost and, if want, returns the events,
// reading the statuses written.
func (t *Tree) round(ctx context.Context, b fswatch.Batch, want bool) []Event {
	if b.Lost {
		t.forgetAll()
	}
	if !want {
		return nil
	}
	var evs []Event
	if b.Lost {
		evs = append(evs, Event{Path: "/", Change: Lost, Dir: true})
	}
	made := map[string]int{} // directories created: their event
	for i := 0; i < len(b.Changes); i++ {
		c := b.Changes[i]
		dir, name := store.SplitRel(c.Path)
		ev := Event{Path: vpathOf(c.Path), Dir: true}
		switch {
		case c.Err != nil:
			ev.Change, ev.Err = Lost, unwrapPath(c.Err)
		case c.New.Dir:
			ev.Change = Created
			made[ev.Path] = len(evs)
		case c.Old.Dir:
			ev.Change = Removed
		case name == typeFile:
			if !c.New.Exists || c.New == c.Old {
				continue
			}
			ev.Path, ev.Change = vpathOf(dir), Type
			if j, ok := made[ev.Path]; ok {
				evs[j].Change |= Type // found with the directory
				continue
			}
		default:
			var s fswatch.Change // NAME.status, right after NAME
			if i+1 < len(b.Changes) && b.Changes[i+1].Path == c.Path+statusSuffix {
				i++
				s = b.Changes[i]
			}
			ev.Dir, ev.Change = false, fileChange(c, s)
			if ev.Change == 0 {
				continue
			}
			if ev.Change&Status != 0 {
				ev.RC, ev.Message, _ = t.Status(ctx, ev.Path)
			}
		}
		evs = append(evs, ev)
	}
	return evs
}

// fileChange is the change of a file f with its status s.
func fileChange(f, s fswatch.Change) Change {
	var ch Change
	switch had, has := f.Old.Exists || s.Old.Exists, f.New.Exists || s.New.Exists; {
	case !had && has:
		ch = Created
	case had && !has:
		return Removed
	}
	if f.Old != f.New {
		ch |= Content
	}
	if s.New.Exists && s.New != s.Old {
		ch |= Status
	}
	return ch
}

func vpathOf(rel string) string {
	if rel == "." || rel == "" {
		return "/"
	}
	return "/" + rel
}

// forgetChanged drops what the tree's caches know that a change of the
// backing path p may have made wrong: a directory (or its type marker),
// everything at and below it; ids and lock, the directory's answer for
// them; any other attribute file, the device's attributes. Other names
// are not cached.
func (t *Tree) forgetChanged(p string, isDir bool) {
	dir, name := store.SplitRel(p)
	switch {
	case isDir:
		t.forgetTree(p)
	case name == typeFile:
		t.forgetTree(dir)
	case name == IDsName:
		t.forgetSpecial(dir, IDsName)
		t.idsMu.Lock()
		delete(t.ids, p)
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
	t.idsMu.Lock()
	deleteUnder(t.ids, dir)
	t.idsMu.Unlock()
	t.agentMu.Lock()
	deleteUnder(t.dirErr, dir)
	t.agentMu.Unlock()
}

func deleteUnder[V any](m map[string]V, dir string) {
	for k := range m {
		if k == dir || strings.HasPrefix(k, dir+"/") {
			delete(m, k)
		}
	}
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
	t.forgetAllDirs()
}
