package discover

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/smctl/smctl/internal/testroot"
	"github.com/smctl/smctl/pkg/vtree"
)

// TestVanished: a Discovery that tracks (smctl serve's) reports the
// devices its prompted discovery was told of before and is not told of
// any more, without removing them; a run whose agent fails reports none;
// one that does not track never reports any.
func TestVanished(t *testing.T) {
	ctx := context.Background()
	dir := testroot.Init(t, New, testroot.Options{})
	list := filepath.Join(dir, "list")
	agent := filepath.Join(dir, "agents.d", vtree.DiscoverDir, "rack")
	os.MkdirAll(filepath.Dir(agent), 0o755)
	os.WriteFile(agent, []byte("#!/bin/sh\ncat "+list+"\n"), 0o755)
	d := New()
	d.Track()
	run := func(nodes string, want string, wantErr bool) {
		t.Helper()
		if nodes != "" {
			os.WriteFile(list, []byte(nodes+"\n"), 0o644)
		} else {
			os.Remove(list)
		}
		tr, _ := testroot.Open(t, dir, func() *Discovery { return d }, testroot.Options{})
		res, err := tr.Write(ctx, "/"+vtree.DiscoverMaster, []byte("1\n"))
		got := ""
		if res != nil {
			got = string(res.Content)
		}
		if (err != nil) != wantErr || got != want {
			t.Errorf("%q: %v, %v; want %q", nodes, res, err, want)
		}
	}
	run("server n[1-3] transport=local", "added 3 servers: n[1-3]\n", false)
	run("server n[1-2] transport=local", "kept 2 servers already present: n[1-2]\nvanished 1 server: n3\n", false)
	if _, err := os.Stat(filepath.Join(dir, "tree/systems/servers/n3")); err != nil {
		t.Errorf("a vanished device was removed: %v", err)
	}
	run("", "", true) // the agent fails: nothing is said to have vanished
	run("server n1 transport=local", "kept 1 server already present: n1\nvanished 1 server: n2\n", false)

	// Without Track (a write to /discover_master by hand): none.
	tr, _ := testroot.Open(t, dir, New, testroot.Options{})
	os.WriteFile(list, []byte("server n4 transport=local\n"), 0o644)
	if res, err := tr.Write(ctx, "/"+vtree.DiscoverMaster, []byte("1\n")); err != nil || string(res.Content) != "added 1 server: n4\n" {
		t.Errorf("untracked: %v, %v", res, err)
	}
}
