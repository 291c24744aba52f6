package vfs

import (
	"testing"

	"github.com/smctl/smctl/internal/testroot"
	"github.com/smctl/smctl/pkg/discover"
	"github.com/smctl/smctl/pkg/vtree"
)

// newTree makes a tree as smctl init and the CLI do, with the test drivers
// of internal/testroot and discovery (the localhost server, reached with no
// SSH), with the agents given (type/name.op: shell script body) installed,
// applies the edits to smctl.yaml (each replacing its first string, which
// must be there, once) and writes the discovery statements stmts, if any,
// to /discover_master.
func newTree(t testing.TB, agents map[string]string, stmts string, edits ...[2]string) *vtree.Tree {
	t.Helper()
	tr, _ := testroot.New(t, discover.New, testroot.Options{Agents: agents, Edits: edits, Discover: stmts})
	return tr
}
