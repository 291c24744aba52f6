package delegate

import (
	"testing"

	"github.com/smctl/smctl/internal/testpriv"
	"github.com/smctl/smctl/internal/testroot"
	"github.com/smctl/smctl/pkg/discover"
	"github.com/smctl/smctl/pkg/vtree"
)

// newTree makes a tree as smctl init and the CLI do, with the test drivers
// of internal/testroot and discovery, with the agents given (type/name.op:
// shell script body) installed, and writes discoverStmts (discovery
// statements) to /discover_master.
func newTree(t testing.TB, agents map[string]string, discoverStmts string) *vtree.Tree {
	t.Helper()
	tr, _ := testroot.New(t, discover.New, testroot.Options{Agents: agents, Discover: discoverStmts})
	return tr
}

// mutNeed is testpriv.Need: it skips a test that misses a component, or
// fails it under SMCTL_TEST_REQUIRE=1.
func mutNeed(t *testing.T, what string) {
	t.Helper()
	testpriv.Need(t, what)
}
