package doctor

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/smctl/smctl/internal/testpriv"
	"github.com/smctl/smctl/pkg/discover"
	"github.com/smctl/smctl/pkg/driver"
	"github.com/smctl/smctl/pkg/driver/all"
	"github.com/smctl/smctl/pkg/stateroot"
	"github.com/smctl/smctl/pkg/vtree"
)

// The trust rules are about owners, which root alone cannot tell apart
// from itself. As root, an agent of another user's is refused; as an
// unprivileged user (TestOwnersUnpriv, run again as nobody), an agent of
// root's is trusted and one of a third user's is not.

// TestOwnersRoot: run as root, an agent another user owns cannot run, and
// the doctor says who owns it and what to do.
func TestOwnersRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give a file to another user")
	}
	dir := newRoot(t)
	agent := filepath.Join(dir, "agents.d/server/uptime.read")
	if err := os.Chown(agent, testpriv.Nobody, testpriv.Nobody); err != nil {
		t.Fatal(err)
	}
	t.Setenv("USER", "root")
	got := collect(t, options(dir, knownHosts(t, 1)))
	expect(t, got, dir, 2, 0,
		want{Error, "agents.d/server/uptime.read", "owned by another user, mode 0755 (owner uid 65534: chown root ROOT/agents.d/server/uptime.read, or remove it)"},
		want{Error, "agents", "1 of 3 agents cannot run"})
}

// ownersUnprivEnv marks the copy of the test binary run as nobody; its
// value is the shared directory holding the state root "root", nobody's.
const ownersUnprivEnv = "SMCTL_DOCTOR_OWNERS_UNPRIV_CHILD"

// stranger is a uid that is neither root nor nobody.
const stranger = 4242

func TestOwnersUnpriv(t *testing.T) {
	if shared, ok := testpriv.Child(t, ownersUnprivEnv); ok {
		ownersUnpriv(t, filepath.Join(shared, "root"))
		return
	}
	if os.Geteuid() != 0 {
		testpriv.Need(t, "root (to plant other users' agents and run the test binary as uid 65534)")
	}
	shared := testpriv.SharedDir(t)
	dir := filepath.Join(shared, "root")
	err := stateroot.Init(context.Background(), dir, stateroot.Options{
		Agents:     testAgents,
		Drivers:    all.Registry().New(driver.Env{}),
		Extensions: []vtree.Extension{discover.New()},
		Discover:   "server localhost transport=local\n",
	})
	if err != nil {
		t.Fatal(err)
	}
	// The state root is nobody's, as a user's own; of its agents, one is
	// root's (trusted: root is) and one a stranger's.
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, testpriv.Nobody, testpriv.Nobody)
	})
	if err != nil {
		t.Fatal(err)
	}
	for f, uid := range map[string]int{"server/power.write": 0, "server/uptime.read": stranger} {
		if err := os.Chown(filepath.Join(dir, "agents.d", f), uid, uid); err != nil {
			t.Fatal(err)
		}
	}
	testpriv.AsNobody(t, ownersUnprivEnv, shared)
}

// ownersUnpriv is TestOwnersUnpriv as nobody, over the state root dir.
func ownersUnpriv(t *testing.T, dir string) {
	t.Setenv("HOME", t.TempDir())
	t.Setenv("USER", "nobody")
	got := collect(t, options(dir, knownHosts(t, 1)))
	expect(t, got, dir, 2, 0,
		want{Error, "agents.d/server/uptime.read", "owned by another user, mode 0755 (owner uid 4242: chown nobody ROOT/agents.d/server/uptime.read, or remove it)"},
		want{Error, "agents", "1 of 3 agents cannot run"},
		want{OK, "key file ROOT/key", "private (0600)"},
		want{OK, "nodes", "1 of 1 sampled answered"})
}
