// Package testroot builds trees for the tests of the packages above
// pkg/vtree (pkg/delegate, pkg/discover, pkg/vtree/vfs, pkg/vtree/watch):
// a state root made as smctl init makes it, with the localhost server
// (reached with no SSH), opened as the CLI opens it, with smctl's drivers,
// except that no BMC is reached (Drivers).
//
// The extension the tree has (discovery, for every test so far) is given
// as its constructor, discover.New, rather than imported: discovery's own
// tests use the package too, and a package imported by a package's tests
// may not import it. Each use of the state root (its making, each opening)
// gets a new extension, as each invocation of smctl does.
//
// A typical test's tree:
//
//	tr, _ := testroot.New(t, discover.New, testroot.Options{
//		Agents:   map[string]string{"server/power.read": "echo on"},
//		Discover: "server n[1-2] transport=local\n",
//	})
//
// pkg/vtree's own tests cannot use the package (it imports pkg/vtree) and
// keep their copy of the drivers and of newTree.
package testroot

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/smctl/smctl/pkg/agent"
	"github.com/smctl/smctl/pkg/config"
	"github.com/smctl/smctl/pkg/driver"
	"github.com/smctl/smctl/pkg/driver/command"
	"github.com/smctl/smctl/pkg/driver/ipmi"
	"github.com/smctl/smctl/pkg/driver/local"
	"github.com/smctl/smctl/pkg/driver/ssh"
	"github.com/smctl/smctl/pkg/stateroot"
	"github.com/smctl/smctl/pkg/vtree"
)

// Options says what a test's state root and tree have beyond smctl init's
// defaults; the zero value adds nothing.
type Options struct {
	// Agents are installed in the state root: type/name.op (as
	// "server/power.read") -> the body of a shell script.
	Agents map[string]string
	// Edits change smctl.yaml after init: each replaces the first
	// occurrence of its first string, which must be there, by its second.
	Edits [][2]string
	// Builtins, when not nil, registers built-in agents at opening
	// (vtree.Options.Builtins).
	Builtins func(r *agent.Registry)
	// Discover holds discovery statements that New writes to
	// /discover_master once the tree is open ("" writes nothing).
	Discover string
}

// Drivers is smctl's drivers (local, ssh, command) as the CLI gives them to
// the tree, and a stand-in for ipmi that has its types, attributes and a
// chassis' discovery of its blades, but no BMC agents: a test reaches no
// BMC.
func Drivers() *driver.Set {
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

// New makes a state root (Init), opens it (Open) and writes o.Discover,
// if any, to /discover_master; it returns the tree, closed when the test
// ends, and the extension attached to it.
func New[E vtree.Extension](t testing.TB, newExt func() E, o Options) (*vtree.Tree, E) {
	t.Helper()
	tr, ext := Open(t, Init(t, newExt, o), newExt, o)
	Discover(t, tr, o.Discover)
	return tr, ext
}

// Init makes a state root in a new directory of the test as smctl init
// does, with the Drivers, the localhost server (transport local), the
// extension's section of smctl.yaml and o.Agents installed, applies
// o.Edits to smctl.yaml and returns the state root's directory.
func Init[E vtree.Extension](t testing.TB, newExt func() E, o Options) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "root")
	af := fstest.MapFS{}
	for name, body := range o.Agents {
		af[name] = &fstest.MapFile{Data: []byte("#!/bin/sh\n" + body + "\n"), Mode: 0o755}
	}
	err := stateroot.Init(context.Background(), dir, stateroot.Options{
		Agents:     af,
		Drivers:    Drivers(),
		Extensions: []vtree.Extension{newExt()},
		Devices:    []stateroot.NewDevice{{Type: "server", Name: "localhost", Attrs: map[string]string{"transport": "local"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Edits) > 0 {
		editConfig(t, filepath.Join(dir, config.FileName), o.Edits)
	}
	return dir
}

// editConfig applies edits to the file cf.
func editConfig(t testing.TB, cf string, edits [][2]string) {
	t.Helper()
	b, err := os.ReadFile(cf)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, e := range edits {
		if !strings.Contains(s, e[0]) {
			t.Fatalf("smctl.yaml has no %q", e[0])
		}
		s = strings.Replace(s, e[0], e[1], 1)
	}
	if err := os.WriteFile(cf, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Open opens the state root dir (again: another invocation of smctl) with
// the Drivers, a new extension and o.Builtins; it returns the tree, closed
// when the test ends, and the extension. Only o.Builtins is used.
func Open[E vtree.Extension](t testing.TB, dir string, newExt func() E, o Options) (*vtree.Tree, E) {
	t.Helper()
	ext := newExt()
	tr, err := vtree.Open(dir, vtree.Options{
		Drivers:    Drivers(),
		Extensions: []vtree.Extension{ext},
		Builtins:   o.Builtins,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr, ext
}

// Discover writes the discovery statements stmts, unless "", to tr's
// /discover_master.
func Discover(t testing.TB, tr *vtree.Tree, stmts string) {
	t.Helper()
	if stmts == "" {
		return
	}
	if _, err := tr.Write(context.Background(), "/"+vtree.DiscoverMaster, []byte(stmts)); err != nil {
		t.Fatal(err)
	}
}
