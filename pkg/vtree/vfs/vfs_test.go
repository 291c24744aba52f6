package vfs

import (
	"context"
	"errors"
	"io/fs"
	"testing"
	"testing/fstest"

	"github.com/smctl/smctl/pkg/vtree"
)

// TestFS checks the io/fs view with fstest.TestFS on a tree whose agents
// are deterministic. The live directories (the machine's own /proc and
// /sys, which change while the checker looks) are switched off in
// smctl.yaml, and localhost's loadavg is cached. One pass reads every file first, so that each agent's
// .status exists before the checker lists the directories twice.
func TestFS(t *testing.T) {
	tr := newTree(t, map[string]string{
		"server/power.read":        `echo on`,
		"server/power.write":       `cat >/dev/null`,
		"server/model.read":        `echo "x3650 $SMCTL_HOST"`,
		"blade/bootorder.read":     `echo harddisk`,
		"chassis/temperature.read": `echo 31`,
	}, "server n[1-3] transport=local\nchassis mm1 blades=b[1-2]\n",
		[2]string{"live_dirs:\n  - proc\n  - sys\n  - os\n  - stats\n  - processes\n  - services\n  - disks\n  - checks\n", "live_dirs: []\n"},
		// localhost's loadavg is the machine's, which changes every 5 s:
		// read once, then as stored.
		[2]string{"cache:\n", "cache:\n  - match: loadavg\n    model: cached\n"})
	ctx := context.Background()
	fsys := New(ctx, tr, vtree.ReadOptions{})
	var files []string
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			files = append(files, p)
			if _, err := fs.ReadFile(fsys, p); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 30 {
		t.Fatalf("walk found %d files: %v", len(files), files)
	}
	if err := fstest.TestFS(fsys, "systems/servers/n1/power", "systems/chassis/mm1/blades/2/bootorder", "discover_master", "ids"); err != nil {
		t.Fatal(err)
	}
	b, err := fs.ReadFile(fsys, "systems/servers/n2/model")
	if err != nil || string(b) != "x3650 n2\n" {
		t.Errorf("model = %q, %v", b, err)
	}
}

func TestFSErrors(t *testing.T) {
	tr := newTree(t, nil, "")
	fsys := New(context.Background(), tr, vtree.ReadOptions{})
	for _, name := range []string{"/abs", "a/../b", "systems/"} {
		if _, err := fsys.Open(name); !errors.Is(err, fs.ErrInvalid) {
			t.Errorf("Open(%q) = %v, want ErrInvalid", name, err)
		}
	}
	if _, err := fsys.Open("systems/nope"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open(missing) = %v, want ErrNotExist", err)
	}
	if _, err := fs.ReadFile(fsys, "systems"); err == nil {
		t.Error("ReadFile(dir) succeeded")
	}
}
