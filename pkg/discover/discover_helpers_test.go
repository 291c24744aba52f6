package discover

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smctl/smctl/internal/testroot"
	"github.com/smctl/smctl/pkg/agent"
	"github.com/smctl/smctl/pkg/vtree"
	"github.com/smctl/smctl/pkg/vtree/store"
)

// Discovery's tests run on a tree opened as the CLI opens it, with the
// test drivers of internal/testroot (smctl's, with no BMC reached).

// newTree makes a state root as smctl init does (the localhost server,
// reached with no SSH, and discovery's section of smctl.yaml), applies the
// edits to smctl.yaml (each replacing its first string, which must be
// there, once), opens it with the test drivers and a new Discovery, and
// writes the discovery statements stmts, if any, to /discover_master.
func newTree(t testing.TB, stmts string, edits ...[2]string) (*vtree.Tree, *Discovery) {
	t.Helper()
	return testroot.New(t, New, testroot.Options{Edits: edits, Discover: stmts})
}

// openTree opens the state root dir again (another invocation) with the
// test drivers, a new Discovery and, when not nil, builtins; the tree is
// closed when the test ends.
func openTree(t testing.TB, dir string, builtins func(r *agent.Registry)) (*vtree.Tree, *Discovery) {
	t.Helper()
	return testroot.Open(t, dir, New, testroot.Options{Builtins: builtins})
}

// backing is the backing path of the virtual path p.
func backing(tr *vtree.Tree, p string) string {
	return filepath.Join(tr.BackingDir(), filepath.FromSlash(strings.TrimPrefix(p, "/")))
}

// readBacking is the content of the backing file of the virtual path p, or
// "<missing>".
func readBacking(t *testing.T, tr *vtree.Tree, p string) string {
	t.Helper()
	if dev, ok := strings.CutSuffix(p, "/"+vtree.TypeFile); ok {
		// The type marker: the device's line in its parent's device index,
		// else its own .type.
		b, err := os.ReadFile(filepath.Join(filepath.Dir(backing(tr, dev)), vtree.IndexFile))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
		idx, err := store.ParseIndex(b)
		if err != nil {
			t.Fatal(err)
		}
		if typ, ok := idx[path.Base(dev)]; ok {
			return typ + "\n"
		}
	}
	b, err := os.ReadFile(backing(tr, p))
	if errors.Is(err, fs.ErrNotExist) {
		return "<missing>"
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
