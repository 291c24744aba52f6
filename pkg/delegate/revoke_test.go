package delegate

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestDelegateRevokeOtherGroup: revoking one group leaves what another
// group was given.
func TestDelegateRevokeOtherGroup(t *testing.T) {
	g := delegTestGroup(t)
	ctx := context.Background()
	tr := delegTree(t, nil)
	if _, err := Apply(ctx, tr, "/systems/servers/n1", g); err != nil {
		t.Fatal(err)
	}
	s0 := snapTree(t, tr.BackingDir())
	other := Delegation{GID: g.GID + 1, Revoke: true}
	cs, err := Apply(ctx, tr, "/systems/servers/n1", other)
	if err != nil || len(cs) != 0 {
		t.Fatalf("revoking another group: %+v, %v", cs, err)
	}
	if !delegSame(s0, snapTree(t, tr.BackingDir())) {
		t.Error("revoking another group changed the tree")
	}
}

// TestDelegateRevokeTakesBack: while the group could write the device
// directories, a member could replace files with their own, which they
// would keep writing after the revocation, or remove a .type so that the
// directory no longer looks like a device. Revoking still takes group
// write from the directories, takes back the acting and status files
// members own, and names what else they left.
func TestDelegateRevokeTakesBack(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to plant files that a member owns")
	}
	g := delegTestGroup(t)
	const member = 65534
	ctx := context.Background()
	tr := delegTree(t, nil)
	if _, err := Apply(ctx, tr, "/systems/servers", g); err != nil {
		t.Fatal(err)
	}
	dir := tr.BackingDir()
	n1 := filepath.Join(dir, "systems/servers/n1")
	n2 := filepath.Join(dir, "systems/servers/n2")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// n1: the member's own power (with content), .type, ids, a symbolic
	// link as reboot, a directory.
	legacyDevice(t, dir, "systems/servers/n1", "server")
	legacyDevice(t, dir, "systems/servers/n2", "server")
	must(os.Chown(filepath.Join(n1, "power"), member, g.GID))
	must(os.Chown(filepath.Join(n1, ".type"), member, g.GID))
	must(os.WriteFile(filepath.Join(n1, "ids"), []byte("x"), 0o644))
	must(os.Chown(filepath.Join(n1, "ids"), member, member))
	must(os.Remove(filepath.Join(n1, "reboot")))
	must(os.Symlink("/tmp", filepath.Join(n1, "reboot")))
	must(os.Lchown(filepath.Join(n1, "reboot"), member, member))
	must(os.Mkdir(filepath.Join(n1, "x"), 0o777))
	must(os.Chown(filepath.Join(n1, "x"), member, member))
	// n2: .type removed.
	must(os.Remove(filepath.Join(n2, ".type")))
	s0 := snapTree(t, dir)

	rg := g
	rg.Revoke = true
	cs, err := Apply(ctx, tr, "/systems/servers", rg)
	if err != nil {
		t.Fatal(err)
	}
	s1 := snapTree(t, dir)
	for _, p := range []string{"systems/servers/n1", "systems/servers/n2", "systems/servers/n2/power", "systems/servers/n2/command.status"} {
		if st := s1[p]; st.Mode&0o020 != 0 || int(st.Gid) != g.GID {
			t.Errorf("%s: mode %o gid %d after revoking", p, st.Mode, st.Gid)
		}
	}
	power := s1["systems/servers/n1/power"]
	if power.Uid != 0 || power.Mode&0o022 != 0 || int(power.Gid) != g.GID || power.Mtim != s0["systems/servers/n1/power"].Mtim {
		t.Errorf("n1/power not taken back: uid %d mode %o gid %d", power.Uid, power.Mode, power.Gid)
	}
	if b, err := os.ReadFile(filepath.Join(n1, "power")); err != nil || string(b) != "on" {
		t.Errorf("n1/power holds %q, %v; want its content kept", b, err)
	}
	if st := s1["systems/servers/n1/reboot"]; st.Mode&unix.S_IFMT != unix.S_IFREG || st.Uid != 0 || st.Size != 0 {
		t.Errorf("n1/reboot (a member's symbolic link) not replaced by an empty file of ours: mode %o uid %d", st.Mode, st.Uid)
	}
	strays := map[string]bool{}
	for _, c := range cs {
		if c.Err != nil {
			t.Errorf("%s: %v", c.Path, c.Err)
		}
		if c.Kind == Stray {
			strays[c.Path] = true
		}
	}
	for _, p := range []string{".type", "ids", "x"} {
		if !strays["/systems/servers/n1/"+p] {
			t.Errorf("n1/%s, the member's, not noted: %v", p, strays)
		}
		if a, b := s0["systems/servers/n1/"+p], s1["systems/servers/n1/"+p]; a.Uid != b.Uid || a.Mode != b.Mode || a.Ctim != b.Ctim {
			t.Errorf("n1/%s, the member's, touched", p)
		}
	}
	// Again: no change, the same notes.
	cs, err = Apply(ctx, tr, "/systems/servers", rg)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if c.Changed() || c.Err != nil || c.Kind != Stray {
			t.Errorf("second revocation: %+v", c)
		}
	}
}
