package delegate

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/smctl/smctl/pkg/vtree"
)

// TestMutDelegateRevoke: what revoking /systems/servers, after delegating
// it, does with what plant left in the tree (dir is the backing tree;
// member owns the files a member of the group would leave): check judges
// the result from the snapshots before and after, and what was reported.
func TestMutDelegateRevoke(t *testing.T) {
	g := delegTestGroup(t)
	const member = 65534
	ctx := context.Background()
	must := func(t *testing.T, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// untouched fails unless the entries ps (relative to the backing tree)
	// kept their owner, mode and change time, and no change was reported.
	untouched := func(t *testing.T, before, after delegSnap, cs []Change, ps ...string) {
		t.Helper()
		for _, p := range ps {
			a, b := before[p], after[p]
			if a.Uid != b.Uid || a.Mode != b.Mode || a.Ctim != b.Ctim {
				t.Errorf("%s: touched (uid %d -> %d, mode %o -> %o)", p, a.Uid, b.Uid, a.Mode, b.Mode)
			}
			for _, c := range cs {
				if c.Path == "/"+p && c.Changed() {
					t.Errorf("%s: change reported: %+v", p, c)
				}
			}
		}
	}
	for _, tc := range []struct {
		name  string
		root  bool // needs root: plants files a member owns
		plant func(t *testing.T, dir string)
		check func(t *testing.T, before, after delegSnap, cs []Change)
	}{
		{
			name: "the group's writable file in a directory not given",
			plant: func(t *testing.T, dir string) {
				p := filepath.Join(dir, "systems/servers/power")
				must(t, os.WriteFile(p, nil, 0o600))
				must(t, os.Chown(p, -1, g.GID))
				must(t, os.Chmod(p, 0o664))
			},
			check: func(t *testing.T, before, after delegSnap, cs []Change) {
				untouched(t, before, after, cs, "systems/servers/power")
			},
		},
		{
			name: "the group's writable hidden directory",
			plant: func(t *testing.T, dir string) {
				p := filepath.Join(dir, "systems/servers/n1/.hidden")
				must(t, os.Mkdir(p, 0o700))
				must(t, os.Chown(p, -1, g.GID))
				must(t, os.Chmod(p, 0o775))
			},
			check: func(t *testing.T, before, after delegSnap, cs []Change) {
				untouched(t, before, after, cs, "systems/servers/n1/.hidden")
			},
		},
		{
			name: "an acting file with another hard link",
			plant: func(t *testing.T, dir string) {
				must(t, os.Link(filepath.Join(dir, "systems/servers/n1/reboot"), filepath.Join(dir, "systems/servers/reboot-link")))
			},
			check: func(t *testing.T, before, after delegSnap, cs []Change) {
				if before["systems/servers/n1/reboot"].Mode&0o020 == 0 {
					t.Fatal("n1/reboot was not given to the group")
				}
				untouched(t, before, after, cs, "systems/servers/n1/reboot")
			},
		},
		{
			name: "a member's directory and file",
			root: true,
			plant: func(t *testing.T, dir string) {
				x := filepath.Join(dir, "systems/servers/n1/x")
				must(t, os.Mkdir(x, 0o700))
				must(t, os.Chown(x, member, g.GID))
				must(t, os.Chmod(x, 0o775))
				must(t, os.Chown(filepath.Join(dir, "systems/servers/n1/notes"), member, member))
			},
			check: func(t *testing.T, before, after delegSnap, cs []Change) {
				untouched(t, before, after, cs, "systems/servers/n1/x", "systems/servers/n1/notes")
				strays := map[string]bool{}
				for _, c := range cs {
					if c.Kind == Stray {
						strays[c.Path] = c.Dir
					}
				}
				for p, dir := range map[string]bool{"/systems/servers/n1/x": true, "/systems/servers/n1/notes": false} {
					if d, ok := strays[p]; !ok || d != dir {
						t.Errorf("%s: stray %v (directory %v), want a stray (directory %v)", p, ok, d, dir)
					}
				}
			},
		},
		{
			name: "a member's acting file and symbolic link",
			root: true,
			plant: func(t *testing.T, dir string) {
				p := filepath.Join(dir, "systems/servers/n1/power")
				must(t, os.Chown(p, member, g.GID))
				must(t, os.Chmod(p, 0o460))
				l := filepath.Join(dir, "systems/servers/n1/reboot")
				must(t, os.Remove(l))
				must(t, os.Symlink("/tmp", l))
				must(t, os.Lchown(l, member, g.GID))
			},
			check: func(t *testing.T, before, after delegSnap, cs []Change) {
				link := uint32(vtree.NewFileMode().Perm()) &^ 0o022
				for p, want := range map[string]uint32{"systems/servers/n1/power": 0o440, "systems/servers/n1/reboot": link} {
					if st := after[p]; st.Uid != 0 || st.Mode != unix.S_IFREG|want {
						t.Errorf("%s: uid %d mode %o after revoking, want 0 and %o", p, st.Uid, st.Mode, unix.S_IFREG|want)
					}
				}
				for _, c := range cs {
					if c.Path == "/systems/servers/n1/power" && (c.Kind != Reclaim || c.Mode != 0o440) {
						t.Errorf("power: %+v, want taken back with mode -r--r-----", c)
					}
				}
			},
		},
		{
			name: "a member's directory as an acting file",
			root: true,
			plant: func(t *testing.T, dir string) {
				p := filepath.Join(dir, "systems/servers/n1/command")
				must(t, os.Remove(p))
				must(t, os.Mkdir(p, 0o755))
				must(t, os.Chown(p, member, g.GID))
			},
			check: func(t *testing.T, before, after delegSnap, cs []Change) {
				failed := false
				for _, c := range cs {
					if c.Path == "/systems/servers/n1/command" {
						failed = c.Kind == Reclaim && c.Err != nil
					}
				}
				if !failed {
					t.Errorf("n1/command (a member's directory): no failed reclaim reported")
				}
				for p := range after {
					if _, ok := before[p]; !ok && strings.HasPrefix(p, "systems/servers/n1/") {
						t.Errorf("%s: left behind", p)
					}
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.root && os.Geteuid() != 0 {
				mutNeed(t, "root (to plant files a member owns)")
			}
			tr := delegTree(t, nil)
			if _, err := Apply(ctx, tr, "/systems/servers", g); err != nil {
				t.Fatal(err)
			}
			tc.plant(t, tr.BackingDir())
			before := snapTree(t, tr.BackingDir())
			rg := g
			rg.Revoke = true
			cs, err := Apply(ctx, tr, "/systems/servers", rg)
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, before, snapTree(t, tr.BackingDir()), cs)
			if t.Failed() {
				t.Logf("reported:\n%s", strings.Join(mutDelegKeys(t, tr, cs), "\n"))
			}
		})
	}
}
