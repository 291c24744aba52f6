package stateroot

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"testing/fstest"
)

// Init makes /groups, the directory of node groups, empty and trusted: a
// directory of the root's owner that no one else may write.
func TestInitGroups(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "root")
	if err := Init(context.Background(), dir, Options{Agents: fstest.MapFS{}, Drivers: testDrivers(), Devices: localhost}); err != nil {
		t.Fatal(err)
	}
	groups := filepath.Join(dir, "tree", "groups")
	st, err := os.Lstat(groups)
	if err != nil {
		t.Fatalf("after Init: %v", err)
	}
	if !st.IsDir() || st.Mode().Perm()&0o022 != 0 || int(st.Sys().(*syscall.Stat_t).Uid) != os.Geteuid() {
		t.Errorf("/groups: mode %v, owner %d; want a directory of ours no one else may write", st.Mode(), st.Sys().(*syscall.Stat_t).Uid)
	}
	if des, err := os.ReadDir(groups); err != nil || len(des) != 0 {
		t.Errorf("/groups holds %v, %v; want nothing", des, err)
	}
}
