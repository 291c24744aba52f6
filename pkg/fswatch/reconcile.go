package fswatch

import (
	"errors"
	"io/fs"
	"os"
	"slices"
	"sort"
	"syscall"
	"time"
)

// reconcile looks at every directory marked, deepest first (those found
// meanwhile too), until none is left but busy ones, and returns what
// changed: so what was below a directory is reported removed before it,
// and the root's changes come last.
func (w *Watcher) reconcile() Batch {
	var b Batch
	if w.lost {
		w.lost = false
		b.Lost = true
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
			if w.reconcileDir(d, dd, &b.Changes) {
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
		b.Busy = sortedKeys(busy)
		w.backoff = min(max(2*w.backoff, time.Millisecond), maxBackoff)
	} else {
		w.backoff = 0
	}
	return b
}

// reconcileDir compares the entries of d that dd names with what the
// watcher knew, records them and appends the changes to evs. It reports
// true, doing nothing, while Options.Busy says the directory is busy.
func (w *Watcher) reconcileDir(d *wdir, dd *dirtyDir, evs *[]Change) bool {
	out := evs
	if dd.quiet {
		var discard []Change
		evs = &discard
		defer func() {
			for _, c := range discard {
				if c.Err != nil {
					*out = append(*out, c)
				}
			}
		}()
	}
	r, err := w.openDir(d.rel)
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
		w.ended = ErrRootClosed
		return false
	case err != nil && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR):
		// There, but not for us (a permission changed).
		if w.isUnder(d.rel) {
			*evs = append(*evs, Change{Path: d.rel, Err: err})
		}
		return false
	case err != nil || d.dead || inoOf(fi) != d.ino:
		w.gone(d, dd.quiet, evs)
		return false
	}
	if !dd.quiet {
		if w.opts.Busy != nil && w.opts.Busy(df) {
			return true
		}
		if dd.self {
			w.looked(d.rel, true)
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
	// An entry and its sidecars are looked at together, whichever was
	// named: they are written together, and the event of the last may
	// not have been read yet when the first's is.
	groups := map[string][]string{}
	for n := range names {
		if n == "" || w.ignore(n) {
			continue
		}
		if g := w.group(n); groups[g[0]] == nil {
			groups[g[0]] = g
		}
	}
	for _, key := range sortedKeys(groups) {
		w.reconcileGroup(r, d, groups[key], dd.quiet, evs)
	}
	return false
}

// reconcileGroup looks at the entry g[0] of d and its sidecars g[1:].
func (w *Watcher) reconcileGroup(r *os.Root, d *wdir, g []string, quiet bool, evs *[]Change) {
	child := joinRel(d.rel, g[0])
	st, err := r.Lstat(g[0])
	isDir := err == nil && st.IsDir()
	if old, had := d.ents[g[0]]; had && old.Dir && !isDir {
		w.dropTree(child, -1, evs) // a directory gone (or a file now)
	}
	if isDir {
		w.reconcileSubdir(d, g, st, quiet, evs)
		return
	}
	changes := make([]Change, len(g))
	changed := false
	for i, name := range g {
		c := Change{Path: joinRel(d.rel, name), Old: d.ents[name]}
		if i > 0 {
			st, err = r.Lstat(name)
		}
		if err == nil && !st.IsDir() {
			c.New = statOf(st)
			d.ents[name] = c.New
		} else {
			delete(d.ents, name)
		}
		if !quiet {
			w.looked(c.Path, false)
		}
		changes[i] = c
		changed = changed || c.New != c.Old
	}
	if changed && w.isUnder(child) {
		*evs = append(*evs, changes...)
	}
}

// reconcileSubdir handles the entry g[0] of d, found to be the directory
// st: a new one is watched if it is under a watched path, one that
// replaced another under the same name too, after the old is dropped.
func (w *Watcher) reconcileSubdir(d *wdir, g []string, st fs.FileInfo, quiet bool, evs *[]Change) {
	base := g[0]
	child := joinRel(d.rel, base)
	ino := inoOf(st)
	old, had := d.ents[base]
	if had && !old.Dir {
		// A file replaced by a directory: gone with its sidecars.
		var gone []Change
		for _, n := range g {
			gone = append(gone, Change{Path: joinRel(d.rel, n), Old: d.ents[n]})
			delete(d.ents, n)
		}
		if w.isUnder(child) {
			*evs = append(*evs, gone...)
		}
		had = false
	}
	sub := w.dirs[child]
	if had && old.Ino != ino || sub != nil && (sub.dead || sub.ino != ino) {
		w.dropTree(child, -1, evs) // another directory under the same name
		had, sub = false, nil
	}
	now := Stat{Exists: true, Dir: true, Ino: ino}
	d.ents[base] = now
	if !quiet {
		w.looked(child, true)
	}
	if !w.isUnder(child) || sub != nil {
		return
	}
	err := w.addDir(child, quiet, evs)
	if !had {
		*evs = append(*evs, Change{Path: child, New: now})
	}
	if err != nil {
		*evs = append(*evs, Change{Path: child, Err: err})
	}
}
