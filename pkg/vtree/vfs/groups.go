package vfs

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"

	"github.com/smctl/smctl/pkg/nodeset"
	"github.com/smctl/smctl/pkg/status"
	"github.com/smctl/smctl/pkg/vtree"
)

// Groups are files of the tree: /groups/NAME (vtree.GroupsDir) holds node
// sets, one a line, "@other" naming another group, blank lines and
// "# comments" ignored (nodeset.ParseGroup). A group decides which nodes a
// command runs on, so its file is read with the trust check of device
// attributes (TrustedReader), never as a plain read.

// TrustedReader is the ability to read a stored file with the trust check
// of the files that decide what smctl runs; *vtree.Tree has it.
type TrustedReader interface {
	ReadTrusted(ctx context.Context, p string, max int64) ([]byte, error)
}

var _ TrustedReader = (*vtree.Tree)(nil)

// MaxGroupSize bounds what is read of one group file.
const MaxGroupSize = 1 << 20

// ErrNoGroup is wrapped (with fs.ErrNotExist) by the error for a group
// whose file does not exist.
var ErrNoGroup = errors.New("no such group")

// ErrGroupsUnsupported is the error for groups asked of a tree that cannot
// read their files trusted.
var ErrGroupsUnsupported = errors.New("this tree cannot read group files trusted")

type noGroupError struct{ name, path string }

func (e *noGroupError) Error() string {
	return fmt.Sprintf("no group %s: %s does not exist", e.name, e.path)
}

func (e *noGroupError) Is(target error) bool {
	return target == ErrNoGroup || target == fs.ErrNotExist
}

// Group returns the node sets of the group name, as its file lists them.
// A name that is not a valid group name, a missing file and an untrusted
// one are errors naming it; each is a usage or configuration error
// (status.ErrUsage).
func Group(ctx context.Context, t Tree, name string) ([]string, error) {
	if !nodeset.ValidGroupName(name) {
		return nil, status.Mark(fmt.Errorf("@%s: %w", name, nodeset.ErrGroupName), status.ErrUsage)
	}
	tr, ok := t.(TrustedReader)
	if !ok {
		return nil, status.Mark(fmt.Errorf("group %s: %w", name, ErrGroupsUnsupported), status.ErrUsage)
	}
	p := path.Join(vtree.GroupsDir, name)
	b, err := tr.ReadTrusted(ctx, p, MaxGroupSize)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, status.Mark(&noGroupError{name, p}, status.ErrUsage)
	case err != nil:
		return nil, status.Mark(fmt.Errorf("group %s: %w", name, err), status.ErrUsage)
	}
	return nodeset.ParseGroup(string(b)), nil
}

// ExpandNodes expands the node set s (nodeset.ExpandWith), "@NAME"
// standing for the members of the group NAME read from t (Group).
func ExpandNodes(ctx context.Context, t Tree, s string) ([]string, error) {
	return nodeset.ExpandWith(s, func(name string) ([]string, error) {
		return Group(ctx, t, name)
	})
}

// GroupNames returns the names of the groups of t, sorted; none when
// there is no /groups.
func GroupNames(ctx context.Context, t Tree) []string {
	es, err := t.ReadDir(ctx, vtree.GroupsDir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range es {
		if !e.IsDir() && nodeset.ValidGroupName(e.Name()) {
			out = append(out, e.Name())
		}
	}
	return out
}
