package watch

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/smctl/smctl/pkg/vtree"
	"github.com/smctl/smctl/pkg/vtree/devices"
	"github.com/smctl/smctl/pkg/vtree/store"
)

// The watch tests wait on events, never on time: a timeout only bounds a
// failure. "Nothing else happened" is checked with a sentinel: a write to
// /zz-sentinel after the action, whose event comes after every event of
// the action (the kernel's queue is in order, and a round of the watcher
// reports the root directory last).

const (
	watchTimeout  = 30 * time.Second
	watchSentinel = "/zz-sentinel"
	watchN1       = "/systems/servers/n1"
)

// watchTree is a tree with server n1, whose power has a write agent that
// refuses "bad" with status 3 and message "refused bad".
func watchTree(t *testing.T) *vtree.Tree {
	t.Helper()
	return newTree(t, map[string]string{
		"server/power.read":  `echo on`,
		"server/power.write": `read v; if [ "$v" = bad ]; then echo "refused $v" >&2; exit 3; fi`,
	}, "server n1 transport=local")
}

// startWatch watches paths and the sentinel until the test ends.
func startWatch(t *testing.T, tr *vtree.Tree, paths ...string) <-chan Event {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ch, err := Watch(ctx, tr, append(paths, watchSentinel))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		for range ch {
		}
	})
	return ch
}

// next returns the next event, failing the test after watchTimeout.
func watchNext(t *testing.T, ch <-chan Event) Event {
	t.Helper()
	select {
	case e, ok := <-ch:
		if !ok {
			t.Fatal("watch channel closed")
		}
		return e
	case <-time.After(watchTimeout):
		t.Fatalf("no event within %s", watchTimeout)
	}
	panic("unreachable")
}

// settle writes the sentinel and returns the events before its own.
func watchSettle(t *testing.T, tr *vtree.Tree, ch <-chan Event) []Event {
	t.Helper()
	if _, err := tr.Write(context.Background(), watchSentinel, []byte(strconv.FormatInt(time.Now().UnixNano(), 10))); err != nil {
		t.Fatal(err)
	}
	var evs []Event
	for {
		e := watchNext(t, ch)
		if e.Path == watchSentinel {
			return evs
		}
		evs = append(evs, e)
	}
}

// waitFor returns the events up to the first that ok accepts.
func watchWaitFor(t *testing.T, ch <-chan Event, what string, ok func(Event) bool) []Event {
	t.Helper()
	var evs []Event
	deadline := time.After(watchTimeout)
	for {
		select {
		case e, open := <-ch:
			if !open {
				t.Fatalf("watch channel closed waiting for %s; got %v", what, evs)
			}
			evs = append(evs, e)
			if ok(e) {
				return evs
			}
		case <-deadline:
			t.Fatalf("no %s within %s; got %v", what, watchTimeout, evs)
		}
	}
}

func watchIs(path string, c Change) func(Event) bool {
	return func(e Event) bool { return e.Path == path && e.Change&c == c }
}

// want is an expected event; rc is checked with Status.
type watchWant struct {
	path   string
	change Change
	rc     int
	msg    string
}

func (w watchWant) String() string {
	return fmt.Sprintf("%s %s rc=%d %s", w.path, w.change, w.rc, w.msg)
}

// sameEvents compares events with wants as sets (one event each).
func watchSame(t *testing.T, got []Event, wants []watchWant) {
	t.Helper()
	var g, w []string
	for _, e := range got {
		s := watchWant{path: e.Path, change: e.Change}
		if e.Change&Status != 0 {
			s.rc, s.msg = e.RC, e.Message
		}
		g = append(g, s.String())
	}
	for _, x := range wants {
		w = append(w, x.String())
	}
	sort.Strings(g)
	sort.Strings(w)
	if !slices.Equal(g, w) {
		t.Errorf("events:\n  got  %q\n  want %q", g, w)
	}
}

func watchBacking(tr *vtree.Tree, p string) string {
	return filepath.Join(tr.BackingDir(), filepath.FromSlash(p))
}

func watchWrite(t *testing.T, tr *vtree.Tree, p, v string) {
	t.Helper()
	if _, err := tr.Write(context.Background(), p, []byte(v+"\n")); err != nil {
		t.Fatal(err)
	}
}

func watchMust(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// otherTree opens a second tree on tr's root, as another smctl would.
func watchOther(t *testing.T, tr *vtree.Tree) *vtree.Tree {
	t.Helper()
	return openTree(t, tr.Root)
}

const watchHelperEnv = "SMCTL_WATCH_HELPER"

// TestWatchHelperProcess is the other process of TestWatch: it writes
// $SMCTL_WATCH_HELPER ("root\npath\nvalue") through a tree of its own.
func TestWatchHelperProcess(t *testing.T) {
	arg := os.Getenv(watchHelperEnv)
	if arg == "" {
		return
	}
	f := strings.SplitN(arg, "\n", 3)
	tr := openTree(t, f[0])
	if _, err := tr.Write(context.Background(), f[1], []byte(f[2])); err != nil {
		t.Fatal(err)
	}
}

func TestWatch(t *testing.T) {
	defer func(d time.Duration) { store.SpareRest = d }(store.SpareRest)
	store.SpareRest = 0 // spares are used at once: writes exchange

	power := watchN1 + "/power"
	notes := watchN1 + "/notes"
	type step struct {
		do    func(t *testing.T, tr *vtree.Tree)
		want  []watchWant
		check func(t *testing.T, tr *vtree.Tree, evs []Event) // instead of want
	}
	tests := []struct {
		name  string
		watch []string
		setup func(t *testing.T, tr *vtree.Tree)
		steps []step
	}{
		{
			name:  "agent write: content and status in one event",
			watch: []string{"/systems"},
			steps: []step{{
				do:   func(t *testing.T, tr *vtree.Tree) { watchWrite(t, tr, power, "on") },
				want: []watchWant{{path: power, change: Created | Content | Status}},
			}, {
				// Same status (the same value ran): the content alone is
				// stored.
				do:   func(t *testing.T, tr *vtree.Tree) { watchWrite(t, tr, power, "on") },
				want: []watchWant{{path: power, change: Content}},
			}, {
				// A failure stores the status alone.
				do: func(t *testing.T, tr *vtree.Tree) {
					if _, err := tr.Write(context.Background(), power, []byte("bad\n")); err == nil {
						t.Fatal("bad was accepted")
					}
				},
				want: []watchWant{{path: power, change: Status, rc: 3, msg: "refused bad"}},
			}, {
				// A new status with content: three renames under the
				// directory's lock (status "interrupted", content, status),
				// one event with the final status.
				do:   func(t *testing.T, tr *vtree.Tree) { watchWrite(t, tr, power, "on") },
				want: []watchWant{{path: power, change: Content | Status, rc: 0}},
			}},
		},
		{
			name:  "read agent",
			watch: []string{watchN1},
			steps: []step{{
				do: func(t *testing.T, tr *vtree.Tree) {
					_, err := tr.Read(context.Background(), power, vtree.ReadOptions{})
					watchMust(t, err)
				},
				want: []watchWant{{path: power, change: Created | Content | Status}},
			}},
		},
		{
			name:  "plain writes: rename, then exchange with the spare",
			watch: []string{"/"},
			steps: []step{{
				do:   func(t *testing.T, tr *vtree.Tree) { watchWrite(t, tr, notes, "1") },
				want: []watchWant{{path: notes, change: Created | Content}},
			}, {
				do:   func(t *testing.T, tr *vtree.Tree) { watchWrite(t, tr, notes, "2") },
				want: []watchWant{{path: notes, change: Content}},
			}, {
				do: func(t *testing.T, tr *vtree.Tree) {
					watchWrite(t, tr, notes, "3")
					if _, err := os.Lstat(watchBacking(tr, watchN1+"/"+store.SparePrefix+"notes")); err != nil {
						t.Fatalf("no spare: the write did not exchange: %v", err)
					}
				},
				want: []watchWant{{path: notes, change: Content}},
			}},
		},
		{
			name:  "ids",
			watch: []string{watchN1},
			steps: []step{{
				do:   func(t *testing.T, tr *vtree.Tree) { watchWrite(t, tr, watchN1+"/ids", "admin:pw") },
				want: []watchWant{{path: watchN1 + "/ids", change: Created | Content}},
			}},
		},
		{
			name:  "another tree on the same root",
			watch: []string{"/systems/servers"},
			steps: []step{{
				do:   func(t *testing.T, tr *vtree.Tree) { watchWrite(t, watchOther(t, tr), power, "on") },
				want: []watchWant{{path: power, change: Created | Content | Status}},
			}},
		},
		{
			name:  "another process",
			watch: []string{"/systems/servers"},
			steps: []step{{
				do: func(t *testing.T, tr *vtree.Tree) {
					cmd := exec.Command(os.Args[0], "-test.run=^TestWatchHelperProcess$", "-test.count=1")
					cmd.Env = append(os.Environ(), watchHelperEnv+"="+tr.Root+"\n"+power+"\nbad\n")
					if out, err := cmd.CombinedOutput(); err == nil || !bytes.Contains(out, []byte("refused bad")) {
						t.Fatalf("helper: %v\n%s", err, out)
					}
				},
				want: []watchWant{{path: power, change: Created | Status, rc: 3, msg: "refused bad"}},
			}},
		},
		{
			name:  "a shell writing in place",
			watch: []string{watchN1},
			setup: func(t *testing.T, tr *vtree.Tree) { watchWrite(t, tr, notes, "1") },
			steps: []step{{
				do: func(t *testing.T, tr *vtree.Tree) {
					out, err := exec.Command("sh", "-c", `printf 'a\n' >"$1"; printf 'b\n' >"$2"`, "sh", watchBacking(tr, notes), watchBacking(tr, watchN1+"/new")).CombinedOutput()
					if err != nil {
						t.Fatalf("%v: %s", err, out)
					}
				},
				want: []watchWant{{path: notes, change: Content}, {path: watchN1 + "/new", change: Created | Content}},
			}},
		},
		{
			name:  "temporary and spare files",
			watch: []string{"/"},
			setup: func(t *testing.T, tr *vtree.Tree) { watchWrite(t, tr, notes, "1") },
			steps: []step{{
				do: func(t *testing.T, tr *vtree.Tree) {
					tmp := watchBacking(tr, watchN1+"/"+store.TempPrefix+"0123456789abcdef")
					if !store.IsTemp(filepath.Base(tmp)) {
						t.Fatalf("%s is no temporary name", tmp)
					}
					spare := watchBacking(tr, watchN1+"/"+store.SparePrefix+"notes")
					watchMust(t, os.WriteFile(tmp, []byte("x"), 0o644))
					watchMust(t, os.Rename(tmp, spare))
					watchMust(t, os.WriteFile(spare, []byte("y"), 0o644))
					watchMust(t, os.Remove(spare))
					watchMust(t, os.Mkdir(watchBacking(tr, watchN1+"/.hidden"), 0o755))
					watchMust(t, os.WriteFile(watchBacking(tr, watchN1+"/.hidden/f"), []byte("z"), 0o644))
				},
				want: nil,
			}},
		},
		{
			name:  "removal",
			watch: []string{"/systems"},
			setup: func(t *testing.T, tr *vtree.Tree) {
				watchWrite(t, tr, notes, "1")
				watchWrite(t, tr, power, "on")
			},
			steps: []step{{
				do:   func(t *testing.T, tr *vtree.Tree) { watchMust(t, os.Remove(watchBacking(tr, notes))) },
				want: []watchWant{{path: notes, change: Removed}},
			}, {
				do: func(t *testing.T, tr *vtree.Tree) {
					ok, err := devices.Remove(tr, watchN1, "server")
					if !ok || err != nil {
						t.Fatalf("RemoveDevice = %v, %v", ok, err)
					}
				},
				check: func(t *testing.T, tr *vtree.Tree, evs []Event) {
					watchSame(t, evs, []watchWant{
						{path: watchN1 + "/address", change: Removed},
						{path: watchN1 + "/transport", change: Removed},
						{path: power, change: Removed},
						{path: watchN1, change: Removed},
					})
					if len(evs) > 0 && evs[len(evs)-1].Path != watchN1 {
						t.Errorf("the directory's Removed is not last: %v", evs)
					}
				},
			}},
		},
		{
			name:  "new device, then its files",
			watch: []string{"/systems/servers"},
			steps: []step{{
				do: func(t *testing.T, tr *vtree.Tree) {
					if ok, err := devices.Add(tr, "/systems/servers/n4", "server", map[string]string{"transport": "local"}); !ok || err != nil {
						t.Fatalf("AddDevice = %v, %v", ok, err)
					}
				},
				check: func(t *testing.T, tr *vtree.Tree, evs []Event) {
					// The directory may be seen before its marker is written
					// (Created, then Type) or after (both at once).
					dev, files := Change(0), map[string]Change{}
					for i, e := range evs {
						if e.Path == "/systems/servers/n4" {
							if i == 0 != (e.Change&Created != 0) || !e.Dir {
								t.Errorf("event %d: %v", i, e)
							}
							dev |= e.Change
							continue
						}
						if files[e.Path] != 0 {
							t.Errorf("second event for %s: %v", e.Path, e)
						}
						files[e.Path] = e.Change
					}
					if dev != Created|Type {
						t.Errorf("device: %v, want created|type (events %v)", dev, evs)
					}
					wantFiles := map[string]Change{"/systems/servers/n4/address": Created | Content, "/systems/servers/n4/transport": Created | Content}
					if fmt.Sprint(files) != fmt.Sprint(wantFiles) {
						t.Errorf("files: %v, want %v", files, wantFiles)
					}
				},
			}, {
				do:   func(t *testing.T, tr *vtree.Tree) { watchWrite(t, tr, "/systems/servers/n4/power", "on") },
				want: []watchWant{{path: "/systems/servers/n4/power", change: Created | Content | Status}},
			}, {
				do:   func(t *testing.T, tr *vtree.Tree) { watchMust(t, devices.MakeDirs(tr, "/systems/servers/n4/a/b")) },
				want: []watchWant{{path: "/systems/servers/n4/a", change: Created}, {path: "/systems/servers/n4/a/b", change: Created}},
			}, {
				do:   func(t *testing.T, tr *vtree.Tree) { watchWrite(t, tr, "/systems/servers/n4/a/b/c", "deep") },
				want: []watchWant{{path: "/systems/servers/n4/a/b/c", change: Created | Content}},
			}},
		},
		{
			name:  "directories moved in and out",
			watch: []string{"/systems/servers"},
			setup: func(t *testing.T, tr *vtree.Tree) {
				watchMust(t, os.MkdirAll(watchBacking(tr, "/outside/d/e"), 0o755))
				watchMust(t, os.WriteFile(watchBacking(tr, "/outside/d/e/f"), []byte("1"), 0o644))
			},
			steps: []step{{
				do: func(t *testing.T, tr *vtree.Tree) {
					watchMust(t, os.Rename(watchBacking(tr, "/outside/d"), watchBacking(tr, "/systems/servers/d")))
				},
				want: []watchWant{{path: "/systems/servers/d", change: Created}, {path: "/systems/servers/d/e", change: Created}, {path: "/systems/servers/d/e/f", change: Created | Content}},
			}, {
				do: func(t *testing.T, tr *vtree.Tree) {
					watchMust(t, os.Rename(watchBacking(tr, "/systems/servers/d"), watchBacking(tr, "/systems/servers/g")))
				},
				want: []watchWant{
					{path: "/systems/servers/d/e/f", change: Removed}, {path: "/systems/servers/d/e", change: Removed}, {path: "/systems/servers/d", change: Removed},
					{path: "/systems/servers/g", change: Created}, {path: "/systems/servers/g/e", change: Created}, {path: "/systems/servers/g/e/f", change: Created | Content},
				},
			}, {
				// The moved directory is watched under its new name only.
				do:   func(t *testing.T, tr *vtree.Tree) { watchWrite(t, tr, "/systems/servers/g/e/f", "2") },
				want: []watchWant{{path: "/systems/servers/g/e/f", change: Content}},
			}, {
				do: func(t *testing.T, tr *vtree.Tree) {
					watchMust(t, os.Rename(watchBacking(tr, "/systems/servers/g"), watchBacking(tr, "/outside/g")))
					watchMust(t, os.WriteFile(watchBacking(tr, "/outside/g/e/f"), []byte("3"), 0o644))
				},
				want: []watchWant{{path: "/systems/servers/g/e/f", change: Removed}, {path: "/systems/servers/g/e", change: Removed}, {path: "/systems/servers/g", change: Removed}},
			}},
		},
		{
			name:  "one file",
			watch: []string{power},
			steps: []step{{
				do: func(t *testing.T, tr *vtree.Tree) {
					watchWrite(t, tr, notes, "1")
					watchWrite(t, tr, power, "on")
					watchWrite(t, tr, "/systems/servers/localhost/power", "on")
				},
				want: []watchWant{{path: power, change: Created | Content | Status}},
			}},
		},
		{
			name:  "a status file is its file",
			watch: []string{power + ".status"},
			steps: []step{{
				do:   func(t *testing.T, tr *vtree.Tree) { watchWrite(t, tr, power, "on") },
				want: []watchWant{{path: power, change: Created | Content | Status}},
			}},
		},
		{
			name:  "a path yet to be",
			watch: []string{watchN1 + "/later"},
			steps: []step{{
				do:   func(t *testing.T, tr *vtree.Tree) { watchWrite(t, tr, watchN1+"/later", "x") },
				want: []watchWant{{path: watchN1 + "/later", change: Created | Content}},
			}, {
				do:   func(t *testing.T, tr *vtree.Tree) { watchMust(t, os.Remove(watchBacking(tr, watchN1+"/later"))) },
				want: []watchWant{{path: watchN1 + "/later", change: Removed}},
			}},
		},
		{
			name:  "a watched directory removed and made again",
			watch: []string{"/systems/servers"},
			steps: []step{{
				do: func(t *testing.T, tr *vtree.Tree) {
					watchMust(t, os.RemoveAll(watchBacking(tr, "/systems/servers")))
					watchMust(t, devices.MakeDirs(tr, "/systems/servers/n9"))
				},
				check: func(t *testing.T, tr *vtree.Tree, evs []Event) {
					i := slices.IndexFunc(evs, watchIs("/systems/servers", Removed))
					j := slices.IndexFunc(evs, watchIs("/systems/servers", Created))
					k := slices.IndexFunc(evs, watchIs("/systems/servers/n9", Created))
					if i < 0 || j < i || k < j {
						t.Errorf("events: %v", evs)
					}
				},
			}, {
				do:   func(t *testing.T, tr *vtree.Tree) { watchWrite(t, tr, "/systems/servers/n9/x", "1") },
				want: []watchWant{{path: "/systems/servers/n9/x", change: Created | Content}},
			}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := watchTree(t)
			if tc.setup != nil {
				tc.setup(t, tr)
			}
			ch := startWatch(t, tr, tc.watch...)
			for i, s := range tc.steps {
				s.do(t, tr)
				evs := watchSettle(t, tr, ch)
				if s.check != nil {
					s.check(t, tr, evs)
				} else {
					watchSame(t, evs, s.want)
				}
				if t.Failed() {
					t.Fatalf("step %d", i)
				}
			}
		})
	}
}
