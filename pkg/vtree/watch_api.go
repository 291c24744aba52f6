package vtree

import (
	"context"
	"errors"
	"os"
	"path"
	"strings"

	"github.com/smctl/smctl/pkg/vtree/store"
)

// What package watch (pkg/vtree/watch) needs to watch the tree and keep its
// caches coherent with the backing tree, whoever writes it.

// ErrLiveWatch is wrapped by the error for watching a live directory,
// which is read from the node and has nothing to watch.
var ErrLiveWatch = errors.New("live directories are read from the node: they cannot be watched")

// BackingRoot is the backing tree, as an *os.Root (closed by Close).
func (t *Tree) BackingRoot() *os.Root { return t.store.Root() }

// WatchPath returns the backing path, relative to BackingRoot ("." for the
// root), that a watch of the virtual path p watches: p's own, NAME's for
// NAME.status, a missing name's in an existing directory. Errors are
// *fs.PathError values naming p, as for Resolve; a live directory or an
// entry of one gives one wrapping ErrLiveWatch.
func (t *Tree) WatchPath(ctx context.Context, p string) (string, error) {
	p, err := Clean(p)
	var n *node
	if err == nil {
		n, err = t.resolve(ctx, p, true)
	}
	switch {
	case err != nil:
		return "", err
	case n.live != "":
		return "", pathErr("watch", p, ErrLiveWatch)
	case n.special == specialStatus:
		return strings.TrimSuffix(strings.TrimSuffix(n.rel, statusSuffix), stderrSuffix), nil
	}
	return n.rel, nil
}

// Forget drops what the tree's caches know that a change of the backing
// path p (relative to BackingRoot) may have made wrong: a directory (or its
// type marker), everything at and below it; ids and lock, the directory's
// answer for them; any other attribute file, the device's attributes.
// Other names are not cached.
func (t *Tree) Forget(p string, isDir bool) {
	dir, name := store.SplitRel(p)
	switch {
	case isDir:
		t.forgetTree(p)
	case name == typeFile || name == store.IndexName:
		t.forgetTree(dir)
	case name == IDsName:
		t.store.ForgetFile(p)
		t.forgetIDs(p)
	case name == LockName:
		t.store.ForgetFile(p)
	case t.trustedName(dir, name):
		t.forgetDevice(path.Join("/", dir))
	}
}

// forgetTree drops every cache entry for the backing directory dir and
// below it (types, lock and ids, attributes, trust, open directories).
func (t *Tree) forgetTree(dir string) {
	if dir == "." || dir == "" {
		t.ForgetAll()
		return
	}
	t.forgetType(dir)
	t.forgetIDsUnder(dir)
	t.agentMu.Lock()
	for k := range t.dirErr {
		if k == dir || strings.HasPrefix(k, dir+"/") {
			delete(t.dirErr, k)
		}
	}
	t.agentMu.Unlock()
}

// ForgetAll drops everything the caches know of the backing tree.
func (t *Tree) ForgetAll() {
	t.mu.Lock()
	clear(t.types)
	clear(t.devices)
	clear(t.dirs)
	t.mu.Unlock()
	t.forgetAllIDs()
	t.agentMu.Lock()
	clear(t.dirErr)
	t.agentMu.Unlock()
	t.store.ForgetAllDirs()
}
