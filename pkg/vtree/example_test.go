package vtree_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing/fstest"

	"github.com/smctl/smctl/pkg/discover"
	"github.com/smctl/smctl/pkg/driver"
	"github.com/smctl/smctl/pkg/driver/all"
	"github.com/smctl/smctl/pkg/stateroot"
	"github.com/smctl/smctl/pkg/vtree"
)

// A state root with one script agent: reading the file runs it, and the
// result stays in the tree with its status.
func Example() {
	dir, _ := os.MkdirTemp("", "vtree-example-")
	defer os.RemoveAll(dir)
	root := filepath.Join(dir, "root")
	agents := fstest.MapFS{"server/greeting.read": {Data: []byte("#!/bin/sh\necho hello from $SMCTL_HOST\n"), Mode: 0o755}}
	ctx := context.Background()
	// smctl's drivers (how devices are reached) and discovery (which
	// owns /discover_master) make what smctl.yaml holds.
	if err := stateroot.Init(ctx, root, stateroot.Options{Agents: agents, Drivers: all.Registry().New(driver.Env{}), Extensions: []vtree.Extension{discover.New()}}); err != nil {
		fmt.Println(err)
		return
	}
	t, _ := vtree.Open(root, vtree.Options{Drivers: all.Registry().New(driver.Env{}), Extensions: []vtree.Extension{discover.New()}})
	defer t.Close()
	t.Write(ctx, "/discover_master", []byte("server n[1-2] transport=local\n"))
	res, err := t.Read(ctx, "/sysman/systems/servers/n2/greeting", vtree.ReadOptions{})
	fmt.Printf("%s%v\n", res.Content, err)
	rc, _, _ := t.Status(ctx, "/systems/servers/n2/greeting")
	fmt.Println("status", rc)
	// Output:
	// hello from n2
	// <nil>
	// status 0
}
