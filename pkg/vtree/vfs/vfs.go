// Package vfs adapts a vtree.Tree to the shapes other code walks: a
// read-only io/fs view (New), a walk of the tree in lexical order (Walk),
// shell-style globs (Glob), and the paths smctl's verbs take (Expand):
// ClusterShell node-set ranges and @groups, then globs. Groups are the
// files /groups/NAME, read with the tree's trust check (Group). It works
// through the tree's exported API only, the small interface Tree, which
// *vtree.Tree satisfies, and the optional abilities TrustedReader and
// DeviceTyper.
package vfs

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"strings"

	"github.com/smctl/smctl/pkg/vtree"
)

// Tree is what the adapters need of a tree.
type Tree interface {
	Stat(ctx context.Context, p string) (*vtree.Info, error)
	ReadDir(ctx context.Context, p string) ([]*vtree.Entry, error)
	Read(ctx context.Context, p string, opts vtree.ReadOptions) (*vtree.Result, error)
	Resolve(ctx context.Context, p string) (vtree.Resolved, error)
}

var _ Tree = (*vtree.Tree)(nil)

// New returns a read-only io/fs view of the tree t bound to ctx, so that
// fs.WalkDir, fs.Glob, fs.ReadFile and testing/fstest work unchanged.
// Opening a file runs nothing; its first Read reads it through the tree,
// running its read agent as t.Read does with opts.
func New(ctx context.Context, t Tree, opts vtree.ReadOptions) fs.FS {
	return &view{t: t, ctx: ctx, opts: opts}
}

type view struct {
	t    Tree
	ctx  context.Context
	opts vtree.ReadOptions
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
	return dirEntries(es), nil
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

func dirEntries(es []*vtree.Entry) []fs.DirEntry {
	out := make([]fs.DirEntry, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

type file struct {
	v    *view
	p    string
	name string
	info *vtree.Info
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
	info    *vtree.Info
	entries []*vtree.Entry
	read    bool
	off     int
}

func (d *dirFile) Stat() (fs.FileInfo, error) { return d.info, nil }
func (d *dirFile) Close() error               { return nil }
func (d *dirFile) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.name, Err: vtree.ErrIsDir}
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
	return dirEntries(rest), nil
}
