// Package watch is change notification for a tree that lives (smctl
// serve, smctl watch): Watch reports what changes in a tree's backing tree,
// whoever writes it, and keeps the tree's caches coherent with it; Live
// does only the latter. pkg/fswatch watches the backing tree; this package
// maps what it finds to virtual paths, NAME and NAME.status together.
package watch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"syscall"

	"github.com/smctl/smctl/pkg/fswatch"
	"github.com/smctl/smctl/pkg/vtree"
	"github.com/smctl/smctl/pkg/vtree/store"
)

// Tree is what a watch needs of the tree it watches: *vtree.Tree.
type Tree interface {
	// BackingRoot is the backing tree, watched through its root.
	BackingRoot() *os.Root
	// WatchPath is the backing path that watching the virtual path p
	// watches (an error wrapping vtree.ErrLiveWatch for a live path).
	WatchPath(ctx context.Context, p string) (string, error)
	// Forget drops what the caches know that a change of the backing
	// path p may have made wrong; ForgetAll drops everything.
	Forget(p string, isDir bool)
	ForgetAll()
	// Status returns the status recorded for the file at virtual path p.
	Status(ctx context.Context, p string) (int, string, bool)
}

var _ Tree = (*vtree.Tree)(nil)

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

// Watch reports changes to the contents and statuses of the virtual paths
// of t given: a file (its stored value and its NAME.status; watching
// NAME.status is watching NAME), or a directory, meaning everything below
// it, recursively, including directories and devices made later. A path
// that does not exist yet, in an existing directory, is watched for its
// appearance. Writes by any process on this host count: other smctl
// commands, agents, an editor. Live directories (proc, sys) cannot be
// watched: the error wraps vtree.ErrLiveWatch. Other errors are t's
// (*fs.PathError values naming the virtual path).
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
// of it (Tree.Forget) before sending the event, so that an operation after
// the event sees the new state.
//
// Not covered: smctl.yaml and the agent directories; writes that inotify
// does not see (another host's, on a network file system); a directory
// whose name is a symlink (not followed); a file created by hard link or
// mknod, until it next changes. The status of an event is read as
// Tree.Status reads it, waiting for a writer's lock on the file.
func Watch(ctx context.Context, t Tree, paths []string) (<-chan Event, error) {
	out := make(chan Event)
	if _, err := start(ctx, t, paths, out); err != nil {
		return nil, err
	}
	return out, nil
}

// Live keeps the caches of t coherent with its whole backing tree until
// ctx ends, as Watch does for what it watches, for a tree that lives
// longer than one command. The returned channel is closed once it has
// stopped.
func Live(ctx context.Context, t Tree) (<-chan struct{}, error) {
	return start(ctx, t, []string{"/"}, nil)
}

// testHook, when set (by tests) before a watch starts, is called after
// each of its rounds.
var testHook func(fswatch.Batch)

// start watches paths until ctx ends, sending events on out (closed at the
// end) unless it is nil. The returned channel is closed once it has
// stopped.
func start(ctx context.Context, t Tree, paths []string, out chan<- Event) (<-chan struct{}, error) {
	if len(paths) == 0 {
		return nil, errors.New("watch: no paths")
	}
	rels := make([]string, 0, len(paths))
	for _, p := range paths {
		rel, err := t.WatchPath(ctx, p)
		if err != nil {
			return nil, err
		}
		rels = append(rels, rel)
	}
	w, err := fswatch.New(t.BackingRoot(), rels, fswatch.Options{
		Ignore: func(name string) bool { return name[0] == '.' && name != vtree.TypeFile && name != vtree.IndexFile },
		Group: func(name string) []string { // a file and its status
			if name == vtree.TypeFile || name == vtree.IndexFile {
				return nil
			}
			// never ".status" or ".stderr": hidden
			base, ok := strings.CutSuffix(name, vtree.StatusSuffix)
			if !ok {
				base, _ = strings.CutSuffix(name, vtree.StderrSuffix)
			}
			return []string{base, base + vtree.StatusSuffix, base + vtree.StderrSuffix}
		},
		Busy: func(d *os.File) bool { // a store holds the lock exclusively
			return syscall.Flock(int(d.Fd()), syscall.LOCK_SH|syscall.LOCK_NB) == syscall.EWOULDBLOCK
		},
		Looked: t.Forget,
	})
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return nil, &fs.PathError{Op: "watch", Path: vpathOf(pe.Path), Err: pe.Err}
		}
		return nil, err
	}
	hook := testHook
	idx := indexes{}
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
			evs := round(ctx, t, b, out != nil, idx)
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

// round takes in what a round of the watch found in the backing tree of t:
// it drops the caches if changes were lost and, if want, returns the
// events, reading the statuses written and the device indexes changed
// (idx, what they said when last read).
func round(ctx context.Context, t Tree, b fswatch.Batch, want bool, idx indexes) []Event {
	if b.Lost {
		t.ForgetAll()
	}
	if !want {
		return nil
	}
	var evs []Event
	if b.Lost {
		evs = append(evs, Event{Path: "/", Change: Lost, Dir: true})
	}
	made := map[string]int{} // directories created: their event
	creating := map[string]bool{}
	for _, c := range b.Changes {
		if c.New.Dir && !c.Old.Dir {
			creating[vpathOf(c.Path)] = true
		}
	}
	typed := map[string]bool{} // directories created later in the round that an index types
	for i := 0; i < len(b.Changes); i++ {
		c := b.Changes[i]
		dir, name := store.SplitRel(c.Path)
		ev := Event{Path: vpathOf(c.Path), Dir: true}
		switch {
		case c.Err != nil:
			ev.Change, ev.Err = Lost, unwrapPath(c.Err)
		case c.New.Dir:
			ev.Change = Created
			if typed[ev.Path] {
				ev.Change |= Type
			}
			made[ev.Path] = len(evs)
		case c.Old.Dir:
			ev.Change = Removed
		case name == vtree.IndexFile:
			for _, dev := range idx.typed(t.BackingRoot(), c) {
				p := vpathOf(store.JoinRel(dir, dev))
				if j, ok := made[p]; ok {
					evs[j].Change |= Type
				} else if creating[p] {
					typed[p] = true
				} else {
					evs = append(evs, Event{Path: p, Dir: true, Change: Type})
				}
			}
			continue
		case name == vtree.TypeFile:
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
			if i+1 < len(b.Changes) && b.Changes[i+1].Path == c.Path+vtree.StatusSuffix {
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

// vpathOf is the virtual path of the backing path rel.
func vpathOf(rel string) string {
	if rel == "." || rel == "" {
		return "/"
	}
	return "/" + rel
}

// unwrapPath strips a backing-tree *fs.PathError, which names a backing
// path, not the event's virtual one.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// indexes are the device indexes a watch has read, by backing path.
type indexes map[string]map[string]string

// typed returns the names of the devices whose type the change c of a
// device index gives or changes: compared with what the index said when
// last read, or, the first time, the lines appended since the watch last
// saw it (all of them for a new index). Removals say nothing: the
// directory's own removal is the event.
func (idx indexes) typed(root *os.Root, c fswatch.Change) []string {
	if !c.New.Exists {
		delete(idx, c.Path)
		return nil
	}
	// Trusted as the tree trusts it: anything else types nothing (and a
	// FIFO planted there is not waited on).
	b, err := store.ReadIndexFile(root, c.Path)
	var now map[string]string
	if err == nil {
		now, err = store.ParseIndex(b)
	}
	if err != nil {
		delete(idx, c.Path)
		return nil
	}
	before, seen := idx[c.Path]
	idx[c.Path] = now
	switch {
	case seen:
	case !c.Old.Exists:
		before = nil
	case c.Old.Ino == c.New.Ino && c.Old.Size <= int64(len(b)):
		// Appended to: what the lines before hold was known.
		head := b[:c.Old.Size]
		if i := bytes.LastIndexByte(head, '\n'); i >= 0 {
			head = head[:i+1]
		} else {
			head = nil
		}
		before, _ = store.ParseIndex(head)
	default:
		return nil // replaced, not read before: nothing to compare with
	}
	var out []string
	for name, typ := range now {
		if old, ok := before[name]; !ok || old != typ {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}
