package vfs

import (
	"context"
	"errors"
	"io/fs"
	"path"
	"strings"

	"github.com/smctl/smctl/pkg/vtree"
)

// WalkFunc is called by Walk for each entry, as fs.WalkDirFunc.
type WalkFunc func(p string, e *vtree.Entry, err error) error

// WalkOptions tune Walk.
type WalkOptions struct {
	// MaxDepth stops descending below this depth (the start is depth 0);
	// negative means no limit.
	MaxDepth int
}

// Walk visits the tree below the virtual path start in lexical order,
// as fs.WalkDir does, calling fn for start itself with a nil entry. It runs
// no agents. It does not enter live directories (whose listing asks the
// node, and whose /proc and /sys hold cycles) unless start is inside one.
// fn may return fs.SkipDir or fs.SkipAll.
//
// A start that does not exist but is a pattern (HasPattern: node sets,
// @groups, globs) is expanded as Expand does, and each path it names is
// walked in turn; a part that names nothing is reported to fn with start.
func Walk(ctx context.Context, t Tree, start string, opts WalkOptions, fn WalkFunc) error {
	start, err := vtree.Clean(start)
	if err != nil {
		return err
	}
	if HasPattern(start) {
		if _, err := t.Stat(ctx, start); err != nil {
			return walkPattern(ctx, t, start, opts, fn)
		}
	}
	return walkStart(ctx, t, start, opts, fn)
}

// walkPattern walks each path the pattern start expands to.
func walkPattern(ctx context.Context, t Tree, start string, opts WalkOptions, fn WalkFunc) error {
	paths, errs := Expand(ctx, t, start)
	for _, e := range errs {
		if err := fn(start, nil, e); err != nil {
			if errors.Is(err, fs.SkipDir) || errors.Is(err, fs.SkipAll) {
				return nil
			}
			return err
		}
	}
	for _, p := range paths {
		if err := walkStart(ctx, t, p, opts, fn); err != nil {
			return err
		}
	}
	return nil
}

func walkStart(ctx context.Context, t Tree, start string, opts WalkOptions, fn WalkFunc) error {
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
	err = walk(ctx, t, start, 1, info.Live, opts, fn)
	if errors.Is(err, fs.SkipAll) {
		return nil
	}
	return err
}

func walk(ctx context.Context, t Tree, dir string, depth int, inLive bool, opts WalkOptions, fn WalkFunc) error {
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
		if e.IsDir() && (!e.Live() || inLive) {
			if err := walk(ctx, t, e.Path(), depth+1, inLive, opts, fn); err != nil {
				return err
			}
		}
	}
	return nil
}

// HasMeta reports whether p contains glob metacharacters.
func HasMeta(p string) bool { return strings.ContainsAny(p, `*?[\`) }

// Glob returns the virtual paths matching the pattern, sorted, expanding
// *, ? and [...] per path element as the shell does; it runs no agents.
// Live directories are matched too when the pattern reaches into one; a
// literal name inside one is kept without asking the node (its read will
// say if it is missing).
//
// As in the shell, "[!...]" is a negated class (path.Match's "[^...]").
func Glob(ctx context.Context, t Tree, pattern string) ([]string, error) {
	orig := pattern
	pattern = shellClasses(pattern)
	if _, err := path.Match(pattern, ""); err != nil {
		return nil, &fs.PathError{Op: "glob", Path: orig, Err: err}
	}
	clean, err := vtree.Clean(pattern)
	if err != nil {
		return nil, err
	}
	if !HasMeta(clean) {
		if _, err := t.Stat(ctx, clean); err != nil {
			return nil, err
		}
		return []string{clean}, nil
	}
	cur := []string{"/"}
	for _, el := range strings.Split(clean[1:], "/") {
		var next []string
		for _, dir := range cur {
			if !HasMeta(el) {
				p := path.Join(dir, el)
				// Inside a live directory (one whose parent resolves as
				// live) a literal name is not checked: that would cost a
				// round trip to every node before the read that follows,
				// which reports a missing file anyway.
				if r, err := t.Resolve(ctx, dir); err == nil && r.Live {
					next = append(next, p)
					continue
				}
				if _, err := t.Stat(ctx, p); err == nil {
					next = append(next, p)
				}
				continue
			}
			es, err := t.ReadDir(ctx, dir)
			if err != nil {
				continue
			}
			for _, e := range es {
				if ok, _ := path.Match(el, e.Name()); ok {
					next = append(next, e.Path())
				}
			}
		}
		cur = next
	}
	if len(cur) == 0 {
		return nil, &fs.PathError{Op: "glob", Path: orig, Err: errors.New("no match")}
	}
	return cur, nil
}

// shellClasses rewrites the shell's negated classes "[!...]" of pattern
// as path.Match writes them, "[^...]".
func shellClasses(pattern string) string {
	b := []byte(pattern)
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '[':
			if i+1 < len(b) && b[i+1] == '!' {
				b[i+1] = '^'
			}
			// Skip to the end of the class: a '[' inside it is itself.
			for i++; i < len(b) && b[i] != ']'; i++ {
				if b[i] == '\\' {
					i++
				}
			}
		}
	}
	return string(b)
}
