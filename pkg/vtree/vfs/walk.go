package vfs

import (
	"context"
	"errors"
	"io/fs"
	"path"
	"runtime"
	"strings"
	"sync"

	"github.com/smctl/smctl/pkg/vtree"
)

// WalkFunc is called by Walk for each entry, as fs.WalkDirFunc.
type WalkFunc func(p string, e *vtree.Entry, err error) error

// WalkOptions tune Walk.
type WalkOptions struct {
	// MaxDepth stops descending below this depth (the start is depth 0);
	// negative means no limit.
	MaxDepth int
}

// Walk visits the tree below the virtual path start in lexical order,
// as fs.WalkDir does, calling fn for start itself with a nil entry. It runs
// no agents. It does not enter live directories (whose listing asks the
// node, and whose /proc and /sys hold cycles) unless start is inside one.
// fn may return fs.SkipDir or fs.SkipAll.
//
// fn is called on the goroutine that called Walk, one call at a time; the
// directories the walk will enter next are listed ahead of it by a few
// other goroutines, so t's ReadDir must be safe for concurrent use. None
// of them outlives Walk.
//
// A start that does not exist but is a pattern (HasPattern: node sets,
// @groups, globs) is expanded as Expand does, and each path it names is
// walked in turn; a part that names nothing is reported to fn with start.
func Walk(ctx context.Context, t Tree, start string, opts WalkOptions, fn WalkFunc) error {
	start, err := vtree.Clean(start)
	if err != nil {
		return err
	}
	if HasPattern(start) {
		if _, err := t.Stat(ctx, start); err != nil {
			return walkPattern(ctx, t, start, opts, fn)
		}
	}
	return walkStart(ctx, t, start, opts, fn)
}

// walkPattern walks each path the pattern start expands to.
func walkPattern(ctx context.Context, t Tree, start string, opts WalkOptions, fn WalkFunc) error {
	paths, errs := Expand(ctx, t, start)
	for _, e := range errs {
		if err := fn(start, nil, e); err != nil {
			if errors.Is(err, fs.SkipDir) || errors.Is(err, fs.SkipAll) {
				return nil
			}
			return err
		}
	}
	for _, p := range paths {
		if err := walkStart(ctx, t, p, opts, fn); err != nil {
			return err
		}
	}
	return nil
}

func walkStart(ctx context.Context, t Tree, start string, opts WalkOptions, fn WalkFunc) error {
	info, err := t.Stat(ctx, start)
	if err != nil {
		return fn(start, nil, err)
	}
	if err := fn(start, nil, nil); err != nil || !info.IsDir() {
		if errors.Is(err, fs.SkipDir) || errors.Is(err, fs.SkipAll) {
			return nil
		}
		return err
	}
	w := &walker{ctx: ctx, t: t, opts: opts, fn: fn, procs: readDirProcs()}
	defer w.close()
	err = w.walk(start, 1, info.Live, nil)
	if errors.Is(err, fs.SkipAll) {
		return nil
	}
	return err
}

// readAheadWindow is how many child directories of the directory being
// walked may be listed ahead of the walk.
const readAheadWindow = 64

// readDirProcs is how many ReadDir calls one Walk runs at once at most.
// Listings spend much of their time in system calls, so a few more than
// the processors keep them busy.
func readDirProcs() int { return runtime.GOMAXPROCS(0) + 2 }

// walker is one walk from a start directory. The callback fn runs on the
// walking goroutine only, in lexical order, while up to procs workers list
// the directories it will enter next, in the order they are queued. The
// workers are started as listings are first queued and live until close;
// they never wait for the walking goroutine, so it may wait for them.
type walker struct {
	ctx     context.Context
	t       Tree
	opts    WalkOptions
	fn      WalkFunc
	procs   int
	workers int
	jobs    chan *listing
	wg      sync.WaitGroup
}

// listing is one directory's ReadDir, run by a worker: es and err are set
// before done is closed. It is skipped if quit is closed before it starts.
type listing struct {
	e    *vtree.Entry
	quit <-chan struct{}
	done chan struct{}
	es   []*vtree.Entry
	err  error
}

// list queues the listing of the directory e, starting a worker if fewer
// than procs run.
func (w *walker) list(e *vtree.Entry, quit <-chan struct{}) *listing {
	if w.jobs == nil {
		w.jobs = make(chan *listing, readAheadWindow)
	}
	if w.workers < w.procs {
		w.workers++
		w.wg.Add(1)
		go w.work()
	}
	l := &listing{e: e, quit: quit, done: make(chan struct{})}
	w.jobs <- l
	return l
}

// work runs queued listings until close.
func (w *walker) work() {
	defer w.wg.Done()
	for l := range w.jobs {
		select {
		case <-l.quit:
		default:
			l.es, l.err = w.readDir(l.e)
		}
		close(l.done)
	}
}

// entryLister lists a directory from its entry in an earlier listing
// (vtree.Tree.ReadDirEntry), without resolving its path again.
type entryLister interface {
	ReadDirEntry(ctx context.Context, e *vtree.Entry) ([]*vtree.Entry, error)
}

// readDir lists the directory e.
func (w *walker) readDir(e *vtree.Entry) ([]*vtree.Entry, error) {
	if el, ok := w.t.(entryLister); ok {
		return el.ReadDirEntry(w.ctx, e)
	}
	return w.t.ReadDir(w.ctx, e.Path())
}

// close stops the workers and returns once they are done, so that no
// goroutine outlives the walk.
func (w *walker) close() {
	if w.jobs != nil {
		close(w.jobs)
		w.wg.Wait()
	}
}

// walk visits the entries of dir, at depth, and the directories below it.
// l is the listing of dir read ahead, or nil to read dir here.
func (w *walker) walk(dir string, depth int, inLive bool, l *listing) error {
	if w.opts.MaxDepth >= 0 && depth > w.opts.MaxDepth {
		return nil
	}
	if err := w.ctx.Err(); err != nil {
		return err
	}
	var es []*vtree.Entry
	var err error
	if l != nil {
		<-l.done
		es, err = l.es, l.err
	} else {
		es, err = w.t.ReadDir(w.ctx, dir)
	}
	if err != nil {
		return w.fn(dir, nil, err)
	}
	enters := func(e *vtree.Entry) bool { return e.IsDir() && (!e.Live() || inLive) }
	var ra *readAhead
	if w.opts.MaxDepth < 0 || depth+1 <= w.opts.MaxDepth {
		ra = &readAhead{w: w, es: es, enters: enters}
		defer ra.stop()
	}
	for i, e := range es {
		ra.fill(i)
		err := w.fn(e.Path(), e, nil)
		if errors.Is(err, fs.SkipDir) {
			continue
		}
		if err != nil {
			return err
		}
		if enters(e) {
			if err := w.walk(e.Path(), depth+1, inLive, ra.listing(i)); err != nil {
				return err
			}
		}
	}
	return nil
}

// readAhead queues the listings of the directories among the entries es
// of one directory that the walk will enter, in order, at most
// readAheadWindow of them ahead of the entry the walk is at.
type readAhead struct {
	w      *walker
	es     []*vtree.Entry
	enters func(*vtree.Entry) bool
	ls     []*listing // ls[i] is the listing of es[i], once queued.
	next   int        // next is the index of the first entry not yet considered.
	ahead  int        // ahead counts the listings queued at or after the walk's entry.
	quit   chan struct{}
}

// fill queues the listings of the directories from es[i] on, up to the
// window, as the walk reaches es[i]. A nil readAhead queues nothing.
func (r *readAhead) fill(i int) {
	if r == nil {
		return
	}
	// The walk has left es[i-1]: its listing, if any, is no longer ahead.
	if i > 0 && r.ls != nil && r.ls[i-1] != nil {
		r.ahead--
	}
	for ; r.next < len(r.es) && r.ahead < readAheadWindow; r.next++ {
		e := r.es[r.next]
		if !r.enters(e) {
			continue
		}
		if r.ls == nil {
			r.ls = make([]*listing, len(r.es))
			r.quit = make(chan struct{})
		}
		r.ls[r.next] = r.w.list(e, r.quit)
		r.ahead++
	}
}

// listing returns the listing of es[i] (nil if none was queued).
func (r *readAhead) listing(i int) *listing {
	if r == nil || r.ls == nil {
		return nil
	}
	return r.ls[i]
}

// stop drops the listings not started yet when the walk leaves the
// directory: those of directories skipped, or all that remain when the
// walk ends early.
func (r *readAhead) stop() {
	if r.quit != nil {
		close(r.quit)
	}
}

// HasMeta reports whether p contains glob metacharacters.
func HasMeta(p string) bool { return strings.ContainsAny(p, `*?[\`) }

// Glob returns the virtual paths matching the pattern, sorted, expanding
// *, ? and [...] per path element as the shell does; it runs no agents.
// Live directories are matched too when the pattern reaches into one; a
// literal name inside one is kept without asking the node (its read will
// say if it is missing).
//
// As in the shell, "[!...]" is a negated class (path.Match's "[^...]").
func Glob(ctx context.Context, t Tree, pattern string) ([]string, error) {
	orig := pattern
	pattern = shellClasses(pattern)
	if _, err := path.Match(pattern, ""); err != nil {
		return nil, &fs.PathError{Op: "glob", Path: orig, Err: err}
	}
	clean, err := vtree.Clean(pattern)
	if err != nil {
		return nil, err
	}
	if !HasMeta(clean) {
		if _, err := t.Stat(ctx, clean); err != nil {
			return nil, err
		}
		return []string{clean}, nil
	}
	cur := []string{"/"}
	for _, el := range strings.Split(clean[1:], "/") {
		var next []string
		for _, dir := range cur {
			if !HasMeta(el) {
				p := path.Join(dir, el)
				// Inside a live directory (one whose parent resolves as
				// live) a literal name is not checked: that would cost a
				// round trip to every node before the read that follows,
				// which reports a missing file anyway.
				if r, err := t.Resolve(ctx, dir); err == nil && r.Live {
					next = append(next, p)
					continue
				}
				if _, err := t.Stat(ctx, p); err == nil {
					next = append(next, p)
				}
				continue
			}
			es, err := t.ReadDir(ctx, dir)
			if err != nil {
				continue
			}
			for _, e := range es {
				if ok, _ := path.Match(el, e.Name()); ok {
					next = append(next, e.Path())
				}
			}
		}
		cur = next
	}
	if len(cur) == 0 {
		return nil, &fs.PathError{Op: "glob", Path: orig, Err: errors.New("no match")}
	}
	return cur, nil
}

// shellClasses rewrites the shell's negated classes "[!...]" of pattern
// as path.Match writes them, "[^...]".
func shellClasses(pattern string) string {
	b := []byte(pattern)
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '[':
			if i+1 < len(b) && b[i+1] == '!' {
				b[i+1] = '^'
			}
			// Skip to the end of the class: a '[' inside it is itself.
			for i++; i < len(b) && b[i] != ']'; i++ {
				if b[i] == '\\' {
					i++
				}
			}
		}
	}
	return string(b)
}
