package delegate

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

	"github.com/smctl/smctl/pkg/vtree"
)

// TestMutDelegateChangeKinds: only changes made without error count as
// changed; notes are notes, changes and skips are not.
func TestMutDelegateChangeKinds(t *testing.T) {
	failed := errors.New("failed")
	for _, tc := range []struct {
		c             Change
		changed, note bool
	}{
		{Change{Kind: Create}, true, false},
		{Change{Kind: Chgrp}, true, false},
		{Change{Kind: Chmod}, true, false},
		{Change{Kind: Reclaim}, true, false},
		{Change{Kind: Chmod, Err: failed}, false, false},
		{Change{Kind: Create, Err: failed}, false, false},
		{Change{Kind: Skip, Err: failed}, false, false},
		{Change{Kind: Unreachable}, false, true},
		{Change{Kind: NoDevices}, false, true},
		{Change{Kind: Stray}, false, true},
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
			if got := trusted(&st, tc.euid); got != tc.want {
				t.Errorf("trusted(uid %d mode %o, euid %d) = %v, want %v", tc.uid, tc.mode, tc.euid, got, tc.want)
			}
		})
	}
}

// TestMutDelegModeOf: the modes Apply reports carry the file's type and
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
		if got := modeOf(tc.typ, tc.perm); got != tc.want {
			t.Errorf("modeOf(%o, %o) = %v, want %v", tc.typ, tc.perm, got, tc.want)
		}
	}
}

// mutDelegKinds names the kinds of Change in the tests below.
var mutDelegKinds = map[Kind]string{
	Create: "create", Chgrp: "chgrp", Chmod: "chmod", Skip: "skip",
	Reclaim: "reclaim", Unreachable: "unreachable", UntrustedType: "untrusted-type",
	AttrAgent: "attr-agent", KeyUnreadable: "key-unreadable", NoDevices: "no-devices",
	LockAbove: "lock-above", Stray: "stray",
}

// mutDelegKeys lists what Apply reported as "kind path": the virtual
// path, or for files outside the tree (the directories above it, the key
// file) their path relative to the backing tree.
func mutDelegKeys(t *testing.T, tr *vtree.Tree, cs []Change) []string {
	t.Helper()
	var out []string
	for _, c := range cs {
		p := c.Path
		if p == "" {
			r, err := filepath.Rel(tr.BackingDir(), c.File)
			if err != nil {
				t.Fatal(err)
			}
			p = r
		}
		out = append(out, mutDelegKinds[c.Kind]+" "+p)
	}
	return out
}

// TestMutDelegateWalk: what Apply reports (changes and notes) for trees
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
			if err := os.WriteFile(filepath.Join(dir, vtree.TypeFile), []byte(typ+"\n"), 0o644); err != nil {
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
					p := filepath.Join(d, vtree.TypeFile)
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
				for _, f := range tc.setup(tr.BackingDir()) {
					f(t)
				}
			}
			cs, err := Apply(ctx, tr, tc.path, g)
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
	p := filepath.Join(tr.BackingDir(), "systems/servers/n1/power")
	if err := unix.Chmod(p, 0o4700); err != nil {
		t.Fatal(err)
	}
	cs, err := Apply(context.Background(), tr, "/systems/servers/n1", g)
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
		if c.Path == "/systems/servers/n1/power" && c.Kind == Chmod && (c.OldMode != 0o700 || c.Mode != 0o760) {
			t.Errorf("power: chmod reported from %v to %v, want from -rwx------ to -rwxrw----", c.OldMode, c.Mode)
		}
	}
}
