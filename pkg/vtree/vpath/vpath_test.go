package vpath

import (
	"slices"
	"strings"
	"testing"
)

// TestIsClean: the fast path agrees with the full cleaning: a path it
// passes through is one Clean's full way returns unchanged, and every path
// the full way returns is passed through.
func TestIsClean(t *testing.T) {
	long := strings.Repeat("x", MaxName)
	for _, p := range []string{
		"/", "", "a", "/a", "/a/", "//a", "/a//b", "/a/./b", "/a/../b", "/..", "/.", "/.a",
		"/a/.type", "/sysman", "/sysman/system/chassis", "/systems/sysman", "/a\x00b",
		"/systems/servers/n0001/command", "/" + long, "/" + long + "x", "/a/" + long,
		"/" + strings.Repeat("a/", MaxPath/2), "/" + strings.Repeat("a/", MaxPath/2-1) + "a",
		"/" + strings.Repeat("b", MaxPath-1), "/" + strings.Repeat("b/", 2047) + "b",
	} {
		full, err := clean(p)
		if isClean(p) && (err != nil || full != p) {
			t.Errorf("isClean(%.40q) but the full way gives %.40q, %v", p, full, err)
		}
		if err == nil && !isClean(full) {
			t.Errorf("Clean(%.40q) = %.40q, which isClean refuses", p, full)
		}
		if got, gerr := Clean(p); got != full || (gerr == nil) != (err == nil) {
			t.Errorf("Clean(%.40q) = %.40q, %v; the full way %.40q, %v", p, got, gerr, full, err)
		}
	}
}

// FuzzIsClean: the same for any input.
func FuzzIsClean(f *testing.F) {
	for _, s := range []string{"/", "/a/b", "/sysman/x", "/a/.b", "a//b/", "/a\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		full, err := clean(p)
		if isClean(p) && (err != nil || full != p) {
			t.Errorf("isClean(%q) but the full way gives %q, %v", p, full, err)
		}
		if err == nil && !isClean(full) {
			t.Errorf("Clean(%q) = %q, which isClean refuses", p, full)
		}
	})
}

func TestJoinAll(t *testing.T) {
	for _, tc := range []struct {
		dir   string
		names []string
		want  []string
	}{
		{"/", []string{"systems", "ids"}, []string{"/systems", "/ids"}},
		{"/systems/servers", []string{"n1", "n10", ""}, []string{"/systems/servers/n1", "/systems/servers/n10", "/systems/servers/"}},
		{"/a", nil, []string{}},
	} {
		if got := JoinAll(tc.dir, len(tc.names), func(i int) string { return tc.names[i] }); !slices.Equal(got, tc.want) {
			t.Errorf("JoinAll(%q, %q) = %q, want %q", tc.dir, tc.names, got, tc.want)
		}
	}
}

func TestRelJoinSplit(t *testing.T) {
	for _, tc := range []struct{ p, rel, dir, name string }{
		{"/", ".", "/", ""},
		{"/systems", "systems", "/", "systems"},
		{"/systems/servers/n1", "systems/servers/n1", "/systems/servers", "n1"},
	} {
		if got := Rel(tc.p); got != tc.rel {
			t.Errorf("Rel(%q) = %q, want %q", tc.p, got, tc.rel)
		}
		if d, n := Split(tc.p); d != tc.dir || n != tc.name {
			t.Errorf("Split(%q) = %q, %q; want %q, %q", tc.p, d, n, tc.dir, tc.name)
		}
		if tc.p != "/" {
			if got := Join(tc.dir, tc.name); got != tc.p {
				t.Errorf("Join(%q, %q) = %q, want %q", tc.dir, tc.name, got, tc.p)
			}
		}
	}
}
