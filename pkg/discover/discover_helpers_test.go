package discover

import (
	"context"
	"errors"
	"io/fs"
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

// Discovery's tests run on a tree opened as the CLI opens it, with
// smctl's drivers, except that no BMC is reached: hardware gives the ipmi
// driver's types, attributes and a chassis' discovery of its blades, but
// no BMC agents.

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
// reached with no SSH, and discovery's section of smctl.yaml), applies the
// edits to smctl.yaml (each replacing its first string, which must be
// there, once), opens it with the test drivers and a new Discovery, and
// writes the discovery statements stmts, if any, to /discover_master.
func newTree(t testing.TB, stmts string, edits ...[2]string) (*vtree.Tree, *Discovery) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "root")
	err := stateroot.Init(context.Background(), dir, stateroot.Options{
		Agents:     fstest.MapFS{},
		Drivers:    testDrivers(),
		Extensions: []vtree.Extension{New()},
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
	tr, d := openTree(t, dir, nil)
	if stmts != "" {
		if _, err := tr.Write(context.Background(), "/discover_master", []byte(stmts)); err != nil {
			t.Fatal(err)
		}
	}
	return tr, d
}

// openTree opens the state root dir again (another invocation) with the
// test drivers, a new Discovery and, when not nil, builtins; the tree is
// closed when the test ends.
func openTree(t testing.TB, dir string, builtins func(r *agent.Registry)) (*vtree.Tree, *Discovery) {
	t.Helper()
	d := New()
	tr, err := vtree.Open(dir, vtree.Options{
		Drivers:    testDrivers(),
		Extensions: []vtree.Extension{d},
		Builtins:   builtins,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr, d
}

// backing is the backing path of the virtual path p.
func backing(tr *vtree.Tree, p string) string {
	return filepath.Join(tr.BackingDir(), filepath.FromSlash(strings.TrimPrefix(p, "/")))
}

// readBacking is the content of the backing file of the virtual path p, or
// "<missing>".
func readBacking(t *testing.T, tr *vtree.Tree, p string) string {
	t.Helper()
	b, err := os.ReadFile(backing(tr, p))
	if errors.Is(err, fs.ErrNotExist) {
		return "<missing>"
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
