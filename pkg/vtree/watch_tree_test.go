package vtree

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
	"github.com/smctl/smctl/pkg/vtree/store"
)

// A watch drops the tree's caches for what changed before it reports the
// change: another smctl's writes are seen by a tree that lives.
func TestWatchCaches(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name   string
		before func(t *testing.T, tr *Tree) string // fills the cache, returns what it says
		change func(t *testing.T, other *Tree)     // through another tree
		event  func(Event) bool
	}{
		{
			name:   "attribute file",
			before: func(t *testing.T, tr *Tree) string { return tr.device(watchN1).Attrs["address"] },
			change: func(t *testing.T, o *Tree) { watchWrite(t, o, watchN1+"/address", "10.0.0.9") },
			event:  watchIs(watchN1+"/address", Content),
		},
		{
			name:   "type marker",
			before: func(t *testing.T, tr *Tree) string { return tr.DeviceType(watchN1) + " " + tr.device(watchN1).Type },
			change: func(t *testing.T, o *Tree) {
				watchMust(t, o.store.WriteFile(rel(watchN1)+"/"+typeFile, []byte("chassis\n")))
			},
			event: watchIs(watchN1, Type),
		},
		{
			name: "ids",
			before: func(t *testing.T, tr *Tree) string {
				p, err := tr.credsIn(rel(watchN1))
				if err != nil || p == nil {
					return fmt.Sprint(p, err)
				}
				return p.User
			},
			change: func(t *testing.T, o *Tree) { watchWrite(t, o, watchN1+"/ids", "other:pw") },
			event:  watchIs(watchN1+"/ids", Content),
		},
		{
			name:   "lock",
			before: func(t *testing.T, tr *Tree) string { return fmt.Sprint(tr.hasSpecial(rel(watchN1), LockName)) },
			change: func(t *testing.T, o *Tree) { watchWrite(t, o, watchN1+"/lock", "1") },
			event:  watchIs(watchN1+"/lock", Created),
		},
		{
			name:   "device replaced",
			before: func(t *testing.T, tr *Tree) string { return tr.device(watchN1).Attrs["transport"] },
			change: func(t *testing.T, o *Tree) {
				if ok, err := o.RemoveDevice(watchN1, "server"); !ok || err != nil {
					t.Fatalf("RemoveDevice = %v, %v", ok, err)
				}
				if ok, err := o.AddDevice(watchN1, "server", map[string]string{"transport": "ssh"}); !ok || err != nil {
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
		})
	}
}

// Live keeps the caches of a tree coherent without a consumer.
func TestWatchLive(t *testing.T) {
	tr := watchTree(t)
	ctx, cancel := context.WithCancel(context.Background())
	rounds := make(chan struct{}, 1)
	done, err := tr.watch(ctx, []string{"/"}, nil, func(fswatch.Batch) {
		select {
		case rounds <- struct{}{}:
		default:
		}
	})
	watchMust(t, err)
	if got := tr.device(watchN1).Attrs["address"]; got != "n1" {
		t.Fatalf("address %q", got)
	}
	watchWrite(t, watchOther(t, tr), watchN1+"/address", "10.0.0.9")
	deadline := time.After(watchTimeout)
	for tr.device(watchN1).Attrs["address"] != "10.0.0.9" {
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
	tr.device(watchN1)
	if tr.DeviceType(watchN1) != "server" || len(tr.types) == 0 || len(tr.devices) == 0 {
		t.Fatal("caches not filled")
	}
	file := fswatch.Stat{Exists: true, Ino: 7, Size: 3}
	evs := tr.round(context.Background(), fswatch.Batch{Lost: true, Changes: []fswatch.Change{
		{Path: rel(watchN1) + "/address", Old: file, New: fswatch.Stat{Exists: true, Ino: 8, Size: 3}},
		{Path: rel(watchN1) + "/address.status"},
	}}, true)
	if len(evs) == 0 || evs[0].Change != Lost || evs[0].Path != "/" || evs[0].Err != nil {
		t.Fatalf("events %v, want lost first", evs)
	}
	watchSame(t, evs[1:], []watchWant{{path: watchN1 + "/address", change: Content}})
	tr.mu.Lock()
	cached := len(tr.types) + len(tr.devices)
	tr.mu.Unlock()
	if cached != 0 {
		t.Errorf("caches kept %d entries", cached)
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
			for _, e := range tr.round(context.Background(), fswatch.Batch{Changes: tc.changes}, true) {
				got = append(got, e.String())
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("events %q, want %q", got, tc.want)
			}
		})
	}
	if evs := tr.round(context.Background(), fswatch.Batch{Lost: true, Changes: pair("a", none, f1, none, none)}, false); evs != nil {
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
		{[]string{"/a/.type"}, ErrBadPath},
		{[]string{"/systems/servers/localhost/proc"}, ErrLiveWatch},
		{[]string{"/systems/servers/localhost/proc/cpuinfo"}, ErrLiveWatch},
		{[]string{"/systems/nope/x"}, fs.ErrNotExist},
		{[]string{watchN1 + "/address/x"}, ErrNotDir},
	} {
		ctx, cancel := context.WithCancel(context.Background())
		ch, err := tr.Watch(ctx, tc.paths)
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
		ch, err := tr.Watch(ctx, []string{"/"})
		watchMust(t, err)
		live, err := tr.Live(ctx)
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
		if strings.Contains(g, "fswatch.") || strings.Contains(g, "vtree.(*Tree).watch.") {
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
	power := watchN1 + "/power"
	watchMust(t, tr.store.WriteFile(rel(power)+statusSuffix, []byte("3 refused bad\n")))
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan Event)
	busy := make(chan []string, 100)
	_, err := tr.watch(ctx, []string{watchN1}, out, func(b fswatch.Batch) {
		select {
		case busy <- b.Busy:
		default:
		}
	})
	watchMust(t, err)
	defer func() {
		cancel()
		for range out {
		}
	}()
	unlock, err := tr.store.LockDir(rel(watchN1))
	watchMust(t, err)
	watchMust(t, tr.store.WriteFiles(rel(watchN1), []string{"power.status", "power", "power.status"},
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
	ch, err := tr2.Watch(ctx, []string{watchN1})
	watchMust(t, err)
	watchMust(t, tr2.store.Root().Close())
	watchWrite(t, tr, watchN1+"/notes", "x")
	evs := watchWaitFor(t, ch, "lost", func(e Event) bool { return e.Change&Lost != 0 })
	if e := evs[len(evs)-1]; e.Path != "/" || e.Err == nil || !strings.Contains(e.Err.Error(), "closed") {
		t.Errorf("lost: %v", e)
	}
	for e := range ch {
		t.Errorf("after the end: %v", e)
	}
}
