package vtree

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smctl/smctl/pkg/vtree/store"
)

// setMarker makes the directory dev (backing rel path) say content as its
// type: in its parent's device index or, legacy, in its own .type marker,
// the other removed, and the tree told as a watch tells it.
func setMarker(t testing.TB, tr *Tree, dev, content string, legacy bool) {
	t.Helper()
	parent, name := store.SplitRel(dev)
	index := filepath.Join(tr.store.Dir(), parent, store.IndexName)
	marker := filepath.Join(tr.store.Dir(), dev, typeFile)
	os.Remove(marker)
	b, err := os.ReadFile(index)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var keep []string
	for _, l := range strings.SplitAfter(string(b), "\n") {
		if l != "" && !strings.HasPrefix(l, name+" ") {
			keep = append(keep, l)
		}
	}
	if !legacy {
		keep = append(keep, name+" "+strings.TrimSpace(content)+"\n")
	}
	os.Remove(index) // a new inode: the mode is the one given
	if err := os.WriteFile(index, []byte(strings.Join(keep, "")), 0o644); err != nil {
		t.Fatal(err)
	}
	if legacy {
		if err := os.WriteFile(marker, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Known to the tree as a watch makes another program's change known.
	tr.Forget(store.JoinRel(parent, store.IndexName), false)
	tr.Forget(store.JoinRel(dev, typeFile), false)
}
