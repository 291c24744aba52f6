package vtree

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"path"
	"strings"
)

// FS returns a read-only io/fs view of the tree bound to ctx, so that
// fs.WalkDir, fs.Glob, fs.ReadFile and testing/fstest work unchanged.
// Opening a file runs nothing; its first Read reads it through the tree,
// running its read agent as Read does.
func (t *Tree) FS(ctx context.Context, opts ReadOptions) fs.FS {
	return &view{t: t, ctx: ctx, opts: opts}
}

type view struct {
	t    *Tree
	ctx  context.Context
	opts ReadOptions
}

var (
	_ fs.FS         = (*view)(nil)
	_ fs.ReadDirFS  = (*view)(nil)
	_ fs.StatFS     = (*view)(nil)
	_ fs.ReadFileFS = (*view)(nil)
)

func (v *view) vpath(op, name string) (string, error) {
	if !fs.ValidPath(name) {
		return "", &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	if name == "." {
		return "/", nil
	}
	for _, el := range strings.Split(name, "/") {
		if strings.HasPrefix(el, ".") {
			return "", &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
		}
	}
	return "/" + name, nil
}

// fsErr renames a tree error to the fs path name.
func fsErr(op, name string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return &fs.PathError{Op: op, Path: name, Err: pe.Err}
	}
	return &fs.PathError{Op: op, Path: name, Err: err}
}

func (v *view) Open(name string) (fs.File, error) {
	p, err := v.vpath("open", name)
	if err != nil {
		return nil, err
	}
	info, err := v.t.Stat(v.ctx, p)
	if err != nil {
		return nil, fsErr("open", name, err)
	}
	if info.IsDir() {
		return &dirFile{v: v, p: p, name: name, info: info}, nil
	}
	return &file{v: v, p: p, name: name, info: info}, nil
}

func (v *view) Stat(name string) (fs.FileInfo, error) {
	p, err := v.vpath("stat", name)
	if err != nil {
		return nil, err
	}
	info, err := v.t.Stat(v.ctx, p)
	if err != nil {
		return nil, fsErr("stat", name, err)
	}
	return info, nil
}

func (v *view) ReadDir(name string) ([]fs.DirEntry, error) {
	p, err := v.vpath("readdir", name)
	if err != nil {
		return nil, err
	}
	es, err := v.t.ReadDir(v.ctx, p)
	if err != nil {
		return nil, fsErr("readdir", name, err)
	}
	out := make([]fs.DirEntry, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out, nil
}

func (v *view) ReadFile(name string) ([]byte, error) {
	p, err := v.vpath("readfile", name)
	if err != nil {
		return nil, err
	}
	res, err := v.t.Read(v.ctx, p, v.opts)
	if err != nil {
		return nil, fsErr("readfile", name, err)
	}
	return res.Content, nil
}

type file struct {
	v    *view
	p    string
	name string
	info *Info
	r    *bytes.Reader
	err  error
}

func (f *file) Stat() (fs.FileInfo, error) { return f.info, nil }
func (f *file) Close() error               { return nil }

func (f *file) Read(b []byte) (int, error) {
	if f.r == nil && f.err == nil {
		res, err := f.v.t.Read(f.v.ctx, f.p, f.v.opts)
		if err != nil {
			f.err = fsErr("read", f.name, err)
		} else {
			f.r = bytes.NewReader(res.Content)
		}
	}
	if f.err != nil {
		return 0, f.err
	}
	return f.r.Read(b)
}

// Seek and ReadAt make the file an io.ReadSeeker, as fstest expects of
// files that can be read more than once.
func (f *file) Seek(off int64, whence int) (int64, error) {
	if _, err := f.Read(nil); err != nil && err != io.EOF {
		return 0, err
	}
	return f.r.Seek(off, whence)
}

func (f *file) ReadAt(b []byte, off int64) (int, error) {
	if _, err := f.Read(nil); err != nil && err != io.EOF {
		return 0, err
	}
	return f.r.ReadAt(b, off)
}

type dirFile struct {
	v       *view
	p       string
	name    string
	info    *Info
	entries []*Entry
	read    bool
	off     int
}

func (d *dirFile) Stat() (fs.FileInfo, error) { return d.info, nil }
func (d *dirFile) Close() error               { return nil }
func (d *dirFile) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.name, Err: ErrIsDir}
}

func (d *dirFile) ReadDir(n int) ([]fs.DirEntry, error) {
	if !d.read {
		es, err := d.v.t.ReadDir(d.v.ctx, d.p)
		if err != nil {
			return nil, fsErr("readdir", d.name, err)
		}
		d.entries, d.read = es, true
	}
	rest := d.entries[d.off:]
	if n > 0 && len(rest) == 0 {
		return nil, io.EOF
	}
	if n > 0 && n < len(rest) {
		rest = rest[:n]
	}
	d.off += len(rest)
	out := make([]fs.DirEntry, len(rest))
	for i, e := range rest {
		out[i] = e
	}
	return out, nil
}

// WalkFunc is called by Walk for each entry, as fs.WalkDirFunc.
type WalkFunc func(p string, e *Entry, err error) error

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
func (t *Tree) Walk(ctx context.Context, start string, opts WalkOptions, fn WalkFunc) error {
	start, err := Clean(start)
	if err != nil {
		return err
	}
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
	err = t.walk(ctx, start, 1, info.Live, opts, fn)
	if errors.Is(err, fs.SkipAll) {
		return nil
	}
	return err
}

func (t *Tree) walk(ctx context.Context, dir string, depth int, inLive bool, opts WalkOptions, fn WalkFunc) error {
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
		err := fn(e.path, e, nil)
		if errors.Is(err, fs.SkipDir) {
			continue
		}
		if err != nil {
			return err
		}
		if e.IsDir() && (!e.live || inLive) {
			if err := t.walk(ctx, e.path, depth+1, inLive, opts, fn); err != nil {
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
func (t *Tree) Glob(ctx context.Context, pattern string) ([]string, error) {
	if _, err := path.Match(pattern, ""); err != nil {
		return nil, &fs.PathError{Op: "glob", Path: pattern, Err: err}
	}
	clean, err := Clean(pattern)
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
				p := join(dir, el)
				// Inside a live directory a literal name is not checked:
				// that would cost a round trip to every node before the
				// read that follows, which reports a missing file anyway.
				if n, err := t.resolve(ctx, p, false); err == nil && n.live != "" && !n.liveRoot {
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
				if ok, _ := path.Match(el, e.name); ok {
					next = append(next, e.path)
				}
			}
		}
		cur = next
	}
	if len(cur) == 0 {
		return nil, &fs.PathError{Op: "glob", Path: pattern, Err: errors.New("no match")}
	}
	return cur, nil
}
