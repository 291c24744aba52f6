package delegate

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/smctl/smctl/pkg/vtree"
)

// TestMut2DelegateLiveShadowed: a stored directory of a live device named
// like one of its live directories is passed over, and the walk goes on
// with the directories after it (walk.go: continue, not break).
func TestMut2DelegateLiveShadowed(t *testing.T) {
	g := delegTestGroup(t)
	tr := delegTree(t, nil)
	dir := tr.BackingDir()
	for _, d := range []string{"systems/servers/n1/proc/b1", "systems/servers/n1/rack/b3"} {
		p := filepath.Join(dir, d)
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(p, vtree.TypeFile), []byte("blade\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cs, err := Apply(context.Background(), tr, "/systems/servers/n1", g)
	if err != nil {
		t.Fatal(err)
	}
	got := mutDelegKeys(t, tr, cs)
	for _, w := range []string{"chmod /systems/servers/n1", "chmod /systems/servers/n1/rack/b3", "create /systems/servers/n1/rack/b3/bootorder"} {
		if !slices.Contains(got, w) {
			t.Errorf("%q not reported", w)
		}
	}
	for _, n := range []string{"chmod /systems/servers/n1/proc/b1", "create /systems/servers/n1/proc/b1/bootorder"} {
		if slices.Contains(got, n) {
			t.Errorf("%q reported", n)
		}
	}
	if t.Failed() {
		t.Logf("reported:\n%s", strings.Join(got, "\n"))
	}
}
