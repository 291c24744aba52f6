package vfs

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smctl/smctl/pkg/vtree"
	"github.com/smctl/smctl/pkg/vtree/devices"
)

// listCounter is a tree whose ReadDir counts its calls and how many run at
// once, may take delay longer, fails for the paths in fail, and records a
// call begun once closed is set.
type listCounter struct {
	*vtree.Tree
	delay    time.Duration
	fail     map[string]bool
	calls    atomic.Int64
	running  atomic.Int64
	maxRun   atomic.Int64
	closed   atomic.Bool
	lateCall atomic.Value // the path of a call begun once closed
}

func (c *listCounter) ReadDir(ctx context.Context, p string) ([]*vtree.Entry, error) {
	return c.count(p, func() ([]*vtree.Entry, error) { return c.Tree.ReadDir(ctx, p) })
}

// ReadDirEntry is the walk's way to list (vtree.Tree.ReadDirEntry),
// counted as ReadDir.
func (c *listCounter) ReadDirEntry(ctx context.Context, e *vtree.Entry) ([]*vtree.Entry, error) {
	return c.count(e.Path(), func() ([]*vtree.Entry, error) { return c.Tree.ReadDirEntry(ctx, e) })
}

func (c *listCounter) count(p string, list func() ([]*vtree.Entry, error)) ([]*vtree.Entry, error) {
	if c.closed.Load() {
		c.lateCall.Store(p)
	}
	c.calls.Add(1)
	n := c.running.Add(1)
	defer c.running.Add(-1)
	for {
		m := c.maxRun.Load()
		if n <= m || c.maxRun.CompareAndSwap(m, n) {
			break
		}
	}
	time.Sleep(c.delay)
	if c.fail[p] {
		return nil, &fs.PathError{Op: "readdir", Path: p, Err: fs.ErrPermission}
	}
	return list()
}

// prefetchTree is 300 servers, and /lab, ten directories of ten
// directories each, some holding files and deeper directories.
func prefetchTree(t *testing.T) *vtree.Tree {
	t.Helper()
	tr := newTree(t, map[string]string{"server/power.read": "echo on"}, "server n[001-300] transport=local\n")
	ctx := context.Background()
	for i := range 10 {
		for j := range 10 {
			d := fmt.Sprintf("/lab/a%d/b%d", i, j)
			if (i+j)%3 == 0 {
				d += "/c/d"
			}
			if err := devices.MakeDirs(tr, d); err != nil {
				t.Fatal(err)
			}
			if j%4 == 0 {
				if _, err := tr.Write(ctx, d+"/note", []byte("x")); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	return tr
}

// sequentialWalk is Walk without read-ahead, for a start that is no
// pattern: each directory is listed when the walk enters it.
func sequentialWalk(ctx context.Context, t Tree, start string, opts WalkOptions, fn WalkFunc) error {
	start, err := vtree.Clean(start)
	if err != nil {
		return err
	}
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
	var walk func(dir string, depth int) error
	walk = func(dir string, depth int) error {
		if opts.MaxDepth >= 0 && depth > opts.MaxDepth {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		es, err := t.ReadDir(ctx, dir)
		if err != nil {
			return fn(dir, nil, err)
		}
		for _, e := range es {
			err := fn(e.Path(), e, nil)
			if errors.Is(err, fs.SkipDir) {
				continue
			}
			if err != nil {
				return err
			}
			if e.IsDir() && (!e.Live() || info.Live) {
				if err := walk(e.Path(), depth+1); err != nil {
					return err
				}
			}
		}
		return nil
	}
	err = walk(start, 1)
	if errors.Is(err, fs.SkipAll) {
		return nil
	}
	return err
}

// walkFn is a walk function under test: given the path, entry and error,
// it returns what the walk is told.
type walkFn func(p string, e *vtree.Entry, err error) error

// record runs walker over t with fn and returns each call of fn (path,
// whether it had an entry, error) and what the walk returned. It fails the
// test if fn is ever called while another call runs.
func record(t *testing.T, walker func(context.Context, Tree, string, WalkOptions, WalkFunc) error, ctx context.Context, tr Tree, start string, opts WalkOptions, fn walkFn) ([]string, error) {
	t.Helper()
	var calls []string
	var in atomic.Int32
	err := walker(ctx, tr, start, opts, func(p string, e *vtree.Entry, err error) error {
		if in.Add(1) != 1 {
			t.Errorf("fn called for %s while another call runs", p)
		}
		defer in.Add(-1)
		calls = append(calls, fmt.Sprintf("%s entry=%v err=%v", p, e != nil, err))
		if fn != nil {
			return fn(p, e, err)
		}
		return err
	})
	return calls, err
}

// TestWalkPrefetchSequential checks that Walk calls fn exactly as a walk
// listing each directory as it enters it does: same paths, entries and
// errors in the same order, with MaxDepth, SkipDir (on directories and
// files), SkipAll, errors returned by fn and directories that cannot be
// listed, and inside a live directory.
func TestWalkPrefetchSequential(t *testing.T) {
	tr := &listCounter{Tree: prefetchTree(t), fail: map[string]bool{"/lab/a2": true, "/systems/servers/n007": true, "/lab/a4/b1/c": true}}
	ctx := context.Background()
	errStop := errors.New("stop")
	fns := map[string]walkFn{
		"all":           nil,
		"ignore errors": func(p string, e *vtree.Entry, err error) error { return nil },
		"skip dirs": func(p string, e *vtree.Entry, err error) error {
			switch p {
			case "/systems/servers/n010", "/lab/a3", "/lab/a5/b5", "/lab/a6/b0/c":
				return fs.SkipDir
			case "/systems/servers/n020/power", "/lab/a7/b4/note":
				return fs.SkipDir // on a file: nothing to skip
			}
			return nil
		},
		"skip all": func(p string, e *vtree.Entry, err error) error {
			if p == "/systems/servers/n150" || p == "/lab/a5/b7" {
				return fs.SkipAll
			}
			return nil
		},
		"error": func(p string, e *vtree.Entry, err error) error {
			if p == "/systems/servers/n200/command" || p == "/lab/a8/b1" {
				return errStop
			}
			return nil
		},
	}
	for _, start := range []string{"/", "/systems/servers", "/lab/", "/lab/a0/b0/c", "/systems/servers/n001", "/systems/servers/n001/power"} {
		for _, depth := range []int{-1, 0, 1, 2, 3} {
			for name, fn := range fns {
				opts := WalkOptions{MaxDepth: depth}
				want, wantErr := record(t, sequentialWalk, ctx, tr, start, opts, fn)
				got, err := record(t, Walk, ctx, tr, start, opts, fn)
				if fmt.Sprint(err) != fmt.Sprint(wantErr) || !slices.Equal(got, want) {
					t.Errorf("%s, MaxDepth %d, %s: Walk called fn %d times and returned %v; want %d times, %v; first difference:\n%s", start, depth, name, len(got), err, len(want), wantErr, firstDiff(got, want))
				}
			}
		}
	}
	// Inside a live directory, live directories are entered too.
	live := "/systems/servers/localhost/proc/sys/kernel"
	want, wantErr := record(t, sequentialWalk, ctx, tr, live, WalkOptions{MaxDepth: 2}, nil)
	got, err := record(t, Walk, ctx, tr, live, WalkOptions{MaxDepth: 2}, nil)
	if fmt.Sprint(err) != fmt.Sprint(wantErr) || !slices.Equal(got, want) || !slices.ContainsFunc(got, func(s string) bool { return strings.HasPrefix(s, live+"/random/") }) {
		t.Errorf("Walk(%s) = %v, %v; want %v, %v", live, got, err, want, wantErr)
	}
}

// firstDiff describes where got and want first differ.
func firstDiff(got, want []string) string {
	for i := range max(len(got), len(want)) {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			return fmt.Sprintf("call %d: got %q, want %q", i, g, w)
		}
	}
	return "none"
}

// TestWalkPrefetchBounds checks that listings overlap, that no more than
// readDirProcs run at once, that no more than readAheadWindow are begun
// ahead of the walk, and that nothing beyond MaxDepth is listed.
func TestWalkPrefetchBounds(t *testing.T) {
	tr := &listCounter{Tree: prefetchTree(t), delay: time.Millisecond}
	ctx := context.Background()
	entered := int64(0)
	err := Walk(ctx, tr, "/systems/servers", WalkOptions{MaxDepth: -1}, func(p string, e *vtree.Entry, err error) error {
		if err != nil {
			return err
		}
		if e != nil && e.IsDir() && !e.Live() {
			// The start's listing, those of the servers before this one
			// and at most a window from this one on.
			if n := tr.calls.Load(); n > 1+entered+readAheadWindow {
				t.Errorf("at %s, %d listings begun, %d servers entered", p, n, entered)
			}
			entered++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if entered != 301 || tr.calls.Load() != 302 {
		t.Errorf("entered %d servers with %d listings; want 301 with 302", entered, tr.calls.Load())
	}
	if m := tr.maxRun.Load(); m < 2 || m > int64(readDirProcs()) {
		t.Errorf("%d listings at once, want 2 to %d", m, readDirProcs())
	}

	tr.calls.Store(0)
	var n int
	err = Walk(ctx, tr, "/lab", WalkOptions{MaxDepth: 2}, func(p string, e *vtree.Entry, err error) error {
		n++
		return err
	})
	if err != nil || n != 1+10+100 || tr.calls.Load() != 11 {
		t.Errorf("MaxDepth 2: %d calls of fn, %d listings, %v; want 111, 11", n, tr.calls.Load(), err)
	}
}

// TestWalkPrefetchNoWorkers checks that a walk starts no goroutine for
// directories with only files in them (and live directories, not
// entered), nor for directories below MaxDepth.
func TestWalkPrefetchNoWorkers(t *testing.T) {
	tr := prefetchTree(t)
	for _, tt := range []struct {
		dir   string
		depth int
	}{
		{"/systems/servers/n001", -1},
		{"/lab/a0/b4", -1},
		{"/lab", 1},
		{"/systems/servers", 1},
	} {
		var n int
		w := &walker{ctx: context.Background(), t: tr, opts: WalkOptions{MaxDepth: tt.depth}, procs: readDirProcs(),
			fn: func(p string, e *vtree.Entry, err error) error { n++; return err }}
		err := w.walk(tt.dir, 1, false, nil)
		w.close()
		if err != nil || n == 0 || w.workers != 0 {
			t.Errorf("walk(%s, MaxDepth %d): %d calls of fn, %d workers, %v; want no worker", tt.dir, tt.depth, n, w.workers, err)
		}
	}
}

// TestWalkPrefetchStop checks that a walk ended early by SkipAll, an error
// or a cancelled context returns with no listing under way or begun later
// and no goroutine left, having begun at most a window of listings ahead.
func TestWalkPrefetchStop(t *testing.T) {
	base := prefetchTree(t)
	errStop := errors.New("stop")
	for _, tt := range []struct {
		name string
		stop func(cancel func()) error
		want error
	}{
		{"SkipAll", func(func()) error { return fs.SkipAll }, nil},
		{"error", func(func()) error { return errStop }, errStop},
		{"cancel", func(cancel func()) error { cancel(); return nil }, context.Canceled},
	} {
		for _, w := range []struct{ start, at string }{
			{"/systems/servers", "/systems/servers/n001"},
			{"/systems", "/systems/servers/n150"},
			{"/", "/lab/a4/b4"},
		} {
			at := w.at
			tr := &listCounter{Tree: base, delay: time.Millisecond}
			before := runtime.NumGoroutine()
			ctx, cancel := context.WithCancel(context.Background())
			var seen []string
			err := Walk(ctx, tr, w.start, WalkOptions{MaxDepth: -1}, func(p string, e *vtree.Entry, err error) error {
				seen = append(seen, p)
				if p == at {
					return tt.stop(cancel)
				}
				return err
			})
			tr.closed.Store(true)
			cancel()
			if running := tr.running.Load(); running != 0 {
				t.Errorf("%s at %s: %d listings still under way", tt.name, at, running)
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("%s at %s: Walk returned %v, want %v", tt.name, at, err, tt.want)
			}
			// at is a directory: after cancelling, the walk stops before
			// listing it.
			if i := slices.Index(seen, at); i != len(seen)-1 {
				t.Errorf("%s at %s: visited %q", tt.name, at, seen[i+1:])
			}
			if at == "/systems/servers/n001" {
				// The start's listing, then a window of servers: more
				// means reading too far ahead.
				if n := tr.calls.Load(); n > 1+readAheadWindow {
					t.Errorf("%s at %s: %d listings", tt.name, at, n)
				}
			}
			waitGoroutines(t, before)
			time.Sleep(5 * time.Millisecond)
			if p := tr.lateCall.Load(); p != nil {
				t.Errorf("%s at %s: %s listed after Walk returned", tt.name, at, p)
			}
		}
	}
}

// waitGoroutines waits for the goroutines to be back to n, briefly: those
// of a walk may still be exiting when it returns.
func waitGoroutines(t *testing.T, n int) {
	t.Helper()
	var now int
	for range 100 {
		if now = runtime.NumGoroutine(); now <= n {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	buf := make([]byte, 1<<16)
	t.Errorf("%d goroutines, want %d:\n%s", now, n, buf[:runtime.Stack(buf, true)])
}

// TestWalkPrefetchConcurrentWalks runs walks at once on one tree, as
// commands in one process may, each seeing the whole tree.
func TestWalkPrefetchConcurrentWalks(t *testing.T) {
	tr := prefetchTree(t)
	ctx := context.Background()
	want, err := record(t, sequentialWalk, ctx, tr, "/", WalkOptions{MaxDepth: -1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			got, err := record(t, Walk, ctx, tr, "/", WalkOptions{MaxDepth: -1}, nil)
			if err != nil || !slices.Equal(got, want) {
				t.Errorf("concurrent walk: %v; %s", err, firstDiff(got, want))
			}
		})
	}
	wg.Wait()
}

// listStarts is a tree that records when each ReadDir begins, on a clock
// the callback of a walk shares.
type listStarts struct {
	*vtree.Tree
	clock  *atomic.Int64
	mu     sync.Mutex
	starts map[string]int64
}

func (l *listStarts) ReadDir(ctx context.Context, p string) ([]*vtree.Entry, error) {
	l.start(p)
	return l.Tree.ReadDir(ctx, p)
}

func (l *listStarts) ReadDirEntry(ctx context.Context, e *vtree.Entry) ([]*vtree.Entry, error) {
	l.start(e.Path())
	return l.Tree.ReadDirEntry(ctx, e)
}

func (l *listStarts) start(p string) {
	now := l.clock.Add(1)
	l.mu.Lock()
	l.starts[p] = now
	l.mu.Unlock()
}

// TestWalkPrefetchAhead checks that the read-ahead goes on past its first
// window, and past files among the directories: with a callback slower
// than the listings, the directories far into a long listing are listed
// before the walk reaches them.
func TestWalkPrefetchAhead(t *testing.T) {
	tr := prefetchTree(t)
	ctx := context.Background()
	if _, err := tr.Write(ctx, "/lab/0first", []byte("x")); err != nil { // a file before the directories
		t.Fatal(err)
	}
	for _, start := range []string{"/systems/servers", "/lab"} {
		var clock atomic.Int64
		l := &listStarts{Tree: tr, clock: &clock, starts: map[string]int64{}}
		var dirs []string
		reached := map[string]int64{}
		err := Walk(ctx, l, start, WalkOptions{MaxDepth: -1}, func(p string, e *vtree.Entry, err error) error {
			if e != nil && e.IsDir() && !e.Live() && strings.TrimSuffix(p, "/"+e.Name()) == start {
				reached[p] = clock.Add(1)
				dirs = append(dirs, p)
				time.Sleep(200 * time.Microsecond)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		// Beyond the first window (or, in /lab, after the file), count the
		// directories listed before the walk reached them.
		from := readAheadWindow + 5
		if start == "/lab" {
			from = 1
		}
		ahead, total := 0, 0
		for _, d := range dirs[min(from, len(dirs)):] {
			total++
			if s, ok := l.starts[d]; ok && s < reached[d] {
				ahead++
			}
		}
		if total == 0 || ahead*2 < total {
			t.Errorf("%s: %d of %d directories past the first %d listed ahead of the walk", start, ahead, total, from)
		}
	}
}
