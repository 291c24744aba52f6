package vtree

import (
	"context"
	"fmt"
	"testing"

	"github.com/smctl/smctl/pkg/agent"
	"github.com/smctl/smctl/pkg/driver"
)

// peerDriver gives servers a file "peer" whose agent looks up the device
// its value names (Request.Peer) and prints its type and address.
type peerDriver struct{}

func (peerDriver) Name() string { return "peer" }
func (peerDriver) Builtins() map[string][]driver.Builtin {
	return map[string][]driver.Builtin{"command": {{File: "peer", Op: agent.Write, Agent: agent.Func(func(ctx context.Context, req *agent.Request) (agent.Result, error) {
		p, err := req.Peer(ctx, string(req.Input))
		if err != nil {
			return agent.Result{}, err
		}
		return agent.Result{Output: fmt.Appendf(nil, "%s %s %v\n", p.Type, p.Attrs["address"], p.Transport != nil)}, nil
	})}}}
}

// TestPeer: an agent finds another device as its own agents would see it;
// a directory that is no device has no type and no transport; a missing
// path is an error.
func TestPeer(t *testing.T) {
	tr := newTree(t, nil, "")
	tr.Close()
	dir := tr.Root
	tr, err := Open(dir, Options{Drivers: testDrivers(peerDriver{})})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	seed(t, tr, "server n[1-2] transport=local address=10.0.0.9\n", "")
	ctx := context.Background()
	for in, want := range map[string]string{"/systems/servers/n2": "server 10.0.0.9 true\n", "/systems/servers": "  false\n"} {
		res, err := tr.Write(ctx, "/systems/servers/n1/peer", []byte(in))
		if err != nil {
			t.Fatalf("peer %s: %v", in, err)
		}
		if string(res.Content) != want {
			t.Errorf("peer %s: %q; want %q", in, res.Content, want)
		}
	}
	if _, err := tr.Write(ctx, "/systems/servers/n1/peer", []byte("/nothere")); err == nil {
		t.Error("peer /nothere: no error")
	}
}
