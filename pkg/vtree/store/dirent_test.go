package store

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"testing"
)

// TestReadDirTypes: the listing from getdents names every entry once with
// the type os.ReadDir gives it, over more entries than one buffer holds.
func TestReadDirTypes(t *testing.T) {
	s, dir := newStore(t)
	sub := filepath.Join(dir, "d")
	os.Mkdir(sub, 0o755)
	want := map[string]string{}
	for i := 0; i < 1500; i++ { // > 32 KiB of dirents
		name := fmt.Sprintf("file-with-a-longish-name-%04d", i)
		os.WriteFile(filepath.Join(sub, name), nil, 0o644)
	}
	os.Mkdir(filepath.Join(sub, "adir"), 0o755)
	os.Symlink("adir", filepath.Join(sub, "alink"))
	syscall.Mkfifo(filepath.Join(sub, "afifo"), 0o644)
	des, err := os.ReadDir(sub)
	if err != nil {
		t.Fatal(err)
	}
	for _, de := range des {
		want[de.Name()] = de.Type().String()
	}
	got, err := s.ReadDir("d")
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(got, func(i, j int) bool { return got[i].Name() < got[j].Name() })
	if len(got) != len(want) {
		t.Fatalf("%d entries, want %d", len(got), len(want))
	}
	for _, de := range got {
		if w, ok := want[de.Name()]; !ok || w != de.Type().String() {
			t.Errorf("%s: type %v, want %v (listed: %v)", de.Name(), de.Type(), w, ok)
		}
	}
	if fi, err := got[0].Info(); err != nil || fi.Name() != got[0].Name() {
		t.Errorf("Info of %s: %v, %v", got[0].Name(), fi, err)
	}
	if _, err := s.ReadDir("none"); err == nil {
		t.Error("listing a missing directory succeeded")
	}
}
