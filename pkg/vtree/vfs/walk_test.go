package vfs

import (
	"context"
	"errors"
	"io/fs"
	"slices"
	"strings"
	"testing"

	"github.com/smctl/smctl/pkg/vtree"
)

// statCounter is a tree that records the paths Stat is asked for.
type statCounter struct {
	*vtree.Tree
	stats []string
}

func (s *statCounter) Stat(ctx context.Context, p string) (*vtree.Info, error) {
	s.stats = append(s.stats, p)
	return s.Tree.Stat(ctx, p)
}

// TestGlob expands patterns per element: files with an agent and no
// content yet match, a literal name inside a live directory is kept without
// asking the node (no Stat), and a pattern matching nothing is an error.
func TestGlob(t *testing.T) {
	tr := newTree(t, map[string]string{"server/power.read": "echo on"}, "server n[1-2] transport=local\n")
	ctx := context.Background()
	servers := func(suffix string) []string {
		return []string{"/systems/servers/localhost" + suffix, "/systems/servers/n1" + suffix, "/systems/servers/n2" + suffix}
	}
	for _, tt := range []struct {
		pattern string
		want    []string
		err     string
	}{
		{pattern: "/systems/servers/*", want: servers("")},
		{pattern: "/systems/servers/*/power", want: servers("/power")},
		{pattern: "/sysman/systems/servers/n[12]", want: []string{"/systems/servers/n1", "/systems/servers/n2"}},
		{pattern: "/systems/servers/n?/pro?", want: []string{"/systems/servers/n1/proc", "/systems/servers/n2/proc"}},
		{pattern: "/systems/servers/*/proc/nope", want: servers("/proc/nope")},
		{pattern: "/systems/servers/localhost", want: []string{"/systems/servers/localhost"}},
		{pattern: "/systems/servers/*/nope", err: "no match"},
		{pattern: "/systems/[", err: "syntax error"},
		{pattern: "/nope", err: "does not exist"},
	} {
		sc := &statCounter{Tree: tr}
		got, err := Glob(ctx, sc, tt.pattern)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("Glob(%q) = %q, %v; want error %q", tt.pattern, got, err, tt.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("Glob(%q) = %q, %v; want %q", tt.pattern, got, err, tt.want)
		}
		for _, p := range sc.stats {
			if strings.Contains(p, "/proc/") {
				t.Errorf("Glob(%q) asked the node for %s", tt.pattern, p)
			}
		}
	}
	if !HasMeta("/a/b[1]") || !HasMeta(`a\b`) || HasMeta("/systems/servers/n1") {
		t.Error("HasMeta is wrong")
	}
}

// TestWalk visits in lexical order, the start first with no entry, lists
// live directories without entering them, and follows MaxDepth, SkipDir
// and SkipAll.
func TestWalk(t *testing.T) {
	tr := newTree(t, nil, "server n[1-2] transport=local\n")
	ctx := context.Background()
	walk := func(start string, opts WalkOptions, fn func(p string) error) []string {
		t.Helper()
		var seen []string
		err := Walk(ctx, tr, start, opts, func(p string, e *vtree.Entry, err error) error {
			if err != nil {
				return err
			}
			if (e == nil) != (p == strings.TrimSuffix(start, "/")) {
				t.Errorf("%s: entry %v", p, e)
			}
			seen = append(seen, p)
			if fn != nil {
				return fn(p)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("Walk(%s): %v", start, err)
		}
		return seen
	}
	all := walk("/systems/servers/", WalkOptions{MaxDepth: -1}, nil)
	if !slices.IsSorted(all) || all[0] != "/systems/servers" || !slices.Contains(all, "/systems/servers/n2/proc") {
		t.Errorf("walk = %q", all)
	}
	for _, p := range all {
		if strings.Contains(p, "/proc/") || strings.Contains(p, "/sys/") {
			t.Errorf("walk entered a live directory: %s", p)
		}
	}
	if got, want := walk("/systems/servers", WalkOptions{MaxDepth: 1}, nil), []string{"/systems/servers", "/systems/servers/localhost", "/systems/servers/n1", "/systems/servers/n2"}; !slices.Equal(got, want) {
		t.Errorf("MaxDepth 1: %q, want %q", got, want)
	}
	skipped := walk("/systems/servers", WalkOptions{MaxDepth: -1}, func(p string) error {
		if p == "/systems/servers/n1" {
			return fs.SkipDir
		}
		return nil
	})
	if !slices.Contains(skipped, "/systems/servers/n1") || slices.Contains(skipped, "/systems/servers/n1/proc") || !slices.Contains(skipped, "/systems/servers/n2/proc") {
		t.Errorf("SkipDir: %q", skipped)
	}
	if got := walk("/systems/servers", WalkOptions{MaxDepth: -1}, func(p string) error {
		if p == "/systems/servers/n1" {
			return fs.SkipAll
		}
		return nil
	}); got[len(got)-1] != "/systems/servers/n1" {
		t.Errorf("SkipAll: %q", got)
	}
	if got := walk("/systems/servers/localhost/proc/sys/kernel", WalkOptions{MaxDepth: 1}, nil); !slices.Contains(got, "/systems/servers/localhost/proc/sys/kernel/ostype") {
		t.Errorf("walk inside a live directory: %q", got)
	}
	err := Walk(ctx, tr, "/nope", WalkOptions{MaxDepth: -1}, func(p string, e *vtree.Entry, err error) error { return err })
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Walk(missing) = %v", err)
	}
}
