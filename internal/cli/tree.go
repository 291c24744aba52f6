package cli

import (
	"github.com/smctl/smctl/pkg/filecopy"
	"github.com/smctl/smctl/pkg/ops"
	"github.com/smctl/smctl/pkg/vtree"
	"github.com/smctl/smctl/pkg/vtree/vfs"
)

// Tree is what the verbs need of a tree: a *vtree.Tree opened in this
// process today, and what a client of a long-running smctl serve is to
// satisfy, so that the verbs need not change when they reach one.
type Tree interface {
	ops.Tree      // Read, Write, Status
	vfs.Tree      // Stat, ReadDir, Resolve
	filecopy.Tree // Transport: how to reach a device (cp)
	// Fanout is the configured fan-out (smctl.yaml's fanout).
	Fanout() int
	Close() error
}

var _ Tree = (*vtree.Tree)(nil)
