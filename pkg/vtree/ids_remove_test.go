package vtree

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// Writing an empty value to an ids file removes it, within the same tree:
// the device inherits the ids above it again at once (the tree's cache of
// which directories hold an ids file and the keyring's decrypted ids both
// forget it), the listing no longer shows it, and reading it gives
// nothing. The root's /ids is always listed, empty once removed.
func TestWriteIDsEmptyRemoves(t *testing.T) {
	tr := newTree(t, map[string]string{"blade/whoami.read": `echo "$SMCTL_USER $SMCTL_PASSWORD"`}, "chassis mm1 blades=b[1-2]")
	ctx := context.Background()
	whoami := func(want string) {
		t.Helper()
		res, err := tr.Read(ctx, "/systems/chassis/mm1/blades/1/whoami", ReadOptions{})
		if err != nil || string(res.Content) != want {
			t.Errorf("whoami = %q, %v; want %q", res.Content, err, want)
		}
	}
	for p, v := range map[string]string{"/ids": "root:top\n", "/systems/chassis/mm1/ids": "mm:mmpw\n"} {
		if _, err := tr.Write(ctx, p, []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	whoami("mm mmpw\n")
	res, err := tr.Write(ctx, "/systems/chassis/mm1/ids", nil)
	if err != nil || len(res.Content) != 0 || res.Ran {
		t.Fatalf("write '' to ids: %+v, %v; want it removed", res, err)
	}
	if _, err := os.Lstat(filepath.Join(tr.store.Dir(), "systems/chassis/mm1/ids")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("backing ids still there: %v", err)
	}
	whoami("root top\n")
	if res, err := tr.Read(ctx, "/systems/chassis/mm1/ids", ReadOptions{}); err == nil && len(res.Content) != 0 {
		t.Errorf("read of the removed ids: %q", res.Content)
	}
	es, err := tr.ReadDir(ctx, "/systems/chassis/mm1")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if e.Name() == IDsName {
			t.Errorf("the removed ids is still listed")
		}
	}
	// Removing what is not there is no error; the root's, once gone,
	// leaves nothing to send.
	if _, err := tr.Write(ctx, "/systems/chassis/mm1/ids", []byte("\n")); err != nil {
		t.Errorf("removing again: %v", err)
	}
	if _, err := tr.Write(ctx, "/ids", []byte("")); err != nil {
		t.Fatal(err)
	}
	whoami(" \n")
	res, err = tr.Read(ctx, "/ids", ReadOptions{})
	if err != nil || len(res.Content) != 0 {
		t.Errorf("read /ids after removal: %q, %v", res.Content, err)
	}
	// Writing one again works as before, private to its owner.
	if _, err := tr.Write(ctx, "/systems/chassis/mm1/ids", []byte("again:pw\n")); err != nil {
		t.Fatal(err)
	}
	whoami("again pw\n")
	if st, err := os.Stat(filepath.Join(tr.store.Dir(), "systems/chassis/mm1/ids")); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("ids written again: %v, %v; want mode 0600", st, err)
	}
}
