package watch

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"github.com/smctl/smctl/internal/testroot"
	"github.com/smctl/smctl/pkg/agent"
	"github.com/smctl/smctl/pkg/discover"
	"github.com/smctl/smctl/pkg/vtree"
	"github.com/smctl/smctl/pkg/vtree/store"
)

// The tests make trees with the test drivers of internal/testroot
// (smctl's, with no BMC reached) and discovery, to fill the tree.

// openTree opens the state root dir as smctl does, with the probe agent
// added, closing it when the test ends.
func openTree(t testing.TB, dir string) *vtree.Tree {
	t.Helper()
	var tr *vtree.Tree
	probe := agent.Func(func(_ context.Context, req *agent.Request) (agent.Result, error) {
		lock := "unlocked"
		if f, err := os.Open(filepath.Join(tr.BackingDir(), rel(req.Device), vtree.LockName)); err == nil {
			if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == syscall.EWOULDBLOCK {
				lock = "locked"
			}
			f.Close()
		}
		line := fmt.Sprintf("%s %s %s user=%s %s", req.Type, req.Attrs["address"], req.Attrs["transport"], req.User, lock)
		probed.Lock()
		probed.line = line
		probed.Unlock()
		return agent.Result{Output: []byte(line + "\n")}, nil
	})
	tr, _ = testroot.Open(t, dir, discover.New, testroot.Options{Builtins: func(r *agent.Registry) {
		r.Register("server", "probe", agent.Read, probe)
		r.Register("chassis", "probe", agent.Read, probe)
	}})
	return tr
}

// probed is what the last run of a probe was told.
var probed struct {
	sync.Mutex
	line string
}

// watchProbeRun reads the file probe of the device dev through tr, whose
// read agent (every server's and chassis') says what the tree's caches
// tell an agent run in the device (its type, address, transport, user) and
// whether the run holds the device's lock file, which the tree takes when
// its cache says there is one; it returns what the agent said. A tree
// whose caches are stale may fail to store the result: that is not
// checked.
func watchProbeRun(t *testing.T, tr *vtree.Tree, dev string) string {
	t.Helper()
	probed.Lock()
	probed.line = ""
	probed.Unlock()
	_, err := tr.Read(context.Background(), dev+"/probe", vtree.ReadOptions{HasMaxAge: true})
	probed.Lock()
	defer probed.Unlock()
	if probed.line == "" {
		t.Fatalf("the probe did not run: %v", err)
	}
	return probed.line
}

// newTree makes a state root as smctl init does (the localhost server,
// reached with no SSH), with the agents given (type/name.op: shell script
// body) installed, opens it and writes the discovery statements stmts, if
// any, to /discover_master.
func newTree(t testing.TB, agents map[string]string, stmts string) *vtree.Tree {
	t.Helper()
	tr := openTree(t, testroot.Init(t, discover.New, testroot.Options{Agents: agents}))
	testroot.Discover(t, tr, stmts)
	return tr
}

// backingStore is a store of tr's backing tree, for writes that bypass the
// tree as other programs' do (type markers are written as trusted files,
// as the tree writes them).
func backingStore(tr *vtree.Tree) *store.Store {
	s := store.New(tr.BackingRoot(), tr.BackingDir())
	s.Trusted = func(_, name string) bool { return name == vtree.TypeFile }
	return s
}

// rel converts a clean virtual path to a backing path.
func rel(vpath string) string {
	if vpath == "/" {
		return "."
	}
	return vpath[1:]
}

// retype gives the device at virtual path dev the type typ in its
// parent's device index, as another program would.
func retype(tr *vtree.Tree, dev, typ string) error {
	dir, name := store.SplitRel(rel(dev))
	return backingStore(tr).IndexAdd(dir, name, typ)
}
