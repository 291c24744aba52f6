package testroot

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smctl/smctl/pkg/agent"
	"github.com/smctl/smctl/pkg/config"
	"github.com/smctl/smctl/pkg/vtree"
)

// ext is a do-nothing extension that counts how many were made.
type ext struct{ n int }

func (ext) Section() config.Section             { return config.Section{} }
func (ext) Attach(*vtree.Tree, *agent.Registry) {}

// TestNew: the tree has localhost, the agents and the edits, and each use
// of the state root gets its own extension.
func TestNew(t *testing.T) {
	made := 0
	newExt := func() *ext { made++; return &ext{n: made} }
	tr, e := New(t, newExt, Options{
		Agents: map[string]string{"server/power.read": "echo on"},
		Edits:  [][2]string{{"types:\n", "types:\n  box:\n    dir: /systems/boxes\n"}},
	})
	if made != 2 || e.n != 2 {
		t.Errorf("%d extensions made, the tree's is #%d; want 2, #2", made, e.n)
	}
	r, err := tr.Read(context.Background(), "/systems/servers/localhost/power", vtree.ReadOptions{})
	if err != nil || strings.TrimSpace(string(r.Content)) != "on" {
		t.Fatalf("localhost/power: %v, %v", r, err)
	}
	if b, err := os.ReadFile(filepath.Join(tr.Root, config.FileName)); err != nil || !strings.Contains(string(b), "dir: /systems/boxes") {
		t.Errorf("smctl.yaml not edited: %v\n%s", err, b)
	}
}
