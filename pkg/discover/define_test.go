package discover

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/smctl/smctl/internal/testroot"
	"github.com/smctl/smctl/pkg/agent"
	"github.com/smctl/smctl/pkg/status"
	"github.com/smctl/smctl/pkg/vtree"
)

// recorder is agents that record their inputs, by device.
type recorder struct {
	mu  sync.Mutex
	got map[string][]string // "DEVICE FILE" -> inputs
}

func (r *recorder) agent(f func(req *agent.Request) (agent.Result, error)) agent.Func {
	return func(_ context.Context, req *agent.Request) (agent.Result, error) {
		r.mu.Lock()
		if r.got == nil {
			r.got = map[string][]string{}
		}
		k := req.Path
		r.got[k] = append(r.got[k], string(req.Input))
		r.mu.Unlock()
		return f(req)
	}
}

func (r *recorder) inputs(p string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got[p])
}

// TestDefineAgent: a statement's options go to the type's define agent of
// each new device; a device whose define fails is not kept, the others
// are; an existing device is kept as it is, its agent not run.
func TestDefineAgent(t *testing.T) {
	ctx := context.Background()
	var rec recorder
	dir := testroot.Init(t, New, testroot.Options{})
	tr, d := openTree(t, dir, func(r *agent.Registry) {
		r.Register("server", vtree.DefineAgent, agent.Write, rec.agent(func(req *agent.Request) (agent.Result, error) {
			if strings.Contains(req.Path, "/bad") {
				return agent.Result{}, agent.Fail(status.Usage, errors.New("refused by the test"))
			}
			return agent.Result{Output: []byte("made\n")}, nil
		}))
	})
	lines, err := d.Discover(ctx, "server ok[1-2],bad1 xml=f start=1", "")
	if err == nil || !strings.Contains(err.Error(), "server bad1 not added: ") || !strings.Contains(err.Error(), "refused by the test") {
		t.Fatalf("a failing define: %v", err)
	}
	if want := []string{"added 2 servers: ok[1-2]"}; !slices.Equal(lines, want) {
		t.Errorf("lines %q, want %q", lines, want)
	}
	if got := readBacking(t, tr, "/systems/servers/bad1/"+vtree.TypeFile); got != "<missing>" {
		t.Errorf("bad1 kept after its define failed: type %q", got)
	}
	if got := rec.inputs("/systems/servers/ok1/define"); !slices.Equal(got, []string{"xml=f start=1\n"}) {
		t.Errorf("ok1's define got %q", got)
	}
	// Kept as it is: its define not run again.
	lines, err = d.Discover(ctx, "server ok1 xml=g", "")
	if err != nil || !slices.Equal(lines, []string{"kept 1 server already present: ok1"}) {
		t.Errorf("again: %q, %v", lines, err)
	}
	if got := rec.inputs("/systems/servers/ok1/define"); len(got) != 1 {
		t.Errorf("ok1's define ran %d times, want once", len(got))
	}
	// Options for a type with neither a define nor a discovery agent.
	if _, err := d.Discover(ctx, "hypervisorless x1 a=b", ""); err == nil {
		t.Error("options of an unknown type: no error")
	}
}

// TestRemoveRunsUndefine: remove runs the type's undefine agent first,
// with "yes" once confirmed; a device whose undefine fails stays.
func TestRemoveRunsUndefine(t *testing.T) {
	ctx := context.Background()
	var rec recorder
	dir := testroot.Init(t, New, testroot.Options{})
	tr, d := openTree(t, dir, func(r *agent.Registry) {
		r.Register("server", vtree.RemoveAgent, agent.Write, rec.agent(func(req *agent.Request) (agent.Result, error) {
			if strings.Contains(req.Path, "/busy") && strings.TrimSpace(string(req.Input)) != "yes" {
				return agent.Result{}, agent.Fail(status.Usage, errors.New("busy: --yes"))
			}
			return agent.Result{Output: []byte("undefined\n")}, nil
		}))
	})
	if _, err := d.Discover(ctx, "server busy1,idle1 address=127.0.0.1", ""); err != nil {
		t.Fatal(err)
	}
	lines, err := d.Discover(ctx, "remove server busy1,idle1", "")
	if err == nil || !strings.Contains(err.Error(), "server busy1 not removed: ") || !strings.Contains(err.Error(), "busy: --yes") {
		t.Fatalf("removing a busy one: %v", err)
	}
	if want := []string{"removed 1 server: idle1"}; !slices.Equal(lines, want) {
		t.Errorf("lines %q, want %q", lines, want)
	}
	if got := readBacking(t, tr, "/systems/servers/busy1/address"); got != "127.0.0.1\n" {
		t.Errorf("busy1 removed although its undefine failed: address %q", got)
	}
	d.Confirm(true)
	defer d.Confirm(false)
	if lines, err := d.Discover(ctx, "remove server busy1", ""); err != nil || !slices.Equal(lines, []string{"removed 1 server: busy1"}) {
		t.Errorf("confirmed: %q, %v", lines, err)
	}
	if got := rec.inputs("/systems/servers/busy1/undefine"); !slices.Equal(got, []string{"\n", "yes\n"}) {
		t.Errorf("busy1's undefine got %q, want a plain run then yes", got)
	}
	// A device that is not there: its agent is not run.
	if _, err := d.Discover(ctx, "remove server nothere", ""); err == nil {
		t.Error("removing a missing device: no error")
	}
	if got := rec.inputs("/systems/servers/nothere/undefine"); len(got) != 0 {
		t.Errorf("a missing device's undefine ran: %q", got)
	}
}

// TestPromptedResync: prompted discovery runs the discovery of every
// container already in the tree, once each, and takes what they print
// now, even with no discovery agent installed; a container's failed
// discovery still applies what it printed.
func TestPromptedResync(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	blades := "blade [1-2] address=127.0.0.1"
	fail := false
	var rec recorder
	// Chassis and blades re-synced (their types say so: smctl's chassis'
	// discovery needs its blades= and does not).
	dir := testroot.Init(t, New, testroot.Options{Edits: [][2]string{
		{"  chassis:\n    dir: /systems/chassis\n", "  chassis:\n    dir: /systems/chassis\n    resync: true\n"},
		{"  blade:\n    dir: blades\n", "  blade:\n    dir: blades\n    resync: true\n"}}})
	tr, d := openTree(t, dir, func(r *agent.Registry) {
		r.Register("chassis", vtree.DiscoverAgent, agent.Write, rec.agent(func(req *agent.Request) (agent.Result, error) {
			mu.Lock()
			defer mu.Unlock()
			if fail {
				return agent.Result{Output: []byte(blades + "\n"), RC: 1, Message: "one blade unreadable", Keep: true}, nil
			}
			return agent.Result{Output: []byte(blades + "\n")}, nil
		}))
		// Blades are containers too (of nothing): re-synced inside theirs.
		r.Register("blade", vtree.DiscoverAgent, agent.Write, rec.agent(func(*agent.Request) (agent.Result, error) {
			return agent.Result{}, nil
		}))
	})
	d.Track()
	if _, err := d.Discover(ctx, "chassis c[1-2] bmc=10.0.0.[1-2]", ""); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	blades = "blade [1-3] address=127.0.0.1"
	mu.Unlock()
	if _, err := tr.Write(ctx, "/"+vtree.DiscoverMaster, []byte("1\n")); err != nil {
		t.Fatalf("prompted discovery with containers and no agents: %v", err)
	}
	res, err := tr.Read(ctx, "/"+vtree.DiscoverMaster, vtree.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := string(res.Content)
	for _, want := range []string{
		"added 1 blade: 3 in /systems/chassis/c1\nkept 2 blades already present: [1-2] in /systems/chassis/c1\n",
		"added 1 blade: 3 in /systems/chassis/c2\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("prompted discovery said %q, want %q in it", got, want)
		}
	}
	for _, c := range []string{"c1", "c2"} {
		if n := len(rec.inputs("/systems/chassis/" + c + "/discover")); n != 2 {
			t.Errorf("%s's discovery ran %d times, want twice (added, re-synced)", c, n)
		}
	}
	for _, b := range []string{"1", "2"} {
		if n := len(rec.inputs("/systems/chassis/c1/blades/" + b + "/discover")); n != 2 {
			t.Errorf("blade %s's discovery ran %d times, want twice (added, re-synced)", b, n)
		}
	}
	if n := len(rec.inputs("/systems/chassis/c1/blades/3/discover")); n != 1 {
		t.Errorf("blade 3's discovery ran %d times, want once (added)", n)
	}
	// Failed, it still applies what it printed; the failure is reported.
	mu.Lock()
	fail, blades = true, "blade [1-4] address=127.0.0.1"
	mu.Unlock()
	if _, err := tr.Write(ctx, "/"+vtree.DiscoverMaster, []byte("1\n")); err == nil || !strings.Contains(err.Error(), "one blade unreadable") {
		t.Fatalf("a failed re-sync: %v", err)
	}
	if got := readBacking(t, tr, "/systems/chassis/c2/blades/4/address"); got != "127.0.0.1\n" {
		t.Errorf("blade 4 of a failed discovery: address %q", got)
	}
}

// TestPromptedNoResync: a container type without resync (smctl's chassis,
// whose discovery needs its blades=) is not run again by prompted
// discovery.
func TestPromptedNoResync(t *testing.T) {
	ctx := context.Background()
	var rec recorder
	dir := testroot.Init(t, New, testroot.Options{})
	tr, d := openTree(t, dir, func(r *agent.Registry) {
		r.Register("chassis", vtree.DiscoverAgent, agent.Write, rec.agent(func(*agent.Request) (agent.Result, error) {
			return agent.Result{}, nil
		}))
	})
	if _, err := d.Discover(ctx, "chassis c1 bmc=10.0.0.1", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Write(ctx, "/"+vtree.DiscoverMaster, []byte("1\n")); err == nil || !strings.Contains(err.Error(), "no discovery agents installed") {
		t.Errorf("prompted discovery with nothing to run: %v", err)
	}
	if n := len(rec.inputs("/systems/chassis/c1/discover")); n != 1 {
		t.Errorf("c1's discovery ran %d times, want once (added)", n)
	}
}
