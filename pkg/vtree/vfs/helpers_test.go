package vfs

import (
	"context"
	"os"
	"path/filepath"
	"strings"
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

// newTree makes a state root as smctl init does (the localhost server,
// reached with no SSH), with the agents given (type/name.op: shell script
// body) installed, applies the edits to smctl.yaml (each replacing its
// first string, which must be there, once), opens it and writes the
// discovery statements stmts, if any, to /discover_master.
func newTree(t testing.TB, agents map[string]string, stmts string, edits ...[2]string) *vtree.Tree {
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
	if len(edits) > 0 {
		cf := filepath.Join(dir, config.FileName)
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
	tr, err := vtree.Open(dir, vtree.Options{Drivers: testDrivers(), Extensions: []vtree.Extension{discover.New()}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	if stmts != "" {
		if _, err := tr.Write(context.Background(), "/discover_master", []byte(stmts)); err != nil {
			t.Fatal(err)
		}
	}
	return tr
}
