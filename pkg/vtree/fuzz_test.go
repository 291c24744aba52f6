package vtree

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzClean checks the virtual path parser: it never panics; what it
// accepts comes out absolute and clean (no empty, "." or ".." element, no
// name starting with '.', none too long, no leading /sysman) and cleaning
// it again changes nothing; what it refuses is an ErrBadPath naming the
// path given.
func FuzzClean(f *testing.F) {
	for _, s := range []string{
		"", "/", ".", "..", "/..", "a/../..", "systems/servers", "/systems//servers/",
		"/sysman", "/sysman/system/chassis/1", "/system/x",
		"/a/./b/../c", "/a/.type", "/a\x00b", "/" + strings.Repeat("x", MaxName+1),
		strings.Repeat("/x", MaxPath), "/systems/servers/n001/proc/sys/kernel/hostname",
		"/\xff\xfe/..", "//..//sysman/../system", strings.Repeat("x/", MaxPath/2),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		got, err := Clean(p)
		if err != nil {
			if !errors.Is(err, ErrBadPath) {
				t.Fatalf("Clean(%q): %v, not an ErrBadPath", p, err)
			}
			if utf8.ValidString(p) && len(p) < 100 && !strings.Contains(err.Error(), p) {
				t.Fatalf("Clean(%q): error %q does not name the path", p, err)
			}
			return
		}
		if !strings.HasPrefix(got, "/") {
			t.Fatalf("Clean(%q) = %q: not absolute", p, got)
		}
		if len(got) > MaxPath || strings.IndexByte(got, 0) >= 0 {
			t.Fatalf("Clean(%q) = %q: too long or has NUL", p, got)
		}
		if got != "/" {
			for i, el := range strings.Split(got[1:], "/") {
				switch {
				case el == "" || el == "." || el == "..":
					t.Fatalf("Clean(%q) = %q: element %q", p, got, el)
				case el[0] == '.':
					t.Fatalf("Clean(%q) = %q: reserved name %q", p, got, el)
				case len(el) > MaxName:
					t.Fatalf("Clean(%q) = %q: name longer than %d", p, got, MaxName)
				case i == 0 && el == "sysman":
					t.Fatalf("Clean(%q) = %q: leading /sysman kept", p, got)
				}
			}
		}
		again, err := Clean(got)
		if err != nil || again != got {
			t.Fatalf("Clean(Clean(%q)) = %q, %v; want %q", p, again, err, got)
		}
	})
}
