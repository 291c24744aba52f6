package checks_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/smctl/smctl/pkg/check"
	"github.com/smctl/smctl/pkg/driver"
	"github.com/smctl/smctl/pkg/driver/all"
	"github.com/smctl/smctl/pkg/driver/checks"
)

// What a scheduler (smctl serve's) does with the drivers of a tree: find
// the checks of a device, run them, and keep their states, acting on HARD
// changes only.
func Example_scheduler() {
	root, _ := os.MkdirTemp("", "smctl-example-")
	defer os.RemoveAll(root)
	plugin := filepath.Join(root, checks.PluginsDir, "check_web")
	os.MkdirAll(filepath.Dir(plugin), 0o755)
	os.WriteFile(plugin, []byte("#!/bin/sh\necho \"WEB CRITICAL - $SMCTL_HOST is down|time=0.5s;1;2\"\nexit 2\n"), 0o755)

	set := all.Registry().New(driver.Env{Root: root}) // Root: the state root
	defer set.Close()
	_, err := set.Schema().Parse([]byte(`checks: [{name: web, types: [server], command: check_web -H $SMCTL_HOST, attempts: 2, on_hard: evacuate}]`))
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	c := set.Checker()
	dev := driver.Device{Path: "/systems/servers/n1", Type: "server", Attrs: map[string]string{"transport": "local"}}
	tr, _ := set.Transport(ctx, dev) // a remote check runs through it
	at := time.Date(2026, 11, 22, 21, 40, 1, 0, time.UTC)
	for _, spec := range c.Checks(dev.Type) {
		for i := range 2 {
			r, err := c.Run(ctx, spec, dev, tr)
			if err != nil {
				fmt.Println(err) // could not run at all
				continue
			}
			st, _, err := c.LoadStatus(dev.Path, spec.Name)
			if err != nil {
				fmt.Println(err) // an untrusted state decides nothing
				continue
			}
			st, change := st.Next(r.State, at.Add(time.Duration(i)*spec.Every), check.Policy{MaxAttempts: spec.Attempts})
			if err := c.SaveStatus(dev.Path, spec.Name, st); err != nil {
				fmt.Println(err)
			}
			fmt.Printf("%s: %s %s -> %s (%s)\n", spec.Name, r.State, r.Message, st, change)
			if change.Hard() && !st.Flapping && r.State != check.OK {
				fmt.Println("on_hard:", spec.OnHard.Kind)
			}
		}
	}
	// Output:
	// web: CRITICAL WEB CRITICAL - n1 is down -> CRITICAL SOFT 1/2 since 2026-11-22T21:40:01Z (soft problem)
	// web: CRITICAL WEB CRITICAL - n1 is down -> CRITICAL HARD 2/2 since 2026-11-22T21:40:01Z (hard problem)
	// on_hard: evacuate
}
