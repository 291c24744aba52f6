package delegate

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/smctl/smctl/internal/testpriv"
)

// The rules about who may give what to a group differ for root, whom the
// kernel lets chgrp anything, and for everyone else. TestMutUnpriv runs part
// of the package's tests again as nobody:nogroup, with no supplementary
// groups (as testscripts/delegate.txtar's member), in a copy of the test
// binary.

// mutUnprivEnv marks that copy; its value is the directory the parent
// prepared for it.
const mutUnprivEnv = "SMCTL_DELEGATE_UNPRIV_CHILD"

// TestMutUnpriv: as root, runs itself as nobody:nogroup; there, checks
// Apply's rules on groups and owners from the side of an unprivileged user.
func TestMutUnpriv(t *testing.T) {
	if _, ok := testpriv.Child(t, mutUnprivEnv); ok {
		t.Run("delegate", mutUnprivDelegate)
		return
	}
	if os.Geteuid() != 0 {
		mutNeed(t, "root (to run the test binary as uid 65534)")
	}
	testpriv.AsNobody(t, mutUnprivEnv, testpriv.SharedDir(t))
}

// mutUnprivDelegate: an unprivileged user may give files only to a group
// they are in (here their primary group, with no supplementary ones), and
// revoking walks into the directories they own and counts their files as
// theirs (nothing of theirs is taken back or noted as a member's).
func mutUnprivDelegate(t *testing.T) {
	ctx := context.Background()
	tr := delegTree(t, nil)
	dir := tr.BackingDir()
	if _, err := Apply(ctx, tr, "/systems/servers", Delegation{GID: 0}); !errors.Is(err, ErrMember) {
		t.Errorf("delegating to group 0, which the user is not in: %v, want %v", err, ErrMember)
	}
	g := Delegation{GID: os.Getegid()}
	check := func(what string, cs []Change, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		for _, c := range cs {
			if c.Err != nil || c.Kind == Stray || c.Kind == Reclaim || c.Kind == Skip {
				t.Errorf("%s: %+v", what, c)
			}
		}
	}
	cs, err := Apply(ctx, tr, "/systems/servers", g)
	check("delegating to the user's group", cs, err)
	mode := func(p string) uint32 {
		t.Helper()
		var st syscall.Stat_t
		if err := syscall.Lstat(filepath.Join(dir, p), &st); err != nil {
			t.Fatal(err)
		}
		return st.Mode & 0o7777
	}
	for p, bits := range map[string]uint32{"systems/servers/n1": dirBits, "systems/servers/n1/power": fileBits} {
		if m := mode(p); m&bits != bits {
			t.Errorf("%s: mode %o after delegating", p, m)
		}
	}
	g.Revoke = true
	cs, err = Apply(ctx, tr, "/systems/servers", g)
	check("revoking", cs, err)
	for _, p := range []string{"systems/servers/n1", "systems/servers/n1/power", "systems/servers/n2/reboot"} {
		if m := mode(p); m&groupWrite != 0 {
			t.Errorf("%s: mode %o after revoking", p, m)
		}
	}
	if t.Failed() {
		t.Logf("revoking: %+v", cs)
	}
}
