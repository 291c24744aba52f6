// Package vpath validates and cleans the tree's virtual paths: absolute,
// no "." or ".." elements, no names the backing tree reserves, within
// Linux's limits, with the paper's /sysman prefix accepted and dropped.
package vpath

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/smctl/smctl/pkg/vtree/store"
)

// Limits on virtual paths: Linux's PATH_MAX, and NAME_MAX less room for
// the ".status" that NAME.status adds.
const (
	MaxName = store.MaxName
	MaxPath = 4096
)

// ErrBadPath is wrapped by every path validation error.
var ErrBadPath = errors.New("invalid path")

// Clean validates a virtual path and returns it in canonical form: absolute,
// no trailing slash, no "." or ".." elements; cleaning it again changes
// nothing. A relative path is taken relative to the root of the tree, and
// a leading "/sysman" (or "sysman") is dropped so that the paper's
// commands work verbatim. It rejects NUL bytes, ".." that would climb
// above the root, over-long names and names starting with '.', which the
// backing tree reserves for smctl's own files.
func Clean(p string) (string, error) {
	if isClean(p) {
		return p, nil // the common case (paths smctl printed): no allocation
	}
	return clean(p)
}

func clean(p string) (string, error) {
	bad := func(why string) (string, error) {
		return "", &fs.PathError{Op: "path", Path: p, Err: fmt.Errorf("%w: %s", ErrBadPath, why)}
	}
	if strings.IndexByte(p, 0) >= 0 {
		return bad("contains a NUL byte")
	}
	if len(p) > MaxPath {
		return bad(fmt.Sprintf("longer than %d bytes", MaxPath))
	}
	var out []string
	for _, el := range strings.Split(p, "/") {
		switch {
		case el == "" || el == ".":
		case el == "..":
			if len(out) == 0 {
				return bad("\"..\" climbs above the root of the tree")
			}
			out = out[:len(out)-1]
		case len(el) > MaxName:
			return bad(fmt.Sprintf("name longer than %d bytes", MaxName))
		case el[0] == '.':
			return bad(fmt.Sprintf("name %q starts with '.' (reserved)", el))
		default:
			out = append(out, el)
		}
	}
	// Every leading "sysman" goes, so that cleaning a clean path changes
	// nothing: the tree has no /sysman of its own.
	if len(out) > 0 && out[0] == "sysman" {
		for len(out) > 0 && out[0] == "sysman" {
			out = out[1:]
		}
		// The paper spells it /sysman/system/chassis/... in Figures 4
		// and 6; take its commands verbatim.
		if len(out) > 0 && out[0] == "system" {
			out[0] = "systems"
		}
	}
	// A relative path of MaxPath bytes is one longer once absolute.
	clean := "/" + strings.Join(out, "/")
	if len(clean) > MaxPath {
		return bad(fmt.Sprintf("longer than %d bytes", MaxPath))
	}
	return clean, nil
}

// isClean reports whether p is already what Clean returns for it: "/", or
// "/"-separated names, none empty, starting with '.', over MaxName or
// holding a NUL, the first not "sysman", within MaxPath. Anything else
// (including every path Clean refuses) takes Clean's full way.
func isClean(p string) bool {
	if p == "/" {
		return true
	}
	if len(p) < 2 || p[0] != '/' || len(p) > MaxPath {
		return false
	}
	start := 1
	for i := 1; i <= len(p); i++ {
		if i < len(p) && p[i] != '/' {
			if p[i] == 0 {
				return false
			}
			continue
		}
		el := p[start:i]
		if el == "" || el[0] == '.' || len(el) > MaxName || start == 1 && el == "sysman" {
			return false
		}
		start = i + 1
	}
	return true
}

// Rel converts the clean virtual path p to a path relative to the backing
// root ("." for "/").
func Rel(p string) string {
	if p == "/" {
		return "."
	}
	return p[1:]
}

// Join joins the clean virtual directory dir and a name.
func Join(dir, name string) string {
	if dir == "/" {
		return "/" + name
	}
	return dir + "/" + name
}

// Split returns the directory and name of the clean virtual path p ("/"
// and "" for "/").
func Split(p string) (string, string) {
	i := strings.LastIndexByte(p, '/')
	if i <= 0 {
		return "/", p[i+1:]
	}
	return p[:i], p[i+1:]
}

// JoinAll returns the paths of the n names name(0) ... name(n-1) in the
// clean directory dir, all slices of one string: a listing of n entries
// costs one allocation for its paths, not n.
func JoinAll(dir string, n int, name func(int) string) []string {
	prefix := dir + "/"
	if dir == "/" {
		prefix = "/"
	}
	size := n * len(prefix)
	for i := range n {
		size += len(name(i))
	}
	var b strings.Builder
	b.Grow(size)
	for i := range n {
		b.WriteString(prefix)
		b.WriteString(name(i))
	}
	all, out := b.String(), make([]string, n)
	for i := range n {
		l := len(prefix) + len(name(i))
		out[i], all = all[:l], all[l:]
	}
	return out
}
