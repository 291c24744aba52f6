package watch

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"testing/fstest"

	"github.com/smctl/smctl/pkg/agent"
	"github.com/smctl/smctl/pkg/config"
	"github.com/smctl/smctl/pkg/discover"
	"github.com/smctl/smctl/pkg/driver"
	"github.com/smctl/smctl/pkg/driver/command"
	"github.com/smctl/smctl/pkg/driver/ipmi"
	"github.com/smctl/smctl/pkg/driver/local"
	"github.com/smctl/smctl/pkg/driver/ssh"
	"github.com/smctl/smctl/pkg/stateroot"
	"github.com/smctl/smctl/pkg/vtree"
	"github.com/smctl/smctl/pkg/vtree/store"
)

// The tests make trees as pkg/vtree's tests do: smctl's drivers, as the CLI
// opens the tree, except that no BMC is reached (hardware gives its types,
// attributes and a chassis' discovery of its blades, but no BMC agents),
// and discovery, to fill the tree.

func testDrivers() *driver.Set {
	return driver.NewSet(local.Driver{}, ssh.New(driver.Env{}), command.Driver{}, hardware{})
}

// hardware is the ipmi driver without its BMC agents.
type hardware struct{}

func (hardware) Name() string                  { return ipmi.Name }
func (hardware) Attrs() []string               { return ipmi.New().Attrs() }
func (hardware) Types() map[string]config.Type { return ipmi.New().Types() }
func (hardware) Builtins() map[string][]driver.Builtin {
	return map[string][]driver.Builtin{
		"bmc":     nil,
		"chassis": {{File: vtree.DiscoverAgent, Op: agent.Write, Agent: agent.Func(ipmi.DiscoverBlades)}},
	}
}

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
	tr, err := vtree.Open(dir, vtree.Options{
		Drivers:    testDrivers(),
		Extensions: []vtree.Extension{discover.New()},
		Builtins: func(r *agent.Registry) {
			r.Register("server", "probe", agent.Read, probe)
			r.Register("chassis", "probe", agent.Read, probe)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
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
	dir := filepath.Join(t.TempDir(), "root")
	af := fstest.MapFS{}
	for name, body := range agents {
		af[name] = &fstest.MapFile{Data: []byte("#!/bin/sh\n" + body + "\n"), Mode: 0o755}
	}
	err := stateroot.Init(context.Background(), dir, stateroot.Options{
		Agents:     af,
		Drivers:    testDrivers(),
		Extensions: []vtree.Extension{discover.New()},
		Devices:    []stateroot.NewDevice{{Type: "server", Name: "localhost", Attrs: map[string]string{"transport": "local"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	tr := openTree(t, dir)
	if stmts != "" {
		if _, err := tr.Write(context.Background(), "/discover_master", []byte(stmts)); err != nil {
			t.Fatal(err)
		}
	}
	return tr
}

// backingStore is a store of tr's backing tree, for writes that bypass the
// tree as other programs' do (type markers are written as trusted files,
// as the tree writes them).
func backingStore(tr *vtree.Tree) *store.Store {
	s := store.New(tr.BackingRoot(), tr.BackingDir())
	s.Trusted = func(name string) bool { return name == vtree.TypeFile }
	return s
}

// rel converts a clean virtual path to a backing path.
func rel(vpath string) string {
	if vpath == "/" {
		return "."
	}
	return vpath[1:]
}
