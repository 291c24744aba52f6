package watch

// Tree-level watch tests: caches, Live, the mapping of what fswatch finds
// to events, errors, cancellation, the store's lock, a tree closed.

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smctl/smctl/pkg/fswatch"
	"github.com/smctl/smctl/pkg/vtree"
	"github.com/smctl/smctl/pkg/vtree/devices"
	"github.com/smctl/smctl/pkg/vtree/store"
)

// A watch drops the tree's caches for what changed before it reports the
// change: another smctl's writes are seen by a tree that lives.
func TestWatchCaches(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name   string
		before func(t *testing.T, tr *vtree.Tree) string // fills the cache, returns what it says
		change func(t *testing.T, other *vtree.Tree)     // through another tree
		event  func(Event) bool
	}{
		{
			name:   "attribute file",
			before: func(t *testing.T, tr *vtree.Tree) string { return watchProbeRun(t, tr, watchN1) },
			change: func(t *testing.T, o *vtree.Tree) { watchWrite(t, o, watchN1+"/address", "10.0.0.9") },
			event:  watchIs(watchN1+"/address", Content),
		},
		{
			name: "type marker",
			before: func(t *testing.T, tr *vtree.Tree) string {
				return tr.DeviceType(watchN1) + " " + watchProbeRun(t, tr, watchN1)
			},
			change: func(t *testing.T, o *vtree.Tree) {
				watchMust(t, retype(o, watchN1, "chassis"))
			},
			event: watchIs(watchN1, Type),
		},
		{
			name:   "ids",
			before: func(t *testing.T, tr *vtree.Tree) string { return watchProbeRun(t, tr, watchN1) },
			change: func(t *testing.T, o *vtree.Tree) { watchWrite(t, o, watchN1+"/ids", "other:pw") },
			event:  watchIs(watchN1+"/ids", Content),
		},
		{
			name:   "lock",
			before: func(t *testing.T, tr *vtree.Tree) string { return watchProbeRun(t, tr, watchN1) },
			change: func(t *testing.T, o *vtree.Tree) { watchWrite(t, o, watchN1+"/lock", "1") },
			event:  watchIs(watchN1+"/lock", Created),
		},
		{
			name:   "device replaced",
			before: func(t *testing.T, tr *vtree.Tree) string { return watchProbeRun(t, tr, watchN1) },
			change: func(t *testing.T, o *vtree.Tree) {
				if ok, err := devices.Remove(o, watchN1, "server"); !ok || err != nil {
					t.Fatalf("RemoveDevice = %v, %v", ok, err)
				}
				if ok, err := devices.Add(o, watchN1, "server", map[string]string{"transport": "ssh"}); !ok || err != nil {
					t.Fatalf("AddDevice = %v, %v", ok, err)
				}
			},
			event: watchIs(watchN1+"/transport", Created),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := watchTree(t)
			watchWrite(t, tr, watchN1+"/ids", "first:pw")
			ch := startWatch(t, tr, "/systems")
			was := tc.before(t, tr)
			// A tree without a watch keeps what it cached: the premise.
			unwatched := watchOther(t, tr)
			if got := tc.before(t, unwatched); got != was {
				t.Fatalf("unwatched tree: %q, watched %q", got, was)
			}
			other := watchOther(t, tr)
			tc.change(t, other)
			if got := tc.before(t, unwatched); got != was {
				t.Fatalf("not cached: %q -> %q without a watch", was, got)
			}
			watchWaitFor(t, ch, "the change", tc.event)
			got, want := tc.before(t, tr), tc.before(t, other)
			if got != want || got == was {
				t.Errorf("after the event: %q, want %q (was %q)", got, want, was)
			}
			// The tree still works on what changed.
			if _, err := tr.Write(ctx, watchN1+"/notes", []byte("x")); err != nil {
				t.Error(err)
			}
			if _, err := tr.Read(ctx, watchN1+"/probe", vtree.ReadOptions{HasMaxAge: true}); err != nil {
				t.Error(err)
			}
		})
	}
}

// Live keeps the caches of a tree coherent without a consumer.
func TestWatchLive(t *testing.T) {
	tr := watchTree(t)
	ctx, cancel := context.WithCancel(context.Background())
	rounds := make(chan struct{}, 1)
	testHook = func(fswatch.Batch) {
		select {
		case rounds <- struct{}{}:
		default:
		}
	}
	done, err := Live(ctx, tr)
	testHook = nil
	watchMust(t, err)
	address := func() string { return strings.Fields(watchProbeRun(t, tr, watchN1))[1] }
	if got := address(); got != "n1" {
		t.Fatalf("address %q", got)
	}
	watchWrite(t, watchOther(t, tr), watchN1+"/address", "10.0.0.9")
	deadline := time.After(watchTimeout)
	for address() != "10.0.0.9" {
		select {
		case <-rounds:
		case <-deadline:
			t.Fatal("the change was not seen")
		}
	}
	cancel()
	select {
	case <-done:
	case <-deadline:
		t.Fatal("Live did not stop")
	}
}

// A round that lost events reports Lost first, then what the rescan
// found, and drops the tree's caches.
func TestWatchRoundLost(t *testing.T) {
	tr := watchTree(t)
	cached := func(tr *vtree.Tree) string { return tr.DeviceType(watchN1) + " " + watchProbeRun(t, tr, watchN1) }
	was := cached(tr)
	if !strings.HasPrefix(was, "server server n1 ") {
		t.Fatalf("caches not filled: %q", was)
	}
	// Changes the tree does not see, as if their events were lost.
	other := watchOther(t, tr)
	watchWrite(t, other, watchN1+"/address", "10.0.0.9")
	watchMust(t, retype(other, watchN1, "chassis"))
	if got := cached(tr); got != was {
		t.Fatalf("not cached: %q -> %q", was, got)
	}
	file := fswatch.Stat{Exists: true, Ino: 7, Size: 3}
	evs := round(context.Background(), tr, fswatch.Batch{Lost: true, Changes: []fswatch.Change{
		{Path: rel(watchN1) + "/address", Old: file, New: fswatch.Stat{Exists: true, Ino: 8, Size: 3}},
		{Path: rel(watchN1) + "/address.status"},
	}}, true, indexes{})
	if len(evs) == 0 || evs[0].Change != Lost || evs[0].Path != "/" || evs[0].Err != nil {
		t.Fatalf("events %v, want lost first", evs)
	}
	watchSame(t, evs[1:], []watchWant{{path: watchN1 + "/address", change: Content}})
	if got, want := cached(tr), cached(watchOther(t, tr)); got != want || got == was {
		t.Errorf("caches kept: %q, want %q (was %q)", got, want, was)
	}
}

// What the backing changes of a round map to: NAME and NAME.status are
// one path; the type marker is its directory's; a directory found with
// its marker is created with its type.
func TestWatchRoundEvents(t *testing.T) {
	tr := watchTree(t)
	f1 := fswatch.Stat{Exists: true, Ino: 1, Size: 2, Mtime: 3}
	f2 := fswatch.Stat{Exists: true, Ino: 1, Size: 2, Mtime: 4}
	d1 := fswatch.Stat{Exists: true, Dir: true, Ino: 9}
	none := fswatch.Stat{}
	pair := func(p string, f0, f, s0, s fswatch.Stat) []fswatch.Change {
		return []fswatch.Change{{Path: p, Old: f0, New: f}, {Path: p + ".status", Old: s0, New: s}}
	}
	denied := errors.New("denied")
	for _, tc := range []struct {
		name    string
		changes []fswatch.Change
		want    []string
	}{
		{"created with status", pair("a", none, f1, none, f1), []string{"/a created|content|status rc=0"}},
		{"created, status only", pair("a", none, none, none, f1), []string{"/a created|status rc=0"}},
		{"content", pair("a", f1, f2, none, none), []string{"/a content"}},
		{"content, status unchanged", pair("a", f1, f2, f1, f1), []string{"/a content"}},
		{"status", pair("a", f1, f1, f1, f2), []string{"/a status rc=0"}},
		{"removed", pair("a", f1, none, f1, none), []string{"/a removed"}},
		{"value removed, status stays", pair("a", f1, none, f1, f1), []string{"/a content"}},
		{"status removed, value stays", pair("a", f1, f1, f1, none), nil},
		{"both absent", pair("a", none, none, none, none), nil},
		{"a file alone", []fswatch.Change{{Path: "a/b", Old: f1, New: f2}}, []string{"/a/b content"}},
		{"directories", []fswatch.Change{{Path: "a/b", Old: d1}, {Path: "a/c", New: d1}}, []string{"/a/b removed", "/a/c created"}},
		{"type, then a new device", []fswatch.Change{
			{Path: "a/.type", Old: f1, New: f2},
			{Path: "a/d", New: d1},
			{Path: "a/d/.type", New: f1},
			{Path: "a/e/.type", Old: f1},
		}, []string{"/a type", "/a/d created|type"}},
		{"lost a directory", []fswatch.Change{{Path: "a/b", Err: &fs.PathError{Op: "openat", Path: "a/b", Err: denied}}}, []string{"/a/b lost: denied"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, e := range round(context.Background(), tr, fswatch.Batch{Changes: tc.changes}, true, indexes{}) {
				got = append(got, e.String())
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("events %q, want %q", got, tc.want)
			}
		})
	}
	if evs := round(context.Background(), tr, fswatch.Batch{Lost: true, Changes: pair("a", none, f1, none, none)}, false, indexes{}); evs != nil {
		t.Errorf("without want: %v", evs)
	}
}

func TestWatchErrors(t *testing.T) {
	tr := watchTree(t)
	for _, tc := range []struct {
		paths []string
		err   error
	}{
		{nil, nil},
		{[]string{"/a/.type"}, vtree.ErrBadPath},
		{[]string{"/systems/servers/localhost/proc"}, vtree.ErrLiveWatch},
		{[]string{"/systems/servers/localhost/proc/cpuinfo"}, vtree.ErrLiveWatch},
		{[]string{"/systems/nope/x"}, fs.ErrNotExist},
		{[]string{watchN1 + "/address/x"}, vtree.ErrNotDir},
	} {
		ctx, cancel := context.WithCancel(context.Background())
		ch, err := Watch(ctx, tr, tc.paths)
		cancel()
		if err == nil || ch != nil || tc.err != nil && !errors.Is(err, tc.err) {
			t.Errorf("Watch(%q) = %v, %v; want %v", tc.paths, ch, err, tc.err)
		}
	}
}

// Ending the context closes the channel, even with an event not taken,
// and leaves neither goroutine nor inotify descriptor behind.
func TestWatchCancel(t *testing.T) {
	tr := watchTree(t)
	fds, stacks := watchFDs(t), watchGoroutines()
	if stacks != "" {
		t.Fatalf("watch goroutines before the test:\n%s", stacks)
	}
	for _, taken := range []bool{true, false} {
		ctx, cancel := context.WithCancel(context.Background())
		ch, err := Watch(ctx, tr, []string{"/"})
		watchMust(t, err)
		live, err := Live(ctx, tr)
		watchMust(t, err)
		if got := watchFDs(t); got != fds+2 {
			t.Errorf("%d inotify descriptors, want %d", got, fds+2)
		}
		watchWrite(t, tr, watchN1+"/notes", fmt.Sprint(taken))
		if taken {
			watchNext(t, ch)
		}
		cancel()
		deadline := time.After(watchTimeout)
		for open := true; open; {
			select {
			case _, open = <-ch:
			case <-deadline:
				t.Fatal("the channel was not closed")
			}
		}
		select {
		case <-live:
		case <-deadline:
			t.Fatal("Live did not stop")
		}
	}
	// The goroutines have closed their channels; they may still be
	// returning.
	deadline := time.Now().Add(watchTimeout)
	for watchGoroutines() != "" && time.Now().Before(deadline) {
		runtime.Gosched()
	}
	if s := watchGoroutines(); s != "" {
		t.Errorf("goroutines left:\n%s", s)
	}
	if got := watchFDs(t); got != fds {
		t.Errorf("%d inotify descriptors left, want %d", got, fds)
	}
}

// watchGoroutines returns the stacks of goroutines running a watch.
func watchGoroutines() string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "fswatch.") || strings.Contains(g, "pkg/vtree/watch.start.") {
			out = append(out, g)
		}
	}
	return strings.Join(out, "\n\n")
}

func watchFDs(t *testing.T) int {
	t.Helper()
	des, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip(err)
	}
	n := 0
	for _, de := range des {
		if l, err := os.Readlink("/proc/self/fd/" + de.Name()); err == nil && l == "anon_inode:inotify" {
			n++
		}
	}
	return n
}

// A store of content and status holds the directory's lock: a round that
// comes meanwhile leaves the directory for later, and the store is
// reported whole, with its final status, once the lock is released.
func TestWatchBusy(t *testing.T) {
	tr := watchTree(t)
	s := backingStore(tr)
	power := watchN1 + "/power"
	watchMust(t, s.WriteFile(rel(power)+vtree.StatusSuffix, []byte("3 refused bad\n")))
	ctx, cancel := context.WithCancel(context.Background())
	busy := make(chan []string, 100)
	testHook = func(b fswatch.Batch) {
		select {
		case busy <- b.Busy:
		default:
		}
	}
	out, err := Watch(ctx, tr, []string{watchN1})
	testHook = nil
	watchMust(t, err)
	defer func() {
		cancel()
		for range out {
		}
	}()
	unlock, err := s.LockDir(rel(watchN1))
	watchMust(t, err)
	watchMust(t, s.WriteFiles(rel(watchN1), []string{"power.status", "power", "power.status"},
		[][]byte{store.StatusLine(130, "the last run was interrupted while its result was stored"), []byte("on\n"), []byte("0\n")}))
	deadline := time.After(watchTimeout)
	for held := false; !held; {
		select {
		case b := <-busy:
			held = slices.Contains(b, rel(watchN1))
		case e := <-out:
			t.Fatalf("event while the store holds the lock: %v", e)
		case <-deadline:
			t.Fatal("no round found the directory locked")
		}
	}
	unlock()
	e := watchNext(t, out)
	if e.Path != power || e.Change != Content|Status || e.RC != 0 || e.Message != "" {
		t.Errorf("event %v, want %s content|status rc=0", e, power)
	}
}

// Closing the tree under a watch ends it, saying so.
func TestWatchTreeClosed(t *testing.T) {
	tr := watchTree(t)
	tr2 := watchOther(t, tr)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := Watch(ctx, tr2, []string{watchN1})
	watchMust(t, err)
	watchMust(t, tr2.BackingRoot().Close())
	watchWrite(t, tr, watchN1+"/notes", "x")
	evs := watchWaitFor(t, ch, "lost", func(e Event) bool { return e.Change&Lost != 0 })
	if e := evs[len(evs)-1]; e.Path != "/" || e.Err == nil || !strings.Contains(e.Err.Error(), "closed") {
		t.Errorf("lost: %v", e)
	}
	for e := range ch {
		t.Errorf("after the end: %v", e)
	}
}
