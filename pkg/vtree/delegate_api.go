package vtree

import (
	"context"
	"io/fs"
	"slices"

	"github.com/smctl/smctl/pkg/vtree/store"
)

// What packages that work on the backing tree directly (pkg/delegate) need
// to know of the tree: where the backing tree is, the names of the tree's
// own files, the mode of new files, which files of a type have a write
// agent, and what a virtual path names. None of it runs an agent or asks a
// node. (The attribute names are DeviceAttrs'.)

// Names of the tree's own files, besides IDsName and LockName.
const (
	// IndexFile names the devices of a directory (see store.IndexName).
	IndexFile = store.IndexName
	// TypeFile makes a directory that its parent's index does not name a
	// device, and names its type.
	TypeFile = typeFile
	// StatusSuffix makes NAME.status, the status of NAME's last agent run.
	StatusSuffix = statusSuffix
	// StderrSuffix makes NAME.stderr, the whole standard error of NAME's
	// last command.
	StderrSuffix = stderrSuffix
)

// NewFileMode is the mode a new file of the tree's gets: 0666 less the
// umask the process started with.
func NewFileMode() fs.FileMode { return store.NewFileMode() }

// BackingDir is the directory of the backing tree, as smctl.yaml names it
// made absolute.
func (t *Tree) BackingDir() string { return t.store.Dir() }

// WriteAgents returns, sorted, the names of the files that have a write
// agent in devices of type typ ("" for the root of the tree): built in, or
// found in the agent directories (including one found in a directory that
// is not trusted, which refuses to run).
func (t *Tree) WriteAgents(typ string) []string {
	var out []string
	for name, h := range t.hooksFor(typ) {
		if h != nil && h.write != nil {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// Resolved is what a virtual path names, as every operation looks it up.
type Resolved struct {
	Live   bool // a live directory or an entry of one: nothing of it is stored
	Dir    bool // a directory
	Stored bool // it has a backing file or directory
}

// Resolve looks up the virtual path p as every operation does, without
// running an agent or asking a node. A missing file that has an agent
// resolves (not Stored); other missing paths, and paths through files, are
// errors: *fs.PathError values naming p, wrapping fs.ErrNotExist, ErrNotDir
// and the like (or ctx's error).
func (t *Tree) Resolve(ctx context.Context, p string) (Resolved, error) {
	p, err := Clean(p)
	if err != nil {
		return Resolved{}, err
	}
	n, err := t.resolve(ctx, p, false)
	if err != nil {
		return Resolved{}, err
	}
	return Resolved{Live: n.live != "", Dir: n.isDir, Stored: n.exists}, nil
}
