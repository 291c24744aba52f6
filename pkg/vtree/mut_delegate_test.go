package vtree

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestMutDelegateChangeKinds: only changes made without error count as
// changed; notes are notes, changes and skips are not.
func TestMutDelegateChangeKinds(t *testing.T) {
	failed := errors.New("failed")
	for _, tc := range []struct {
		c             DelegateChange
		changed, note bool
	}{
		{DelegateChange{Kind: DelegateCreate}, true, false},
		{DelegateChange{Kind: DelegateChgrp}, true, false},
		{DelegateChange{Kind: DelegateChmod}, true, false},
		{DelegateChange{Kind: DelegateReclaim}, true, false},
		{DelegateChange{Kind: DelegateChmod, Err: failed}, false, false},
		{DelegateChange{Kind: DelegateCreate, Err: failed}, false, false},
		{DelegateChange{Kind: DelegateSkip, Err: failed}, false, false},
		{DelegateChange{Kind: DelegateUnreachable}, false, true},
		{DelegateChange{Kind: DelegateNoDevices}, false, true},
		{DelegateChange{Kind: DelegateStray}, false, true},
	} {
		if got := tc.c.Changed(); got != tc.changed {
			t.Errorf("%+v: Changed() = %v, want %v", tc.c, got, tc.changed)
		}
		if got := tc.c.Note(); got != tc.note {
			t.Errorf("%+v: Note() = %v, want %v", tc.c, got, tc.note)
		}
	}
}

// TestMutDelegTrusted: a file that decides what smctl does is trusted when
// root or the running user owns it and neither group nor others may write
// it.
func TestMutDelegTrusted(t *testing.T) {
	for _, tc := range []struct {
		name      string
		uid, euid int
		mode      uint32
		want      bool
	}{
		{"root's, run by another user", 0, 1000, 0o644, true},
		{"the user's", 1000, 1000, 0o644, true},
		{"root's, run by root", 0, 0, 0o600, true},
		{"another user's", 5, 1000, 0o644, false},
		{"another user's, run by root", 5, 0, 0o644, false},
		{"group-writable", 0, 1000, 0o664, false},
		{"other-writable", 1000, 1000, 0o646, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := unix.Stat_t{Uid: uint32(tc.uid), Mode: unix.S_IFREG | tc.mode}
			if got := delegTrusted(&st, tc.euid); got != tc.want {
				t.Errorf("delegTrusted(uid %d mode %o, euid %d) = %v, want %v", tc.uid, tc.mode, tc.euid, got, tc.want)
			}
		})
	}
}

// TestMutDelegModeOf: the modes Delegate reports carry the file's type and
// its setuid, setgid and sticky bits.
func TestMutDelegModeOf(t *testing.T) {
	for _, tc := range []struct {
		typ, perm uint32
		want      fs.FileMode
	}{
		{unix.S_IFREG, 0o644, 0o644},
		{unix.S_IFDIR, 0o1775, fs.ModeDir | fs.ModeSticky | 0o775},
		{unix.S_IFDIR, 0o2770, fs.ModeDir | fs.ModeSetgid | 0o770},
		{unix.S_IFREG, 0o4755, fs.ModeSetuid | 0o755},
		{unix.S_IFLNK, 0o777, fs.ModeSymlink | 0o777},
		{unix.S_IFIFO, 0o600, fs.ModeNamedPipe | 0o600},
	} {
		if got := delegModeOf(tc.typ, tc.perm); got != tc.want {
			t.Errorf("delegModeOf(%o, %o) = %v, want %v", tc.typ, tc.perm, got, tc.want)
		}
	}
}

// mutDelegKinds names the kinds of DelegateChange in the tests below.
var mutDelegKinds = map[DelegateKind]string{
	DelegateCreate: "create", DelegateChgrp: "chgrp", DelegateChmod: "chmod", DelegateSkip: "skip",
	DelegateReclaim: "reclaim", DelegateUnreachable: "unreachable", DelegateUntrustedType: "untrusted-type",
	DelegateAttrAgent: "attr-agent", DelegateKeyUnreadable: "key-unreadable", DelegateNoDevices: "no-devices",
	DelegateLockAbove: "lock-above", DelegateStray: "stray",
}

// mutDelegKeys lists what Delegate reported as "kind path": the virtual
// path, or for files outside the tree (the directories above it, the key
// file) their path relative to the backing tree.
func mutDelegKeys(t *testing.T, tr *Tree, cs []DelegateChange) []string {
	t.Helper()
	var out []string
	for _, c := range cs {
		p := c.Path
		if p == "" {
			r, err := filepath.Rel(tr.store.dir, c.File)
			if err != nil {
				t.Fatal(err)
			}
			p = r
		}
		out = append(out, mutDelegKinds[c.Kind]+" "+p)
	}
	return out
}

// TestMutDelegateWalk: what Delegate reports (changes and notes) for trees
// prepared by setup (dir is the backing tree): which directories it walks,
// which it notes the group cannot reach, and when it says a key, lock or
// attribute is the owner's.
func TestMutDelegateWalk(t *testing.T) {
	g := delegTestGroup(t)
	ctx := context.Background()
	mkdev := func(dir, typ string) func(t *testing.T) {
		return func(t *testing.T) {
			t.Helper()
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, typeFile), []byte(typ+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	chmod := func(p string, mode os.FileMode) func(t *testing.T) {
		return func(t *testing.T) {
			t.Helper()
			if err := os.Chmod(p, mode); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, tc := range []struct {
		name   string
		agents map[string]string
		setup  func(dir string) []func(t *testing.T)
		path   string
		want   []string // reported, as "kind path" (see mutDelegKeys)
		not    []string // not reported
	}{
		{
			name: "a directory above the backing tree the group cannot search",
			setup: func(dir string) []func(t *testing.T) {
				// dir is .../001/root/tree.
				return []func(t *testing.T){chmod(filepath.Dir(dir), 0o755), chmod(filepath.Dir(filepath.Dir(dir)), 0o750)}
			},
			path: "/systems/servers/n1",
			want: []string{"unreachable ../.."},
			not:  []string{"unreachable .."},
		},
		{
			name: "a directory above the second device the group cannot search",
			setup: func(dir string) []func(t *testing.T) {
				return []func(t *testing.T){chmod(filepath.Join(dir, "systems/servers"), 0o750)}
			},
			path: "/systems",
			want: []string{"unreachable /systems/servers", "chmod /systems/chassis/mm1", "chmod /systems/servers/n1"},
			not:  []string{"unreachable /systems", "unreachable /systems/chassis"},
		},
		{
			name: "a lock above that the group may write",
			setup: func(dir string) []func(t *testing.T) {
				return []func(t *testing.T){chmod(filepath.Join(dir, "systems/chassis/mm1/lock"), 0o666)}
			},
			path: "/systems/chassis/mm1/blades",
			want: []string{"chmod /systems/chassis/mm1/blades/1"},
			not:  []string{"lock-above /systems/chassis/mm1/lock"},
		},
		{
			name: "ids the group cannot read",
			setup: func(dir string) []func(t *testing.T) {
				return []func(t *testing.T){chmod(filepath.Join(dir, "systems/ids"), 0o600), chmod(filepath.Join(dir, "systems/servers/n1/ids"), 0o600)}
			},
			path: "/systems/servers",
			not:  []string{"key-unreadable ../key"},
		},
		{
			name: "ids and key the group may read",
			setup: func(dir string) []func(t *testing.T) {
				return []func(t *testing.T){chmod(filepath.Join(dir, "systems/ids"), 0o644), chmod(filepath.Join(dir, "systems/servers/n1/ids"), 0o644),
					chmod(filepath.Join(filepath.Dir(dir), "key"), 0o644)}
			},
			path: "/systems/servers",
			not:  []string{"key-unreadable ../key"},
		},
		{
			name: "ids the group may read, and a key it may not",
			setup: func(dir string) []func(t *testing.T) {
				return []func(t *testing.T){chmod(filepath.Join(dir, "systems/ids"), 0o644), chmod(filepath.Join(filepath.Dir(dir), "key"), 0o600)}
			},
			path: "/systems/servers",
			want: []string{"key-unreadable ../key"},
		},
		{
			name:   "an attribute with a write agent, noted once for its type",
			agents: map[string]string{"server/address.write": `cat >/dev/null`},
			path:   "/systems/servers",
			want:   []string{"attr-agent /systems/servers/localhost/address"},
			not:    []string{"attr-agent /systems/servers/n1/address", "attr-agent /systems/servers/n2/address"},
		},
		{
			name: "a FIFO as .type is no device, whatever it reads",
			setup: func(dir string) []func(t *testing.T) {
				d := filepath.Join(dir, "systems/fifo")
				return []func(t *testing.T){func(t *testing.T) {
					if err := os.Mkdir(d, 0o755); err != nil {
						t.Fatal(err)
					}
					p := filepath.Join(d, typeFile)
					if err := unix.Mkfifo(p, 0o644); err != nil {
						t.Fatal(err)
					}
					if err := os.Chmod(p, 0o644); err != nil {
						t.Fatal(err)
					}
					// A writer with a type waiting in the pipe.
					f, err := os.OpenFile(p, os.O_RDWR, 0)
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { f.Close() })
					if _, err := f.WriteString("blade\n"); err != nil {
						t.Fatal(err)
					}
				}}
			},
			path: "/systems",
			want: []string{"chmod /systems/servers/n1"},
			not:  []string{"chmod /systems/fifo", "chgrp /systems/fifo", "create /systems/fifo/bootorder"},
		},
		{
			name: "devices under a directory named like a live one",
			setup: func(dir string) []func(t *testing.T) {
				return []func(t *testing.T){mkdev(filepath.Join(dir, "systems/proc/b1"), "blade")}
			},
			path: "/systems",
			want: []string{"chmod /systems/proc/b1", "create /systems/proc/b1/bootorder"},
		},
		{
			name: "a live device's live directory is not walked",
			setup: func(dir string) []func(t *testing.T) {
				return []func(t *testing.T){mkdev(filepath.Join(dir, "systems/servers/n1/proc/b1"), "blade"),
					mkdev(filepath.Join(dir, "systems/chassis/mm1/proc/b2"), "blade")}
			},
			path: "/systems",
			want: []string{"chmod /systems/servers/n1", "chmod /systems/chassis/mm1/proc/b2"},
			not:  []string{"chmod /systems/servers/n1/proc/b1", "create /systems/servers/n1/proc/b1/bootorder"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := delegTree(t, tc.agents)
			if tc.setup != nil {
				for _, f := range tc.setup(tr.store.dir) {
					f(t)
				}
			}
			cs, err := tr.Delegate(ctx, tc.path, g)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range cs {
				if c.Err != nil {
					t.Errorf("%s: %v", c.Path, c.Err)
				}
			}
			got := mutDelegKeys(t, tr, cs)
			for _, w := range tc.want {
				if !slices.Contains(got, w) {
					t.Errorf("%q not reported", w)
				}
			}
			for _, n := range tc.not {
				if slices.Contains(got, n) {
					t.Errorf("%q reported", n)
				}
			}
			if t.Failed() {
				t.Logf("reported:\n%s", strings.Join(got, "\n"))
			}
		})
	}
}

// TestMutDelegateSetuid: chgrp clears the set-user-ID bit of a file; the
// bits delegation then adds are added to the mode the file has after it,
// so that the bit does not come back on a file the group may now write.
func TestMutDelegateSetuid(t *testing.T) {
	g := delegTestGroup(t)
	tr := delegTree(t, nil)
	p := filepath.Join(tr.store.dir, "systems/servers/n1/power")
	if err := unix.Chmod(p, 0o4700); err != nil {
		t.Fatal(err)
	}
	cs, err := tr.Delegate(context.Background(), "/systems/servers/n1", g)
	if err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Stat(p, &st); err != nil {
		t.Fatal(err)
	}
	if st.Mode&0o7777 != 0o760 || int(st.Gid) != g.GID {
		t.Errorf("power: mode %o gid %d after delegating, want 760 and %d", st.Mode&0o7777, st.Gid, g.GID)
	}
	for _, c := range cs {
		if c.Path == "/systems/servers/n1/power" && c.Kind == DelegateChmod && (c.OldMode != 0o700 || c.Mode != 0o760) {
			t.Errorf("power: chmod reported from %v to %v, want from -rwx------ to -rwxrw----", c.OldMode, c.Mode)
		}
	}
}

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
	untouched := func(t *testing.T, before, after delegSnap, cs []DelegateChange, ps ...string) {
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
		check func(t *testing.T, before, after delegSnap, cs []DelegateChange)
	}{
		{
			name: "the group's writable file in a directory not given",
			plant: func(t *testing.T, dir string) {
				p := filepath.Join(dir, "systems/servers/power")
				must(t, os.WriteFile(p, nil, 0o600))
				must(t, os.Chown(p, -1, g.GID))
				must(t, os.Chmod(p, 0o664))
			},
			check: func(t *testing.T, before, after delegSnap, cs []DelegateChange) {
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
			check: func(t *testing.T, before, after delegSnap, cs []DelegateChange) {
				untouched(t, before, after, cs, "systems/servers/n1/.hidden")
			},
		},
		{
			name: "an acting file with another hard link",
			plant: func(t *testing.T, dir string) {
				must(t, os.Link(filepath.Join(dir, "systems/servers/n1/reboot"), filepath.Join(dir, "systems/servers/reboot-link")))
			},
			check: func(t *testing.T, before, after delegSnap, cs []DelegateChange) {
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
			check: func(t *testing.T, before, after delegSnap, cs []DelegateChange) {
				untouched(t, before, after, cs, "systems/servers/n1/x", "systems/servers/n1/notes")
				strays := map[string]bool{}
				for _, c := range cs {
					if c.Kind == DelegateStray {
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
			check: func(t *testing.T, before, after delegSnap, cs []DelegateChange) {
				link := uint32(newFileMode.Perm()) &^ 0o022
				for p, want := range map[string]uint32{"systems/servers/n1/power": 0o440, "systems/servers/n1/reboot": link} {
					if st := after[p]; st.Uid != 0 || st.Mode != unix.S_IFREG|want {
						t.Errorf("%s: uid %d mode %o after revoking, want 0 and %o", p, st.Uid, st.Mode, unix.S_IFREG|want)
					}
				}
				for _, c := range cs {
					if c.Path == "/systems/servers/n1/power" && (c.Kind != DelegateReclaim || c.Mode != 0o440) {
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
			check: func(t *testing.T, before, after delegSnap, cs []DelegateChange) {
				failed := false
				for _, c := range cs {
					if c.Path == "/systems/servers/n1/command" {
						failed = c.Kind == DelegateReclaim && c.Err != nil
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
			if _, err := tr.Delegate(ctx, "/systems/servers", g); err != nil {
				t.Fatal(err)
			}
			tc.plant(t, tr.store.dir)
			before := snapTree(t, tr.store.dir)
			rg := g
			rg.Revoke = true
			cs, err := tr.Delegate(ctx, "/systems/servers", rg)
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, before, snapTree(t, tr.store.dir), cs)
			if t.Failed() {
				t.Logf("reported:\n%s", strings.Join(mutDelegKeys(t, tr, cs), "\n"))
			}
		})
	}
}
