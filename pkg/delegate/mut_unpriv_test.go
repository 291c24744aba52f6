package delegate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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

// mutUnprivUID and mutUnprivGID are nobody and nogroup (Debian's 65534).
const mutUnprivUID, mutUnprivGID = 65534, 65534

// TestMutUnpriv: as root, prepares a directory for nobody and runs itself
// as nobody:nogroup; there, checks Apply's rules on groups and owners from
// the side of an unprivileged user.
func TestMutUnpriv(t *testing.T) {
	if shared := os.Getenv(mutUnprivEnv); shared != "" {
		mutUnprivChild(t)
		return
	}
	if os.Geteuid() != 0 {
		mutNeed(t, "root (to run the test binary as uid 65534)")
	}
	shared := testpriv.SharedDir(t)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// The child's TMPDIR.
	tmp := filepath.Join(shared, "tmp")
	must(os.Mkdir(tmp, 0o700))
	must(os.Chown(tmp, mutUnprivUID, mutUnprivGID))
	// go test's binary is in a private directory: a copy nobody may run.
	bin := filepath.Join(shared, "delegate.test")
	src, err := os.Open(os.Args[0])
	must(err)
	dst, err := os.OpenFile(bin, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	must(err)
	_, err = io.Copy(dst, src)
	src.Close()
	must(err)
	must(dst.Close())

	cmd := exec.Command(bin, "-test.run=^TestMutUnpriv$", "-test.v", "-test.count=1", "-test.timeout=5m")
	cmd.Env = []string{"PATH=/usr/bin:/bin", "TMPDIR=" + tmp, mutUnprivEnv + "=" + shared,
		"SMCTL_TEST_REQUIRE=" + os.Getenv("SMCTL_TEST_REQUIRE")}
	cmd.Dir = shared
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: mutUnprivUID, Gid: mutUnprivGID, Groups: []uint32{}}}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	if _, exited := err.(*exec.ExitError); err != nil && !exited {
		mutNeed(t, fmt.Sprintf("a place uid %d can run the test binary from (%v)", mutUnprivUID, err))
	}
	if err != nil || !strings.Contains(out.String(), "--- PASS: TestMutUnpriv ") {
		t.Fatalf("as uid %d: %v\n%s", mutUnprivUID, err, out.String())
	}
	if strings.Contains(out.String(), "--- SKIP") {
		mutNeed(t, fmt.Sprintf("what the cases skipped as uid %d need:\n%s", mutUnprivUID, out.String()))
	}
}

// mutUnprivChild is TestMutUnpriv as nobody:nogroup.
func mutUnprivChild(t *testing.T) {
	if os.Geteuid() != mutUnprivUID || os.Getegid() != mutUnprivGID {
		t.Fatalf("running as %d:%d, want %d:%d", os.Geteuid(), os.Getegid(), mutUnprivUID, mutUnprivGID)
	}
	t.Run("delegate", mutUnprivDelegate)
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
