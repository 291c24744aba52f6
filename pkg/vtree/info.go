package vtree

import (
	"cmp"
	"context"
	"errors"
	"io/fs"
	"slices"
	"strings"
	"time"

	"github.com/smctl/smctl/pkg/transport"
	"github.com/smctl/smctl/pkg/vtree/store"
	"github.com/smctl/smctl/pkg/vtree/vpath"
)

// Info describes a file of the tree. It implements fs.FileInfo; Sys
// returns the *Info itself.
type Info struct {
	name, path string
	mode       fs.FileMode
	size       int64
	mtime      time.Time
	// Read and Write tell whether the file has a read or write agent.
	Read, Write bool
	// Live is set for live directories and the files in them.
	Live bool
}

var _ fs.FileInfo = (*Info)(nil)

func (i *Info) Name() string       { return i.name }
func (i *Info) Size() int64        { return i.size }
func (i *Info) Mode() fs.FileMode  { return i.mode }
func (i *Info) ModTime() time.Time { return i.mtime }
func (i *Info) IsDir() bool        { return i.mode.IsDir() }
func (i *Info) Sys() any           { return i }

// Path is the virtual path of the file.
func (i *Info) Path() string { return i.path }

// Stat describes the file at virtual path p. It runs no agent; for entries
// of live directories it asks the node.
func (t *Tree) Stat(ctx context.Context, p string) (*Info, error) {
	p, err := Clean(p)
	if err != nil {
		return nil, err
	}
	n, err := t.resolve(ctx, p, false)
	if err != nil {
		return nil, err
	}
	return t.info(ctx, n)
}

func (t *Tree) info(ctx context.Context, n *node) (*Info, error) {
	_, name := vpath.Split(n.path)
	if n.path == "/" {
		name = "."
	}
	in := &Info{name: name, path: n.path}
	if n.live != "" {
		in.Live = true
		if n.liveRoot {
			in.mode = fs.ModeDir | 0o555
			return in, nil
		}
		ctx, cancel := t.liveContext(ctx)
		defer cancel()
		tr, err := t.transport(ctx, n.devPath)
		if err != nil {
			return nil, pathErr("stat", n.path, err)
		}
		e, err := tr.Stat(ctx, n.live)
		if err != nil {
			return nil, pathErr("stat", n.path, t.liveErr(ctx, err))
		}
		in.mode, in.size, in.mtime = e.Mode, dirSize(e.Mode, e.Size), e.ModTime
		return in, nil
	}
	if n.hook != nil {
		in.Read, in.Write = n.hook.read != nil, n.hook.write != nil
	}
	if n.exists {
		st, err := t.store.Lstat(n.rel)
		if err != nil {
			return nil, pathErr("stat", n.path, unwrapPath(err))
		}
		in.mode, in.size, in.mtime = st.Mode(), st.Size(), st.ModTime()
		if st.Mode()&fs.ModeSymlink != 0 {
			if st, err := t.store.Stat(n.rel); err == nil {
				in.mode, in.size, in.mtime = st.Mode(), st.Size(), st.ModTime()
			}
		}
	} else {
		in.mode = 0o644
	}
	if !in.IsDir() && (n.special == specialStatus || in.Read && !in.Write) {
		in.mode &^= 0o222
	}
	in.size = dirSize(in.mode, in.size)
	return in, nil
}

// dirSize is the size a file of mode m shows: its own for a file, 0 for a
// directory. A directory of the tree is virtual (its entries are the
// backing directory's, its agents' files and its live directories), so the
// backing file system's size of it (4096 on ext4, anything on others)
// would say nothing; 0 is what proc and sys show for theirs, and costs no
// listing.
func dirSize(m fs.FileMode, size int64) int64 {
	if m.IsDir() {
		return 0
	}
	return size
}

// unwrapPath strips a backing-tree *fs.PathError so that the caller can
// name the virtual path instead of a backing one.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Entry is one entry of a directory listing. It implements fs.DirEntry;
// Info is computed when asked for, so a walk that needs only names costs no
// extra system calls.
type Entry struct {
	t     *Tree
	ctx   context.Context
	name  string
	path  string
	typ   fs.FileMode
	live  bool
	lentr *transport.Entry
	dir   *node // the listed directory, for a stored directory (ReadDirEntry)
}

var _ fs.DirEntry = (*Entry)(nil)

func (e *Entry) Name() string      { return e.name }
func (e *Entry) IsDir() bool       { return e.typ.IsDir() }
func (e *Entry) Type() fs.FileMode { return e.typ }

// Path is the virtual path of the entry.
func (e *Entry) Path() string { return e.path }

// Live reports whether the entry is a live directory or inside one, whose
// listing asks the node; recursive walks do not enter live directories
// unless they start inside one.
func (e *Entry) Live() bool { return e.live }

// Info implements fs.DirEntry.
func (e *Entry) Info() (fs.FileInfo, error) {
	if e.lentr != nil {
		return &Info{name: e.name, path: e.path, mode: e.lentr.Mode, size: dirSize(e.lentr.Mode, e.lentr.Size), mtime: e.lentr.ModTime, Live: true}, nil
	}
	in, err := e.t.Stat(e.ctx, e.path)
	if err != nil {
		return nil, err
	}
	return in, nil
}

// ReadDir lists the directory at virtual path p, sorted by name: its stored
// entries, the files its agents define, and its live directories. It runs
// no agent; a live directory is listed from the node.
func (t *Tree) ReadDir(ctx context.Context, p string) ([]*Entry, error) {
	p, err := Clean(p)
	if err != nil {
		return nil, err
	}
	n, err := t.resolve(ctx, p, false)
	if err != nil {
		return nil, err
	}
	return t.readDir(ctx, n)
}

// ReadDirEntry lists the directory e of an earlier listing as ReadDir
// lists its path, from the listing's directory instead of resolving the
// path again: a walk's way through thousands of devices.
func (t *Tree) ReadDirEntry(ctx context.Context, e *Entry) ([]*Entry, error) {
	if e.dir == nil {
		return t.ReadDir(ctx, e.path)
	}
	return t.readDir(ctx, t.child(e.dir, e.name, e.path, store.JoinRel(e.dir.rel, e.name), true))
}

// child is the existing entry el of the directory node n, at childPath
// and childRel, a directory or not as isDir says.
func (t *Tree) child(n *node, el, childPath, childRel string, isDir bool) *node {
	nn := &node{path: childPath, rel: childRel, isDir: isDir, exists: true, devPath: n.devPath, devType: n.devType, devErr: n.devErr}
	if isDir {
		if typ, err := t.typeInfoOf(childRel); typ != "" || err != nil {
			nn.devPath, nn.devType, nn.devErr = childPath, typ, err // typ is "" with err
		}
	} else {
		if typ, isDev := t.dirType(n); isDev {
			nn.hook = t.hooksFor(typ)[el]
		}
		nn.special = specialName(el, n.path)
	}
	return nn
}

func (t *Tree) readDir(ctx context.Context, n *node) ([]*Entry, error) {
	if n.live != "" {
		lctx, cancel := t.liveContext(ctx)
		defer cancel()
		tr, err := t.transport(lctx, n.devPath)
		if err != nil {
			return nil, pathErr("readdir", n.path, err)
		}
		les, err := tr.ReadDir(lctx, n.live)
		if err != nil {
			return nil, pathErr("readdir", n.path, t.liveErr(lctx, err))
		}
		out := make([]*Entry, 0, len(les))
		for i, le := range les {
			out = append(out, &Entry{t: t, ctx: ctx, name: le.Name, path: vpath.Join(n.path, le.Name), typ: le.Mode.Type(), live: true, lentr: &les[i]})
		}
		return out, nil
	}
	if !n.isDir {
		return nil, pathErr("readdir", n.path, ErrNotDir)
	}
	des, err := t.store.ListDir(n.rel)
	if err != nil {
		return nil, pathErr("readdir", n.path, unwrapPath(err))
	}
	// Live directories, stored entries, the driver's files (the first of a
	// name wins: the lowest prio), sorted as small values; entries in one slice.
	type cand struct {
		name string
		typ  fs.FileMode
		prio uint8
		link bool // a symlink, typ its target's
	}
	byName := func(a, b cand) int { return cmp.Or(strings.Compare(a.name, b.name), int(a.prio)-int(b.prio)) }
	cs := make([]cand, 0, len(des)+16)
	typ, isDev := t.dirType(n)
	if isDev && typ != "" && t.isLiveType(typ) {
		for _, l := range t.Config.LiveDirs {
			cs = append(cs, cand{l, fs.ModeDir, 0, false})
		}
	}
	for _, de := range des {
		mt, link := de.Type(), false
		if strings.HasPrefix(de.Name(), ".") {
			continue
		} else if link = mt&fs.ModeSymlink != 0; link {
			if st, err := t.store.Stat(store.JoinRel(n.rel, de.Name())); err == nil {
				mt = st.Mode().Type()
			}
		}
		cs = append(cs, cand{de.Name(), mt, 1, link})
	}
	if isDev {
		// A driver's file is listed where the device has the attributes it requires.
		slices.SortFunc(cs, byName)
		stored := cs // sorted, unlike cs once appended to
		has := func(a string) bool {
			_, ok := slices.BinarySearchFunc(stored, a, func(c cand, a string) int { return strings.Compare(c.name, a) })
			return ok
		}
		for name, h := range t.hooksFor(typ) {
			if h.file.Reaches(has) {
				cs = append(cs, cand{name, 0, 2, false})
			}
		}
		if n.path == "/" {
			cs = append(cs, cand{IDsName, 0, 2, false})
		}
	}
	slices.SortFunc(cs, byName)
	cs = slices.CompactFunc(cs, func(a, b cand) bool { return a.name == b.name })
	ents, out := make([]Entry, len(cs)), make([]*Entry, len(cs))
	for i, p := range vpath.JoinAll(n.path, len(cs), func(i int) string { return cs[i].name }) {
		c := cs[i]
		ents[i] = Entry{t: t, ctx: ctx, name: c.name, path: p, typ: c.typ, live: c.prio == 0}
		if c.prio == 1 && c.typ == fs.ModeDir && !c.link {
			ents[i].dir = n
		}
		out[i] = &ents[i]
	}
	return out, nil
}

// transport connects to the device at virtual path dev.
func (t *Tree) transport(ctx context.Context, dev string) (transport.Transport, error) {
	d := t.device(dev)
	if d.Err != nil {
		return nil, d.Err
	}
	pair, err := t.ids.Nearest(vpath.Rel(dev))
	if err != nil {
		return nil, err
	}
	if pair != nil {
		d.User, d.Password = pair.User, pair.Password
	}
	return t.opts.Drivers.Transport(ctx, d)
}

// device returns the device at virtual path dev with its attributes, read
// once per command.
func (t *Tree) device(dev string) Device {
	t.mu.Lock()
	d, ok := t.devices[dev]
	t.mu.Unlock()
	if ok {
		return d
	}
	typ := ""
	var terr error
	if dev != "/" {
		typ, terr = t.typeInfoOf(vpath.Rel(dev))
	}
	d = Device{Path: dev, Type: typ}
	d.Attrs, d.Err = t.attrs(dev, typ)
	if terr != nil {
		d.Err = terr
	}
	if derr := t.dirTrust(vpath.Rel(dev)); derr != nil {
		d.Err = derr
	}
	t.mu.Lock()
	t.devices[dev] = d
	t.mu.Unlock()
	return d
}

// forgetDevice drops the cached attributes of dev after one changed.
func (t *Tree) forgetDevice(dev string) {
	t.mu.Lock()
	delete(t.devices, dev)
	t.mu.Unlock()
}
