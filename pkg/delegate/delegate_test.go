package delegate

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/smctl/smctl/pkg/vtree"
)

// delegTestGroup returns a group the test may give files to: as root, one
// every Debian system has; otherwise a supplementary group of the user.
func delegTestGroup(t *testing.T) Delegation {
	t.Helper()
	if os.Geteuid() == 0 {
		for _, name := range []string{"nogroup", "daemon"} {
			if g, err := user.LookupGroup(name); err == nil {
				id, _ := strconv.Atoi(g.Gid)
				return Delegation{GID: id, Group: name}
			}
		}
		t.Skip("no group nogroup or daemon to delegate to")
	}
	gs, _ := os.Getgroups()
	for _, id := range gs {
		if id != os.Getegid() {
			return Delegation{GID: id}
		}
	}
	t.Skip("not root and no supplementary group to delegate to")
	return Delegation{}
}

// delegTree makes a tree with servers n1 and n2 (power has read and write
// agents, command a built-in write agent, reboot a write agent only), a
// chassis with two blades (bootorder), ids at /systems and in n1, and a
// stored power value in n1 (so that its power and power.status exist).
func delegTree(t *testing.T, agents map[string]string) *vtree.Tree {
	t.Helper()
	all := map[string]string{
		"server/power.read":     `echo on`,
		"server/power.write":    `cat >/dev/null`,
		"server/reboot.write":   `cat >/dev/null`,
		"server/model.read":     `echo x3650`,
		"blade/bootorder.write": `cat >/dev/null`,
	}
	for k, v := range agents {
		all[k] = v
	}
	tr := newTree(t, all, "server n[1-2] transport=local\nchassis mm1 blades=b[1-2]\n")
	ctx := context.Background()
	for p, v := range map[string]string{
		"/systems/servers/n1/power": "on",
		"/systems/ids":              "admin:secret",
		"/systems/servers/n1/ids":   "root:other",
		"/systems/servers/n1/notes": "plain stored file",
	} {
		if _, err := tr.Write(ctx, p, []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	return tr
}

// delegSnap is the mode, group and change time of every entry of the
// backing tree, by path relative to it.
type delegSnap map[string]unix.Stat_t

func snapTree(t *testing.T, dir string) delegSnap {
	t.Helper()
	s := delegSnap{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		r, _ := filepath.Rel(dir, p)
		s[filepath.ToSlash(r)] = st
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// delegActingFiles lists, for the device directories devs (backing paths),
// the files delegation gives: acting files and their status files, and the
// locks that were there before.
func delegActingFiles(devs []string, before delegSnap) map[string]bool {
	acting := map[string][]string{
		"servers": {"command", "power", "reboot"},
		"chassis": {"discover"},
		"blades":  {"bootorder"},
	}
	out := map[string]bool{}
	for _, d := range devs {
		kind := filepath.Base(filepath.Dir(d))
		for _, a := range acting[kind] {
			out[d+"/"+a] = true
			out[d+"/"+a+".status"] = true
		}
		if _, ok := before[d+"/lock"]; ok {
			out[d+"/lock"] = true
		}
	}
	return out
}

// checkDelegated compares the tree after a delegation (or revocation) with
// the snapshot before it: device directories devs and their acting and
// status files are the group's with the bits given (or taken); every other
// entry is exactly as it was, change time included.
func checkDelegated(t *testing.T, before, after delegSnap, devs []string, d Delegation) {
	t.Helper()
	files := delegActingFiles(devs, before)
	for p, st := range after {
		old, existed := before[p]
		isDev := slices.Contains(devs, p)
		if !isDev && !files[p] {
			if !existed {
				t.Errorf("%s: created, but it is neither a delegated device nor one of its acting files", p)
			} else if st.Mode != old.Mode || st.Gid != old.Gid || st.Uid != old.Uid || st.Ctim != old.Ctim {
				t.Errorf("%s: touched (mode %o -> %o, gid %d -> %d)", p, old.Mode, st.Mode, old.Gid, st.Gid)
			}
			continue
		}
		bits := uint32(fileBits)
		if isDev {
			bits = dirBits
		}
		var want uint32
		switch {
		case d.Revoke && !existed:
			t.Errorf("%s: created by a revocation", p)
			continue
		case d.Revoke:
			want = old.Mode &^ groupWrite
		case !existed:
			want = unix.S_IFREG | uint32(vtree.NewFileMode().Perm()) | bits
			if !strings.HasSuffix(p, ".status") && st.Mtim.Sec != 0 {
				t.Errorf("%s: created with mtime %d, want the epoch", p, st.Mtim.Sec)
			}
			if st.Uid != uint32(os.Geteuid()) || st.Size != 0 {
				t.Errorf("%s: created owned by %d with %d bytes, want %d and empty", p, st.Uid, st.Size, os.Geteuid())
			}
		default:
			want = old.Mode | bits
		}
		if st.Mode != want {
			t.Errorf("%s: mode %o, want %o", p, st.Mode, want)
		}
		if int(st.Gid) != d.GID {
			t.Errorf("%s: gid %d, want %d", p, st.Gid, d.GID)
		}
	}
	for p := range files {
		if _, ok := after[p]; !ok && !d.Revoke {
			t.Errorf("%s: missing after delegation", p)
		}
	}
	for _, p := range devs {
		if _, ok := after[p]; !ok {
			t.Errorf("%s: device missing", p)
		}
	}
}

func TestDelegate(t *testing.T) {
	g := delegTestGroup(t)
	ctx := context.Background()
	tests := []struct {
		name      string
		path      string
		devs      []string // device directories given, relative to the backing tree
		lockAbove []string // locks above them the group cannot write
	}{
		{"one server", "/systems/servers/n1", []string{"systems/servers/n1"}, nil},
		{"all servers", "/systems/servers", []string{"systems/servers/localhost", "systems/servers/n1", "systems/servers/n2"}, nil},
		{"chassis and its blades", "/sysman/system/chassis", []string{"systems/chassis/mm1", "systems/chassis/mm1/blades/1", "systems/chassis/mm1/blades/2"}, nil},
		{"blades only", "/systems/chassis/mm1/blades", []string{"systems/chassis/mm1/blades/1", "systems/chassis/mm1/blades/2"}, []string{"/systems/chassis/mm1/lock"}},
		{"a device by a winding path", "/systems/chassis/mm1/blades/1/../../../mm1", []string{"systems/chassis/mm1", "systems/chassis/mm1/blades/1", "systems/chassis/mm1/blades/2"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := delegTree(t, nil)
			dir := tr.BackingDir()
			s0 := snapTree(t, dir)

			cs, err := Apply(ctx, tr, tt.path, g)
			if err != nil {
				t.Fatal(err)
			}
			var lockAbove []string
			for _, c := range cs {
				if c.Err != nil {
					t.Errorf("delegate: %s: %v", c.Path, c.Err)
				}
				if c.Kind == LockAbove {
					lockAbove = append(lockAbove, c.Path)
				}
			}
			if !slices.Equal(lockAbove, tt.lockAbove) {
				t.Errorf("notes of locks above = %q, want %q", lockAbove, tt.lockAbove)
			}
			if _, ok := s0["systems/chassis/mm1/lock"]; !ok {
				t.Fatal("discovery made no chassis lock")
			}
			s1 := snapTree(t, dir)
			checkDelegated(t, s0, s1, tt.devs, g)
			// Every change made is reported, once.
			seen := map[string]bool{}
			for _, c := range cs {
				if !c.Changed() {
					continue
				}
				r := rel(c.Path)
				if !slices.Contains(tt.devs, r) && !delegActingFiles(tt.devs, s0)[r] {
					t.Errorf("reported a change to %s", c.Path)
				}
				k := strconv.Itoa(int(c.Kind)) + r
				if seen[k] {
					t.Errorf("change %v of %s reported twice", c.Kind, c.Path)
				}
				seen[k] = true
			}
			for _, r := range tt.devs {
				if !seen[strconv.Itoa(int(Chmod))+r] && s0[r].Mode&dirBits != dirBits {
					t.Errorf("no chmod reported for %s", r)
				}
			}

			// Again: nothing to change.
			cs, err = Apply(ctx, tr, tt.path, g)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range cs {
				if c.Changed() || c.Err != nil {
					t.Errorf("second delegation: %+v", c)
				}
			}
			if s := snapTree(t, dir); !delegSame(s, s1) {
				t.Errorf("second delegation changed the tree")
			}

			// Revoke, twice.
			rg := g
			rg.Revoke = true
			if _, err := Apply(ctx, tr, tt.path, rg); err != nil {
				t.Fatal(err)
			}
			s2 := snapTree(t, dir)
			checkDelegated(t, s1, s2, tt.devs, rg)
			cs, err = Apply(ctx, tr, tt.path, rg)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range cs {
				if c.Changed() || c.Err != nil {
					t.Errorf("second revocation: %+v", c)
				}
			}
			if s := snapTree(t, dir); !delegSame(s, s2) {
				t.Errorf("second revocation changed the tree")
			}
		})
	}
}

func delegSame(a, b delegSnap) bool {
	if len(a) != len(b) {
		return false
	}
	for p, st := range a {
		o, ok := b[p]
		if !ok || o.Mode != st.Mode || o.Gid != st.Gid || o.Ctim != st.Ctim {
			return false
		}
	}
	return true
}

func TestDelegatePaths(t *testing.T) {
	g := delegTestGroup(t)
	tr := delegTree(t, nil)
	ctx := context.Background()
	tests := []struct {
		path string
		err  error
	}{
		{"/nope", fs.ErrNotExist},
		{"/systems/servers/n9", fs.ErrNotExist},
		{"/systems/servers/n1/address", vtree.ErrNotDir},
		{"/systems/servers/localhost/proc", ErrLive},
		{"/.type", vtree.ErrBadPath},
	}
	for _, tt := range tests {
		_, err := Apply(ctx, tr, tt.path, g)
		var pe *fs.PathError
		if !errors.Is(err, tt.err) || !errors.As(err, &pe) {
			t.Errorf("Apply(%s) = %v, want %v", tt.path, err, tt.err)
		}
	}
	// No devices: a note, and nothing changed.
	if err := os.Mkdir(filepath.Join(tr.BackingDir(), "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	s0 := snapTree(t, tr.BackingDir())
	cs, err := Apply(ctx, tr, "/empty", g)
	if err != nil || len(cs) != 1 || cs[0].Kind != NoDevices || cs[0].Path != "/empty" {
		t.Errorf("Apply(/empty) = %+v, %v; want one NoDevices note", cs, err)
	}
	if !delegSame(s0, snapTree(t, tr.BackingDir())) {
		t.Error("a delegation without devices changed the tree")
	}
}

// TestDelegateAdversarial plants what a member of a delegated group, who
// may rename entries of the device directory, could leave behind for the
// next run: symbolic links and hard links in place of acting files, a
// device whose .type is not the owner's. None of them may lead delegation
// to give away anything else.
func TestDelegateAdversarial(t *testing.T) {
	g := delegTestGroup(t)
	ctx := context.Background()
	tr := delegTree(t, map[string]string{"server/address.write": `cat >/dev/null`})
	dir := tr.BackingDir()
	n1 := filepath.Join(dir, "systems/servers/n1")
	n2 := filepath.Join(dir, "systems/servers/n2")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// n1: power is a symbolic link to the attribute file address, reboot a
	// hard link to transport, command a FIFO.
	must(os.Remove(filepath.Join(n1, "power")))
	must(os.Symlink("address", filepath.Join(n1, "power")))
	must(os.Link(filepath.Join(n1, "transport"), filepath.Join(n1, "reboot")))
	must(unix.Mkfifo(filepath.Join(n1, "command"), 0o644))
	// n2: .type writable by others.
	legacyDevice(t, dir, "systems/servers/n2", "server")
	must(os.Chmod(filepath.Join(n2, ".type"), 0o646))
	// /systems is not searchable by others.
	must(os.Chmod(filepath.Join(dir, "systems"), 0o750))
	// The ids above n2 is readable by the group (its key is not).
	must(os.Chmod(filepath.Join(dir, "systems/ids"), 0o644))

	s0 := snapTree(t, dir)
	cs, err := Apply(ctx, tr, "/systems/servers", g)
	if err != nil {
		t.Fatal(err)
	}
	s1 := snapTree(t, dir)
	for _, p := range []string{
		"systems/servers/n1/address", "systems/servers/n1/power", "systems/servers/n1/transport",
		"systems/servers/n1/reboot", "systems/servers/n1/command",
		"systems/servers/n2", "systems/servers/n2/.type", "systems/servers/n2/address", "systems", "systems/servers",
	} {
		if a, b := s0[p], s1[p]; a.Mode != b.Mode || a.Gid != b.Gid || a.Ctim != b.Ctim {
			t.Errorf("%s: touched (mode %o -> %o, gid %d -> %d)", p, a.Mode, b.Mode, a.Gid, b.Gid)
		}
	}
	if _, ok := s1["systems/servers/n2/power"]; ok {
		t.Error("n2/power created in a device whose .type is not trusted")
	}
	want := map[string]error{
		"/systems/servers/n1/power":   ErrLink,
		"/systems/servers/n1/reboot":  ErrLinked,
		"/systems/servers/n1/command": ErrSpecial,
	}
	notes := map[Kind][]string{}
	for _, c := range cs {
		if c.Kind == Skip {
			if w, ok := want[c.Path]; !ok || !errors.Is(c.Err, w) {
				t.Errorf("skipped %s: %v", c.Path, c.Err)
			}
			delete(want, c.Path)
		}
		if c.Note() {
			notes[c.Kind] = append(notes[c.Kind], c.Path)
		}
		if c.Kind == UntrustedType && c.Marker != c.Path+"/"+vtree.TypeFile {
			t.Errorf("%s noted with marker %q, want its .type", c.Path, c.Marker)
		}
	}
	for p, w := range want {
		t.Errorf("%s: not reported as %v", p, w)
	}
	if !slices.Contains(notes[UntrustedType], "/systems/servers/n2") {
		t.Errorf("no note of n2's untrusted .type: %v", notes)
	}
	if !slices.Contains(notes[AttrAgent], "/systems/servers/localhost/address") {
		t.Errorf("no note of the attribute with a write agent: %v", notes)
	}
	if !slices.Contains(notes[Unreachable], "/systems") {
		t.Errorf("no note that /systems is not searchable: %v", notes)
	}
	if len(notes[KeyUnreadable]) != 1 {
		t.Errorf("no note of the key file (0600) the group cannot read: %v", notes)
	}
	// n1's directory and its one sound acting file were still delegated.
	if st := s1["systems/servers/n1"]; int(st.Gid) != g.GID || st.Mode&dirBits != dirBits {
		t.Errorf("n1: mode %o gid %d", st.Mode, st.Gid)
	}
	if st := s1["systems/servers/n1/power.status"]; int(st.Gid) != g.GID || st.Mode&fileBits != fileBits {
		t.Errorf("n1/power.status: mode %o gid %d", st.Mode, st.Gid)
	}
}

// legacyDevice makes the device at the backing path dev (in dir) one that
// its parent's device index does not name and whose own .type says typ,
// as devices made by hand are.
func legacyDevice(t *testing.T, dir, dev, typ string) {
	t.Helper()
	index := filepath.Join(dir, filepath.Dir(dev), vtree.IndexFile)
	b, err := os.ReadFile(index)
	if err != nil {
		t.Fatal(err)
	}
	var keep []string
	for _, l := range strings.SplitAfter(string(b), "\n") {
		if !strings.HasPrefix(l, filepath.Base(dev)+" ") {
			keep = append(keep, l)
		}
	}
	if err := os.WriteFile(index, []byte(strings.Join(keep, "")), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, dev, vtree.TypeFile), []byte(typ+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// A device index that is not trusted (writable by others) types nothing:
// the devices it names are noted, as under a .type not to be trusted, and
// left alone; one the parent's index names is a device whatever its own
// .type says. Also from the directory itself (p a device).
func TestDelegateIndexTrust(t *testing.T) {
	g := delegTestGroup(t)
	ctx := context.Background()
	tr := delegTree(t, nil)
	dir := tr.BackingDir()
	index := filepath.Join(dir, "systems/servers", vtree.IndexFile)
	// A stray .type in an indexed device says nothing.
	if err := os.WriteFile(filepath.Join(dir, "systems/servers/n2", vtree.TypeFile), []byte("chassis\n"), 0o666); err != nil {
		t.Fatal(err)
	}
	cs, err := Apply(ctx, tr, "/systems/servers/n2", g)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if c.Kind == UntrustedType || c.Kind == NoDevices {
			t.Fatalf("indexed n2 with a stray .type: %+v", c)
		}
	}
	b, err := os.ReadFile(index)
	if err != nil {
		t.Fatal(err)
	}
	for _, untrust := range []struct {
		how  string
		make func() error
	}{
		{"writable by others", func() error { return os.Chmod(index, 0o646) }},
		{"a hard link", func() error {
			other := filepath.Join(dir, "index-copy")
			os.Remove(index)
			if err := os.WriteFile(other, b, 0o644); err != nil {
				return err
			}
			return os.Link(other, index)
		}},
	} {
		if err := untrust.make(); err != nil {
			t.Fatal(err)
		}
		testUntrustedIndex(t, tr, g, dir, untrust.how)
	}
}

func testUntrustedIndex(t *testing.T, tr *vtree.Tree, g Delegation, dir, how string) {
	t.Helper()
	ctx := context.Background()
	for _, p := range []string{"/systems/servers", "/systems/servers/n1"} {
		s0 := snapTree(t, dir)
		cs, err := Apply(ctx, tr, p, g)
		if err != nil {
			t.Fatal(err)
		}
		var notes []string
		for _, c := range cs {
			if c.Kind == UntrustedType {
				notes = append(notes, c.Path)
				if c.Marker != "/systems/servers/"+vtree.IndexFile {
					t.Errorf("Apply(%s): %s noted with marker %q, want the index", p, c.Path, c.Marker)
				}
			}
		}
		if !slices.Contains(notes, "/systems/servers/n1") {
			t.Errorf("Apply(%s) under an index that is %s: notes %v, want n1 among them (%+v)", p, how, notes, cs)
		}
		if a, b := s0["systems/servers/n1"], snapTree(t, dir)["systems/servers/n1"]; a.Mode != b.Mode || a.Gid != b.Gid {
			t.Errorf("Apply(%s): n1 touched under an index that is %s", p, how)
		}
	}
}
