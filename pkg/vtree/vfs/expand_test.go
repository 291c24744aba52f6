package vfs

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/smctl/smctl/pkg/nodeset"
	"github.com/smctl/smctl/pkg/status"
	"github.com/smctl/smctl/pkg/vtree"
	"github.com/smctl/smctl/pkg/vtree/devices"
)

// groupTree is a tree with servers n1..n3, m01, m02 and localhost, and
// the groups of defs written as smctl write writes them.
func groupTree(t *testing.T, defs map[string]string) *vtree.Tree {
	t.Helper()
	tr := newTree(t, nil, "server n[1-3] transport=local\nserver m[01-02] transport=local\n")
	for name, def := range defs {
		if _, err := tr.Write(context.Background(), "/groups/"+name, []byte(def)); err != nil {
			t.Fatal(err)
		}
	}
	return tr
}

var testGroups = map[string]string{
	"web":   "n[1-2]\n",
	"all":   "# every n\n@web\nn3\n",
	"ghost": "n9\n",
	"loop":  "@loop2\n",
	"loop2": "@loop\n",
	"slash": "n1/../../x\n",
	"empty": "# no one\n",
}

// TestExpand: node-set ranges and groups name paths whether they exist or
// not, brackets that are not ranges stay globs, globs must match, and
// each failing part is an error naming it.
func TestExpand(t *testing.T) {
	tr := groupTree(t, testGroups)
	ctx := context.Background()
	s := func(names ...string) []string {
		var out []string
		for _, n := range names {
			out = append(out, "/systems/servers/"+n)
		}
		return out
	}
	for _, tt := range []struct {
		pattern string
		want    []string
		errs    []string // each error, in order
		is      error    // the first error wraps it
	}{
		{pattern: "/systems/servers/n[1-2]/command", want: s("n1/command", "n2/command")},
		{pattern: "/sysman/systems/servers/n[1-2]", want: s("n1", "n2")},
		// Names that do not exist are named all the same: the operation
		// reports them, as ClusterShell would.
		{pattern: "/systems/servers/n[1-4]/command", want: s("n1/command", "n2/command", "n3/command", "n4/command")},
		{pattern: "/systems/servers/n[3,1]", want: s("n3", "n1")},
		{pattern: "/systems/servers/n[1,1-2]", want: s("n1", "n2")},
		{pattern: "/systems/servers/m[01-02]", want: s("m01", "m02")},
		{pattern: "/systems/servers/n[1-2]x[1-2]", want: s("n1x1", "n1x2", "n2x1", "n2x2")},
		// A bracket of digits alone is the shell's class of those digits.
		{pattern: "/systems/servers/n[12]", want: s("n1", "n2")},
		{pattern: "/systems/servers/m0[12]", want: s("m01", "m02")},
		{pattern: "/systems/servers/n[1]", want: s("n1")},
		{pattern: "/systems/servers/n[4]", errs: []string{"glob /systems/servers/n[4]: no match"}},
		// A single range is a range, even of one number.
		{pattern: "/systems/servers/n[4-4]", want: s("n4")},
		{pattern: "/systems/servers/n[1,4]", want: s("n1", "n4")},
		// Other brackets, *, ? are globs, alone or after the ranges.
		{pattern: "/systems/servers/n[!1]", want: s("n2", "n3")},
		{pattern: "/systems/servers/[a-m]*", want: s("localhost", "m01", "m02")},
		{pattern: "/systems/servers/n[1-2]/comman?", want: s("n1/command", "n2/command")},
		{pattern: "/systems/servers/n[1-4]/comman?", want: s("n1/command", "n2/command", "n3/command"),
			errs: []string{"glob /systems/servers/n4/comman?: no match"}},
		{pattern: "/systems/servers/m[1-2]*", errs: []string{"glob /systems/servers/m1*: no match", "glob /systems/servers/m2*: no match"}},
		{pattern: "/systems/servers/m0[1-3]*", want: s("m01", "m02"), errs: []string{"glob /systems/servers/m03*: no match"}},
		{pattern: `/systems/servers/n\[1-2]`, errs: []string{"no match"}},
		// Groups, in a device's place.
		{pattern: "/systems/servers/@web/command", want: s("n1/command", "n2/command")},
		{pattern: "/systems/servers/@all", want: s("n1", "n2", "n3")},
		{pattern: "/systems/servers/@ghost/command", want: s("n9/command")},
		{pattern: "/systems/*/@web/command", want: s("n1/command", "n2/command")},
		{pattern: "/systems/servers/@web/comman?", want: s("n1/command", "n2/command")},
		{pattern: "/systems/servers/@nope/command", errs: []string{"expand /systems/servers/@nope/command: no group nope: /groups/nope does not exist"}, is: ErrNoGroup},
		{pattern: "/systems/servers/@loop", errs: []string{"group cycle: @loop -> @loop2 -> @loop"}, is: nodeset.ErrCycle},
		{pattern: "/systems/servers/@slash", errs: []string{`group slash: "n1/../../x" is not a node name`}},
		{pattern: "/systems/servers/@empty", errs: []string{"no match (the group is empty)"}},
		// Elsewhere @NAME is a name.
		{pattern: "/systems/@web", want: []string{"/systems/@web"}},
		{pattern: "/@web", want: []string{"/@web"}},
		{pattern: "/systems/servers/n1/@web", want: s("n1/@web")},
		{pattern: "/systems/servers/n1/proc/@web", want: s("n1/proc/@web")},
		// Bad ranges and too many paths name the pattern.
		{pattern: "/systems/servers/n[3-1]", errs: []string{`expand /systems/servers/n[3-1]: node set "n[3-1]": bad range "3-1": end before start`}},
		{pattern: "/[1-1024]/[1-1024]/[1-2]", errs: []string{"too many paths"}, is: ErrTooMany},
		{pattern: "/systems/servers/n[1-3]/../m01", want: s("m01")},
		{pattern: "/a/../..", errs: []string{"climbs above the root"}},
	} {
		t.Run(tt.pattern, func(t *testing.T) {
			if !HasPattern(tt.pattern) && tt.pattern != "/a/../.." {
				t.Errorf("HasPattern(%q) = false", tt.pattern)
			}
			got, errs := Expand(ctx, tr, tt.pattern)
			if !slices.Equal(got, tt.want) {
				t.Errorf("Expand(%q) = %q, want %q", tt.pattern, got, tt.want)
			}
			var msgs []string
			for _, e := range errs {
				msgs = append(msgs, e.Error())
			}
			if len(msgs) != len(tt.errs) {
				t.Fatalf("Expand(%q) errors %q, want %q", tt.pattern, msgs, tt.errs)
			}
			for i, m := range msgs {
				if !strings.Contains(m, tt.errs[i]) {
					t.Errorf("Expand(%q) error %q, want %q", tt.pattern, m, tt.errs[i])
				}
			}
			if tt.is != nil && !errors.Is(errs[0], tt.is) {
				t.Errorf("Expand(%q) error %v is not %v", tt.pattern, errs[0], tt.is)
			}
		})
	}
	// A group's errors are usage errors (exit 2 for run and cp).
	_, errs := Expand(ctx, tr, "/systems/servers/@nope")
	if len(errs) != 1 || status.Of(errs[0]) != status.Usage {
		t.Errorf("missing group: %v, code %v; want a usage error", errs, status.Of(errs[0]))
	}
}

// An entry named @NAME is itself, not the group.
func TestExpandLiteralAt(t *testing.T) {
	tr := groupTree(t, testGroups)
	ctx := context.Background()
	if err := devices.MakeDirs(tr, "/systems/servers/@web"); err != nil {
		t.Fatal(err)
	}
	got, errs := Expand(ctx, tr, "/systems/servers/@web")
	if len(errs) > 0 || !slices.Equal(got, []string{"/systems/servers/@web"}) {
		t.Errorf("Expand(@web) with an entry @web = %q, %v", got, errs)
	}
}

func TestHasPattern(t *testing.T) {
	for p, want := range map[string]bool{
		"/systems/servers/n1": false, "/a/b@c": false, "": false,
		"/a/b[1]": true, `a\b`: true, "/a/*": true, "/a/?": true,
		"/systems/servers/@web": true, "@web": true, "/a/@": true,
	} {
		if got := HasPattern(p); got != want {
			t.Errorf("HasPattern(%q) = %v, want %v", p, got, want)
		}
	}
}

// expandRanges expands the ranges of one path element and leaves the
// rest, glob classes and escapes included, as written.
func TestExpandRanges(t *testing.T) {
	for _, tt := range []struct{ in, want, err string }{
		{in: "n1", want: "n1"},
		{in: "n[1-3]", want: "n1 n2 n3"},
		{in: "n[0001-0002]", want: "n0001 n0002"},
		{in: "[1-2]", want: "1 2"},
		{in: "r[1-2]n[1,3]", want: "r1n1 r1n3 r2n1 r2n3"},
		{in: "n[01-02]*", want: "n01* n02*"},
		{in: "n[1-2][a-z]", want: "n1[a-z] n2[a-z]"},
		{in: "n[a-z][1-2]", want: "n[a-z]1 n[a-z]2"},
		{in: "n[!0-9]", want: "n[!0-9]"},
		{in: `n\[1-2]`, want: `n\[1-2]`},
		{in: `n\\[1-2]`, want: `n\\1 n\\2`},
		{in: "n[1-2", want: "n[1-2"},
		{in: "n[12]", want: "n[12]"},
		{in: "n0[12][3,4]", want: "n0[12]3 n0[12]4"},
		{in: "n[2-1]", err: "end before start"},
	} {
		got, err := expandRanges(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("expandRanges(%q) = %q, %v; want error %q", tt.in, got, err, tt.err)
			}
			continue
		}
		if err != nil || strings.Join(got, " ") != tt.want {
			t.Errorf("expandRanges(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

// TestWalkPattern: a start that does not exist but is a pattern is
// expanded, each path walked; one that exists is walked as it is named.
func TestWalkPattern(t *testing.T) {
	tr := groupTree(t, testGroups)
	ctx := context.Background()
	if err := devices.MakeDirs(tr, "/systems/x[1]"); err != nil {
		t.Fatal(err)
	}
	walk := func(start string) string {
		var seen []string
		err := Walk(ctx, tr, start, WalkOptions{MaxDepth: 0}, func(p string, e *vtree.Entry, err error) error {
			if err != nil {
				seen = append(seen, fmt.Sprintf("%s: error %v", p, err))
				return nil
			}
			seen = append(seen, p)
			return nil
		})
		if err != nil {
			t.Fatalf("Walk(%s): %v", start, err)
		}
		return strings.Join(seen, "; ")
	}
	for _, tt := range []struct{ start, want string }{
		{"/systems/servers/n[1-2]", "/systems/servers/n1; /systems/servers/n2"},
		{"/systems/servers/@all", "/systems/servers/n1; /systems/servers/n2; /systems/servers/n3"},
		{"/systems/servers/n[2-4]", "/systems/servers/n2; /systems/servers/n3; /systems/servers/n4: error lookup /systems/servers/n4: file does not exist"},
		{"/systems/servers/@nope", "/systems/servers/@nope: error expand /systems/servers/@nope: no group nope: /groups/nope does not exist"},
		{"/systems/x[1]", "/systems/x[1]"},
		{"/systems/servers/m*", "/systems/servers/m01; /systems/servers/m02"},
	} {
		if got := walk(tt.start); got != tt.want {
			t.Errorf("Walk(%s) visited\n%s\nwant\n%s", tt.start, got, tt.want)
		}
	}
	// SkipAll from the error of a part ends the walk quietly.
	err := Walk(ctx, tr, "/systems/servers/@nope", WalkOptions{}, func(string, *vtree.Entry, error) error { return fs.SkipAll })
	if err != nil {
		t.Errorf("SkipAll: %v", err)
	}
}

// TestGroup reads a group's node sets; a missing /groups (an older root)
// is a missing group.
func TestGroup(t *testing.T) {
	tr := groupTree(t, testGroups)
	ctx := context.Background()
	got, err := Group(ctx, tr, "all")
	if err != nil || !slices.Equal(got, []string{"@web", "n3"}) {
		t.Errorf("Group(all) = %q, %v", got, err)
	}
	if names := GroupNames(ctx, tr); !slices.Equal(names, []string{"all", "empty", "ghost", "loop", "loop2", "slash", "web"}) {
		t.Errorf("GroupNames = %q", names)
	}
	if _, err := Group(ctx, tr, "../etc"); !errors.Is(err, nodeset.ErrGroupName) {
		t.Errorf("Group(../etc) = %v, want a bad name", err)
	}
	old := newTree(t, nil, "")
	if err := removeAll(old, "/groups"); err != nil {
		t.Fatal(err)
	}
	_, err = Group(ctx, old, "web")
	if err == nil || err.Error() != "no group web: /groups/web does not exist" || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Group in a root without /groups = %v", err)
	}
	if names := GroupNames(ctx, old); names != nil {
		t.Errorf("GroupNames without /groups = %q", names)
	}
	// A tree that cannot read trusted has no groups.
	_, err = Group(ctx, plainTree{tr}, "web")
	if !errors.Is(err, ErrGroupsUnsupported) {
		t.Errorf("Group of a tree without ReadTrusted = %v", err)
	}
}

// plainTree hides every method of a tree but Tree's.
type plainTree struct{ Tree }

// removeAll removes the virtual path p's backing file or directory, as an
// older state root that lacks it.
func removeAll(tr *vtree.Tree, p string) error {
	return os.RemoveAll(filepath.Join(tr.BackingDir(), filepath.FromSlash(strings.TrimPrefix(p, "/"))))
}

func TestShellClasses(t *testing.T) {
	for in, want := range map[string]string{
		"n[!0-9]": "n[^0-9]", "n[!]": "n[^]", `n\[!1]`: `n\[!1]`, "a[x!]b[!y]": "a[x!]b[^y]",
		"n[a[!]": "n[a[!]", "plain!": "plain!", "[!": "[^",
	} {
		if got := shellClasses(in); got != want {
			t.Errorf("shellClasses(%q) = %q, want %q", in, got, want)
		}
	}
}
