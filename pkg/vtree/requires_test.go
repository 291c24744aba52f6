package vtree

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"testing/fstest"

	"github.com/smctl/smctl/pkg/agent"
	"github.com/smctl/smctl/pkg/driver"
)

// bmcStub gives the role "bmc" a power file that requires the bmc
// attribute, as the ipmi driver's, without reaching a BMC.
type bmcStub struct{}

func (bmcStub) Name() string { return "bmc-stub" }
func (bmcStub) Builtins() map[string][]driver.Builtin {
	on := agent.Func(func(context.Context, *agent.Request) (agent.Result, error) {
		return agent.Result{Output: []byte("on\n")}, nil
	})
	return map[string][]driver.Builtin{"bmc": {
		{File: "power", Op: agent.Read, Agent: on, Requires: []string{"bmc"}},
		{File: "power", Op: agent.Write, Agent: on, Requires: []string{"bmc"}, Values: []string{"on", "off"}},
		{File: "uptime", Op: agent.Read, Agent: on}, // requires nothing
	}}
}

// openWithBMC opens a state root whose servers get bmcStub's files, with
// agents installed, and adds the servers n1 (no bmc) and n2 (a bmc).
func openWithBMC(t *testing.T, agents fstest.MapFS) *Tree {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "root")
	initRoot(t, dir, agents)
	tr, err := Open(dir, Options{Drivers: testDrivers(bmcStub{})})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	seed(t, tr, "server n1\nserver n2 bmc=127.0.0.1:16230", "")
	return tr
}

func names(t *testing.T, tr *Tree, p string) []string {
	t.Helper()
	es, err := tr.ReadDir(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}

// A driver's files are on the devices it can reach: power only where the
// bmc attribute says where the BMC is (issue 9, defect 6).
func TestRequiredAttributes(t *testing.T) {
	ctx := context.Background()
	tr := openWithBMC(t, nil)
	for _, tc := range []struct {
		dev  string
		want bool
	}{
		{"/systems/servers/n1", false},
		{"/systems/servers/n2", true},
	} {
		t.Run(tc.dev, func(t *testing.T) {
			tr.devices = map[string]Device{} // as a new command
			ls := names(t, tr, tc.dev)
			if got := slices.Contains(ls, "power"); got != tc.want {
				t.Errorf("ReadDir lists power: %v, want %v (%v)", got, tc.want, ls)
			}
			if !slices.Contains(ls, "uptime") || !slices.Contains(ls, "command") {
				t.Errorf("files that require nothing are missing: %v", ls)
			}
			// The listing costs no read of the attributes: it has the
			// names of the stored files already.
			if _, read := tr.devices[tc.dev]; read {
				t.Errorf("ReadDir read the device's attributes")
			}
			_, err := tr.Stat(ctx, tc.dev+"/power")
			if tc.want != (err == nil) || !tc.want && !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("Stat(power) = %v", err)
			}
			res, err := tr.Read(ctx, tc.dev+"/power", ReadOptions{})
			if tc.want && (err != nil || string(res.Content) != "on\n") || !tc.want && !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("Read(power) = %v, %v", res, err)
			}
			if got, want := tr.WriteSpec(ctx, tc.dev+"/power").Values, map[bool][]string{true: {"on", "off"}}[tc.want]; !slices.Equal(got, want) {
				t.Errorf("Values(power) = %q, want %q", got, want)
			}
		})
	}
	if v := tr.WriteSpec(ctx, "/systems/servers/n2/command").Values; v != nil {
		t.Errorf("Values(command) = %q, want none declared", v)
	}

	// Writing the attribute makes the file appear at once, in the same
	// command (the device's cached attributes are dropped).
	if _, err := tr.Stat(ctx, "/systems/servers/n1/power"); err == nil {
		t.Fatal("n1/power before its bmc")
	}
	if _, err := tr.Write(ctx, "/systems/servers/n1/bmc", []byte("127.0.0.1:16231\n")); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(names(t, tr, "/systems/servers/n1"), "power") {
		t.Error("n1 lists no power once it has a bmc")
	}
	if _, err := tr.Stat(ctx, "/systems/servers/n1/power"); err != nil {
		t.Errorf("Stat(n1/power) with a bmc: %v", err)
	}

	// A write to the missing file still reaches its agent (which says
	// what is missing), rather than storing a plain file.
	tr2 := openWithBMC(t, nil)
	if _, err := tr2.Write(ctx, "/systems/servers/n1/power", []byte("on")); err != nil {
		t.Fatalf("write n1/power: %v", err)
	}
	if res, err := tr2.Read(ctx, "/systems/servers/n1/power", ReadOptions{}); err != nil || !res.Ran {
		t.Errorf("n1/power, written, is not the agent's: %+v, %v", res, err)
	}
}

// An agent of an agent directory, or a stored file, of the name is there
// whatever the device has, as before.
func TestRequiredAttributesOverridden(t *testing.T) {
	ctx := context.Background()
	tr := openWithBMC(t, fstest.MapFS{"server/power.read": {Data: []byte("#!/bin/sh\necho off\n")}})
	if !slices.Contains(names(t, tr, "/systems/servers/n1"), "power") {
		t.Error("agents.d/server/power.read: n1 lists no power")
	}
	if v := tr.WriteSpec(ctx, "/systems/servers/n2/power").Values; !slices.Equal(v, []string{"on", "off"}) {
		t.Errorf("Values with the built-in write agent = %q", v)
	}

	tr = openWithBMC(t, nil)
	f := filepath.Join(tr.BackingDir(), "systems/servers/n1/power")
	if err := os.WriteFile(f, []byte("on\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(names(t, tr, "/systems/servers/n1"), "power") {
		t.Error("a stored power file is not listed")
	}
	if _, err := tr.Stat(ctx, "/systems/servers/n1/power"); err != nil {
		t.Errorf("Stat of a stored power file: %v", err)
	}
}

// manyStub gives the role "bmc" thirty files that require the bmc
// attribute, named to sort before it, and one that requires an attribute
// no device has.
type manyStub struct{}

func (manyStub) Name() string { return "many-stub" }
func (manyStub) Builtins() map[string][]driver.Builtin {
	on := agent.Func(func(context.Context, *agent.Request) (agent.Result, error) {
		return agent.Result{Output: []byte("on\n")}, nil
	})
	var bs []driver.Builtin
	for i := range 30 {
		bs = append(bs, driver.Builtin{File: fmt.Sprintf("a%02d", i), Op: agent.Read, Agent: on, Requires: []string{"bmc"}})
	}
	bs = append(bs, driver.Builtin{File: "z", Op: agent.Read, Agent: on, Requires: []string{"zz"}})
	return map[string][]driver.Builtin{"bmc": bs}
}

// Every file whose attributes the device has is listed, however many the
// listing gains before the last is judged (a listing judged against the
// entries it had grown lost some).
func TestRequiredAttributesMany(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "root")
	initRoot(t, dir, nil)
	tr, err := Open(dir, Options{Drivers: testDrivers(manyStub{})})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	seed(t, tr, "server n1\nserver n2 bmc=127.0.0.1:16230", "")
	for range 5 {
		tr.devices = map[string]Device{}
		ls := names(t, tr, "/systems/servers/n2")
		for i := range 30 {
			if f := fmt.Sprintf("a%02d", i); !slices.Contains(ls, f) {
				t.Fatalf("n2 (bmc set) does not list %s: %v", f, ls)
			}
		}
		if slices.Contains(ls, "z") || !slices.IsSorted(ls) || slices.Contains(names(t, tr, "/systems/servers/n1"), "a00") {
			t.Fatalf("listing wrong: n2 %v, n1 %v", ls, names(t, tr, "/systems/servers/n1"))
		}
	}
}
