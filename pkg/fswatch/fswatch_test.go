package fswatch

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The tests wait on changes, never on time: a timeout only bounds a
// failure. "Nothing else happened" is checked with a sentinel: a write to
// zz-sentinel, at the root, after the action, whose change comes after
// every change of the action (the kernel's queue is in order, and a round
// looks at the root last).

const (
	timeout  = 30 * time.Second
	sentinel = "zz-sentinel"
)

// hidden ignores names starting with a dot; sidecars groups NAME with
// NAME.sig.
var (
	hidden   = func(name string) bool { return name[0] == '.' }
	sidecars = func(name string) []string {
		base := strings.TrimSuffix(name, ".sig")
		return []string{base, base + ".sig"}
	}
)

// tw is a watcher running for a test, with its batches on ch.
type tw struct {
	t    *testing.T
	dir  string
	root *os.Root
	ch   chan Batch
	err  chan error // what Run returned
}

// start watches paths and the sentinel below dir until the test ends.
// Rounds that found nothing are not passed on.
func start(t *testing.T, dir string, opts Options, paths ...string) *tw {
	t.Helper()
	root, err := os.OpenRoot(dir)
	must(t, err)
	w, err := New(root, append(paths, sentinel), opts)
	if err != nil {
		root.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	x := &tw{t: t, dir: dir, root: root, ch: make(chan Batch), err: make(chan error, 1)}
	go func() {
		defer close(x.ch)
		x.err <- w.Run(ctx, func(b Batch) {
			if !b.Lost && len(b.Changes) == 0 {
				return
			}
			select {
			case x.ch <- b:
			case <-ctx.Done():
			}
		})
	}()
	t.Cleanup(func() {
		cancel()
		for range x.ch {
		}
		root.Close()
	})
	return x
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func (x *tw) path(p string) string { return filepath.Join(x.dir, filepath.FromSlash(p)) }

func (x *tw) write(p, v string) {
	x.t.Helper()
	must(x.t, os.WriteFile(x.path(p), []byte(v), 0o644))
}

// next returns the next batch, failing the test after timeout.
func (x *tw) next() Batch {
	x.t.Helper()
	select {
	case b, ok := <-x.ch:
		if !ok {
			x.t.Fatalf("watch ended: %v", <-x.err)
		}
		return b
	case <-time.After(timeout):
		x.t.Fatalf("nothing within %s", timeout)
	}
	panic("unreachable")
}

// settle writes the sentinel and returns the changes before its own.
func (x *tw) settle() []Change {
	x.t.Helper()
	x.write(sentinel, strconv.FormatInt(time.Now().UnixNano(), 10))
	var cs []Change
	for {
		for _, c := range x.next().Changes {
			if c.Path == sentinel {
				return cs
			}
			cs = append(cs, c)
		}
	}
}

// show describes a change as "path what": created, removed, changed or
// same, "dir" for a directory, or the error.
func show(c Change) string {
	s := c.Path + " "
	switch {
	case c.Err != nil:
		return s + "error: " + c.Err.Error()
	case !c.Old.Exists && c.New.Exists:
		s += "created"
	case c.Old.Exists && !c.New.Exists:
		s += "removed"
	case c.Old != c.New:
		s += "changed"
	default:
		s += "same"
	}
	if c.Old.Dir || c.New.Dir {
		s += " dir"
	}
	return s
}

func shows(cs []Change) []string {
	var out []string
	for _, c := range cs {
		out = append(out, show(c))
	}
	return out
}

// before reports whether a comes before b in got, both present.
func before(got []string, a, b string) bool {
	i, j := slices.Index(got, a), slices.Index(got, b)
	return i >= 0 && j > i
}

func TestChanges(t *testing.T) {
	type step struct {
		do    func(x *tw)
		want  []string                         // in any order
		check func(t *testing.T, got []string) // instead of want
	}
	tests := []struct {
		name  string
		opts  Options
		watch []string
		setup func(t *testing.T, dir string)
		steps []step
	}{
		{
			name:  "a file written, replaced, rewritten in place, removed",
			opts:  Options{Ignore: hidden},
			watch: []string{"w"},
			steps: []step{{
				do:   func(x *tw) { x.write("w/f", "1") },
				want: []string{"w/f created"},
			}, {
				do: func(x *tw) {
					x.write("w/.tmp", "2")
					must(x.t, os.Rename(x.path("w/.tmp"), x.path("w/f")))
				},
				want: []string{"w/f changed"},
			}, {
				do:   func(x *tw) { x.write("w/f", "three") },
				want: []string{"w/f changed"},
			}, {
				do:   func(x *tw) { must(x.t, os.Remove(x.path("w/f"))) },
				want: []string{"w/f removed"},
			}},
		},
		{
			name:  "hidden names ignored",
			opts:  Options{Ignore: hidden},
			watch: []string{"w"},
			steps: []step{{
				do: func(x *tw) {
					x.write("w/.a", "1")
					must(x.t, os.Mkdir(x.path("w/.d"), 0o755))
					x.write("w/.d/f", "1")
					must(x.t, os.Remove(x.path("w/.a")))
				},
				want: nil,
			}},
		},
		{
			name:  "directories made and removed",
			watch: []string{"w"},
			steps: []step{{
				do: func(x *tw) {
					must(x.t, os.MkdirAll(x.path("w/d/e"), 0o755))
					// Renamed into place: a round looking at the new
					// directory could find a file being written.
					x.write("f", "1")
					must(x.t, os.Rename(x.path("f"), x.path("w/d/e/f")))
				},
				check: func(t *testing.T, got []string) {
					if len(got) != 3 || !before(got, "w/d created dir", "w/d/e created dir") || !before(got, "w/d/e created dir", "w/d/e/f created") {
						t.Errorf("changes %q", got)
					}
				},
			}, {
				do:   func(x *tw) { x.write("w/d/e/g", "1") },
				want: []string{"w/d/e/g created"},
			}, {
				do: func(x *tw) { must(x.t, os.RemoveAll(x.path("w/d"))) },
				check: func(t *testing.T, got []string) {
					if len(got) != 4 || !before(got, "w/d/e/f removed", "w/d/e removed dir") || !before(got, "w/d/e/g removed", "w/d/e removed dir") || got[3] != "w/d removed dir" {
						t.Errorf("changes %q", got)
					}
				},
			}, {
				do:   func(x *tw) { must(x.t, os.Mkdir(x.path("w/d"), 0o755)) },
				want: []string{"w/d created dir"},
			}, {
				// A directory replaced by a file, and back: removed, then
				// created.
				do: func(x *tw) {
					x.write("f", "1") // renamed into place: seen whole
					must(x.t, os.Remove(x.path("w/d")))
					must(x.t, os.Rename(x.path("f"), x.path("w/d")))
				},
				check: func(t *testing.T, got []string) {
					if !slices.Equal(got, []string{"w/d removed dir", "w/d created"}) {
						t.Errorf("changes %q", got)
					}
				},
			}, {
				do: func(x *tw) {
					must(x.t, os.Remove(x.path("w/d")))
					must(x.t, os.Mkdir(x.path("w/d"), 0o755))
				},
				check: func(t *testing.T, got []string) {
					if !slices.Equal(got, []string{"w/d removed", "w/d created dir"}) {
						t.Errorf("changes %q", got)
					}
				},
			}},
		},
		{
			name:  "directories moved in and out",
			watch: []string{"w"},
			setup: func(t *testing.T, dir string) {
				must(t, os.MkdirAll(filepath.Join(dir, "out/d/e"), 0o755))
				must(t, os.WriteFile(filepath.Join(dir, "out/d/e/f"), []byte("1"), 0o644))
			},
			steps: []step{{
				do:   func(x *tw) { must(x.t, os.Rename(x.path("out/d"), x.path("w/d"))) },
				want: []string{"w/d created dir", "w/d/e created dir", "w/d/e/f created"},
			}, {
				do: func(x *tw) { must(x.t, os.Rename(x.path("w/d"), x.path("w/g"))) },
				want: []string{
					"w/d/e/f removed", "w/d/e removed dir", "w/d removed dir",
					"w/g created dir", "w/g/e created dir", "w/g/e/f created",
				},
			}, {
				// Watched under its new name only.
				do:   func(x *tw) { x.write("w/g/e/f", "22") },
				want: []string{"w/g/e/f changed"},
			}, {
				do: func(x *tw) {
					must(x.t, os.Rename(x.path("w/g"), x.path("out/g")))
					x.write("out/g/e/f", "333")
				},
				want: []string{"w/g/e/f removed", "w/g/e removed dir", "w/g removed dir"},
			}},
		},
		{
			name:  "a file yet to be, among others",
			watch: []string{"w/f"},
			steps: []step{{
				do: func(x *tw) {
					x.write("w/g", "1")
					x.write("w/f", "1")
				},
				want: []string{"w/f created"},
			}, {
				do:   func(x *tw) { must(x.t, os.Remove(x.path("w/f"))) },
				want: []string{"w/f removed"},
			}},
		},
		{
			name:  "sidecars reported with their entry",
			opts:  Options{Group: sidecars},
			watch: []string{"w"},
			steps: []step{{
				do:   func(x *tw) { x.write("w/a", "1") },
				want: []string{"w/a created", "w/a.sig same"},
			}, {
				do:   func(x *tw) { x.write("w/a.sig", "1") },
				want: []string{"w/a same", "w/a.sig created"},
			}, {
				do: func(x *tw) {
					must(x.t, os.Remove(x.path("w/a")))
					must(x.t, os.Remove(x.path("w/a.sig")))
				},
				check: func(t *testing.T, got []string) {
					// One round, or one for each.
					if !slices.Equal(got, []string{"w/a removed", "w/a.sig removed"}) &&
						!slices.Equal(got, []string{"w/a removed", "w/a.sig same", "w/a same", "w/a.sig removed"}) {
						t.Errorf("changes %q", got)
					}
				},
			}, {
				// A sidecar that is a directory counts as absent.
				do:   func(x *tw) { must(x.t, os.Mkdir(x.path("w/b.sig"), 0o755)) },
				want: nil,
			}},
		},
		{
			// A directory swapped for a symlink is no longer watched: what
			// is written where the link points is not reported.
			name:  "symlinks not followed",
			watch: []string{"w"},
			setup: func(t *testing.T, dir string) {
				must(t, os.MkdirAll(filepath.Join(dir, "w/d"), 0o755))
				must(t, os.MkdirAll(filepath.Join(dir, "out"), 0o755))
			},
			steps: []step{{
				do: func(x *tw) {
					must(x.t, os.Rename(x.path("w/d"), x.path("old")))
					must(x.t, os.Symlink("../out", x.path("link")))
					must(x.t, os.Rename(x.path("link"), x.path("w/d")))
				},
				want: []string{"w/d removed dir", "w/d created"},
			}, {
				do:   func(x *tw) { x.write("out/f", "1") },
				want: nil,
			}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			must(t, os.Mkdir(filepath.Join(dir, "w"), 0o755))
			if tc.setup != nil {
				tc.setup(t, dir)
			}
			x := start(t, dir, tc.opts, tc.watch...)
			for i, s := range tc.steps {
				s.do(x)
				got := shows(x.settle())
				if s.check != nil {
					s.check(t, got)
				} else {
					g, w := slices.Clone(got), slices.Clone(s.want)
					sort.Strings(g)
					sort.Strings(w)
					if !slices.Equal(g, w) {
						t.Errorf("changes:\n  got  %q\n  want %q", got, s.want)
					}
				}
				if t.Failed() {
					t.Fatalf("step %d", i)
				}
			}
		})
	}
}

// Looked hears of every path looked at, changed or not, before the round
// is handed over.
func TestLooked(t *testing.T) {
	dir := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(dir, "w/d"), 0o755))
	var mu sync.Mutex
	var looked []string
	x := start(t, dir, Options{Looked: func(p string, isDir bool) {
		mu.Lock()
		defer mu.Unlock()
		looked = append(looked, fmt.Sprint(p, " ", isDir))
	}}, "w")
	seen := func(want ...string) {
		t.Helper()
		mu.Lock()
		defer mu.Unlock()
		for _, w := range want {
			if !slices.Contains(looked, w) {
				t.Errorf("looked at %q, not %q", looked, w)
			}
		}
		looked = nil
	}
	x.write("w/f", "1")
	x.settle()
	seen("w/f false")
	// Touched, not changed: still looked at.
	must(t, os.Chmod(x.path("w/f"), 0o600))
	if cs := x.settle(); len(cs) != 0 {
		t.Errorf("a chmod changed %q", shows(cs))
	}
	seen("w/f false")
	must(t, os.Remove(x.path("w/d")))
	x.settle()
	seen("w/d true")
}

func TestNewErrors(t *testing.T) {
	dir := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(dir, "w"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "w/f"), nil, 0o644))
	root, err := os.OpenRoot(dir)
	must(t, err)
	defer root.Close()
	for _, tc := range []struct {
		paths []string
		path  string // of the *fs.PathError, "" for none
		err   error
	}{
		{nil, "", nil},
		{[]string{"../x"}, "../x", fs.ErrInvalid},
		{[]string{"/w"}, "/w", fs.ErrInvalid},
		{[]string{"missing/x"}, "missing", fs.ErrNotExist},
		{[]string{"w", "w/f/x"}, "w/f", nil},
	} {
		w, err := New(root, tc.paths, Options{})
		var pe *fs.PathError
		switch {
		case err == nil:
			w.Close()
			t.Errorf("New(%q) did not fail", tc.paths)
		case tc.err != nil && !errors.Is(err, tc.err):
			t.Errorf("New(%q) = %v, want %v", tc.paths, err, tc.err)
		case tc.path != "" && (!errors.As(err, &pe) || pe.Path != tc.path):
			t.Errorf("New(%q) = %v, want a path error for %s", tc.paths, err, tc.path)
		}
	}
}
