package vtree

import (
	"context"
	"errors"
	"github.com/smctl/smctl/pkg/vtree/store"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/smctl/smctl/pkg/agent"
	"github.com/smctl/smctl/pkg/config"
	"github.com/smctl/smctl/pkg/trust"
)

// mtAgent writes the executable shell agent dir/rel.
func mtAgent(t *testing.T, dir, rel, body string) {
	t.Helper()
	p := filepath.Join(dir, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
}

// mtRead reads the file p through tr: its content, "" on error.
func mtRead(tr *Tree, p string) (string, error) {
	res, err := tr.Read(context.Background(), p, ReadOptions{})
	if err != nil {
		return "", err
	}
	return string(res.Content), nil
}

// mtReopen opens the state root of tr again, as the next command would:
// nothing is cached.
func mtReopen(t *testing.T, tr *Tree) *Tree {
	t.Helper()
	tr2, err := Open(tr.Root, testOptions(Options{}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr2.Close() })
	return tr2
}

// TestMutTreeOpenOwner: Open trusts the owner of the state root, so a
// root owned by another user (a delegated member works in its owner's
// tree) opens, its smctl.yaml owned by that user.
func TestMutTreeOpenOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give the state root to another user")
	}
	tr := newTree(t, nil, "")
	t.Cleanup(func() { trust.TrustOwner(-1) })
	const owner = 4242
	for _, p := range []string{tr.Root, filepath.Join(tr.Root, config.FileName)} {
		if err := os.Chown(p, owner, owner); err != nil {
			t.Fatal(err)
		}
	}
	tr2, err := Open(tr.Root, testOptions(Options{}))
	if err != nil {
		t.Fatalf("Open of a state root owned by uid %d: %v", owner, err)
	}
	tr2.Close()
}

// TestMutTreeClose: Close reports the error of closing a driver.
func TestMutTreeClose(t *testing.T) {
	tr := newTree(t, nil, "")
	boom := errors.New("closing clients failed")
	tr2, err := Open(tr.Root, Options{Drivers: testDrivers(closeFails{boom})})
	if err != nil {
		t.Fatal(err)
	}
	if err := tr2.Close(); !errors.Is(err, boom) {
		t.Errorf("Close = %v, want the driver's error", err)
	}
}

// TestMutTreeAgentLookup: agents are looked up in every agent directory in
// order (one without the type's directory is passed over) and the first
// directory listing a name wins; directories, hidden files and names that
// are not NAME.read or NAME.write are no agents, and nothing takes over
// ids, lock or NAME.status.
func TestMutTreeAgentLookup(t *testing.T) {
	ext := t.TempDir()
	none, first := filepath.Join(ext, "none"), filepath.Join(ext, "first")
	if err := os.Mkdir(none, 0o755); err != nil {
		t.Fatal(err)
	}
	mtAgent(t, first, "server/.hidden", "echo hidden")
	if err := os.MkdirAll(filepath.Join(first, "server/adir.read"), 0o755); err != nil {
		t.Fatal(err)
	}
	mtAgent(t, first, "server/power.read", "echo first")
	mtAgent(t, first, "server/notes.txt", "echo notes")
	for _, name := range []string{"ids", "lock", "x.status"} {
		mtAgent(t, first, "server/"+name+".read", "echo taken over")
	}
	tr := newTree(t, map[string]string{
		"server/power.read": "echo second",
		"server/fan.read":   "echo fan",
	}, "", [2]string{"agent_dirs:\n  - agents.d\n", "agent_dirs:\n  - " + none + "\n  - " + first + "\n  - agents.d\n"})
	ctx := context.Background()
	for p, want := range map[string]string{
		"/systems/servers/localhost/power": "first\n",
		"/systems/servers/localhost/fan":   "fan\n",
	} {
		if got, err := mtRead(tr, p); err != nil || got != want {
			t.Errorf("read %s = %q, %v; want %q", p, got, err, want)
		}
	}
	for _, name := range []string{"adir", "notes.txt", "notes", "ids", "lock", "x.status"} {
		p := "/systems/servers/localhost/" + name
		if _, err := tr.Stat(ctx, p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("stat %s = %v, want ErrNotExist (no agent)", p, err)
		}
	}
}

// TestMutTreeAgentDirTrust: an agent directory that others may change makes
// its agents refuse to run; inside the state root so does every directory
// from the root down to it, outside it only the directory itself counts.
func TestMutTreeAgentDirTrust(t *testing.T) {
	for _, tc := range []struct {
		name    string
		open    string // the directory made writable by all, from the root
		outside bool   // the agent directory is outside the state root
		ok      bool
	}{
		{name: "trusted", ok: true},
		{name: "type directory", open: "agents.d/server"},
		{name: "agent directory", open: "agents.d"},
		{name: "state root", open: "."},
		{name: "outside, open parent", outside: true, ok: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var edits [][2]string
			ext := filepath.Join(t.TempDir(), "parent")
			if tc.outside {
				mtAgent(t, ext, "agents/server/power.read", "echo on")
				if err := os.Chmod(ext, 0o777); err != nil {
					t.Fatal(err)
				}
				edits = append(edits, [2]string{"agent_dirs:\n  - agents.d\n", "agent_dirs:\n  - " + filepath.Join(ext, "agents") + "\n"})
			}
			tr := newTree(t, map[string]string{"server/power.read": "echo on"}, "", edits...)
			if tc.open != "" {
				if err := os.Chmod(filepath.Join(tr.Root, tc.open), 0o777); err != nil {
					t.Fatal(err)
				}
			}
			got, err := mtRead(mtReopen(t, tr), "/systems/servers/localhost/power")
			if tc.ok {
				if err != nil || got != "on\n" {
					t.Errorf("read = %q, %v; want the agent's output", got, err)
				}
				return
			}
			if RC(err) != agent.RCUntrusted || !strings.Contains(err.Error(), "agent directory") {
				t.Errorf("read with %s writable by all: %v, want refused (rc %d)", tc.open, err, agent.RCUntrusted)
			}
		})
	}
}

// TestMutTreeDirTrust: a device refuses to run agents when its directory,
// or one above it in the backing tree, may be changed by others.
func TestMutTreeDirTrust(t *testing.T) {
	for _, tc := range []struct {
		open string // backing directory made writable by all ("": none)
		ok   bool
	}{
		{"", true},
		{"systems/servers/localhost", false},
		{"systems", false},
	} {
		t.Run("open /"+tc.open, func(t *testing.T) {
			tr := newTree(t, map[string]string{"server/power.read": "echo on"}, "")
			if tc.open != "" {
				if err := os.Chmod(filepath.Join(tr.store.Dir(), tc.open), 0o777); err != nil {
					t.Fatal(err)
				}
			}
			got, err := mtRead(mtReopen(t, tr), "/systems/servers/localhost/power")
			if tc.ok {
				if err != nil || got != "on\n" {
					t.Errorf("read = %q, %v", got, err)
				}
				return
			}
			if RC(err) != agent.RCUntrusted || !strings.Contains(err.Error(), "/"+tc.open) {
				t.Errorf("read with /%s writable by all: %v, want refused naming it", tc.open, err)
			}
		})
	}
}

// TestMutTreeTypeNames: a type marker counts only when it names a declared
// type whose name is plain ([a-z0-9_-]+), even if smctl.yaml (or a caller
// changing Config) declares others.
func TestMutTreeTypeNames(t *testing.T) {
	tr := newTree(t, nil, "server n1 transport=local")
	dev := "systems/servers/n1"
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"a", true}, {"z", true}, {"0", true}, {"9", true}, {"_", true}, {"-", true},
		{"blade-2_x9", true},
		{"A", false}, {"Z", false}, {"`", false}, {"{", false}, {"/", false}, {":", false},
		{"@", false}, {"[", false}, {"^", false}, {".", false}, {",", false}, {"~", false},
		{"ab/c", false}, {"a.b", false}, {"a:b", false}, {"né", false}, {"Server", false},
	} {
		tr.Config.Types[tc.name] = config.Type{Dir: "/systems/servers"}
		setMarker(t, tr, dev, tc.name+"\n", strings.ContainsAny(tc.name, "-_"))
		typ, err := tr.typeInfoOf(dev)
		delete(tr.Config.Types, tc.name)
		if tc.ok {
			if err != nil || typ != tc.name {
				t.Errorf("declared type %q: %q, %v; want accepted", tc.name, typ, err)
			}
			continue
		}
		if !errors.Is(err, ErrBadType) {
			t.Errorf("declared type %q: %q, %v; want ErrBadType", tc.name, typ, err)
		}
	}
}

// TestMutTreeTypeQuoted: the error for a bad marker quotes up to 40 bytes of
// it, marking a cut with "...".
func TestMutTreeTypeQuoted(t *testing.T) {
	tr := newTree(t, nil, "server n1 transport=local")
	dev := "systems/servers/n1"
	for _, tc := range []struct{ content, quoted string }{
		{strings.Repeat("x", 39), strings.Repeat("x", 39)},
		{strings.Repeat("x", 40), strings.Repeat("x", 40)},
		{strings.Repeat("x", 41), strings.Repeat("x", 40) + "..."},
	} {
		setMarker(t, tr, dev, tc.content, len(tc.content) == 40)
		_, err := tr.typeInfoOf(dev)
		if err == nil || !strings.Contains(err.Error(), ": "+strconv.Quote(tc.quoted)+": ") {
			t.Errorf("marker of %d bytes: %v, want it quoted as %q", len(tc.content), err, tc.quoted)
		}
	}
}

// TestMutTreeDeviceAttrs: a device's attributes are read once per command,
// and adding it again with new attributes (AddDevice, as discovery does)
// makes the next run see the new ones; Host is the address, else the
// device's name.
func TestMutTreeDeviceAttrs(t *testing.T) {
	tr := newTree(t, map[string]string{"server/host.read": `echo "$SMCTL_HOST"`}, "")
	if err := tr.MakeDirs("/systems/servers"); err != nil {
		t.Fatal(err)
	}
	for _, addr := range []string{"10.0.0.1", "10.0.0.2"} {
		if _, err := tr.AddDevice("/systems/servers/n1", "server", map[string]string{"transport": "local", "address": addr}); err != nil {
			t.Fatal(err)
		}
		got, err := mtRead(tr, "/systems/servers/n1/host")
		if err != nil || got != addr+"\n" {
			t.Errorf("host after discovery with address %s = %q, %v", addr, got, err)
		}
	}
	for _, tc := range []struct {
		dev  Device
		want string
	}{
		{Device{Path: "/systems/servers/n1", Attrs: map[string]string{"address": "10.0.0.1"}}, "10.0.0.1"},
		{Device{Path: "/systems/servers/n1", Attrs: map[string]string{"address": ""}}, "n1"},
		{Device{Path: "/systems/servers/n2"}, "n2"},
	} {
		if got := tc.dev.Host(); got != tc.want {
			t.Errorf("Host of %s %v = %q, want %q", tc.dev.Path, tc.dev.Attrs, got, tc.want)
		}
	}
}

// TestMutTreeResolve: agents apply to the files directly inside the root
// and devices only, never in plain directories (above or inside a device);
// live directories appear in devices of live types only; a device whose
// marker is not trusted refuses to act.
func TestMutTreeResolve(t *testing.T) {
	tr := newTree(t, map[string]string{"chassis/temperature.read": "echo 31"},
		"chassis mm1 blades=b[1-2]\nserver n1 transport=local\n")
	ctx := context.Background()
	for _, tc := range []struct {
		path string
		ok   bool
	}{
		{"/discover_master", true},
		{"/systems/discover_master", false},
		{"/systems/chassis/mm1/temperature", true},
		{"/systems/chassis/mm1/blades/temperature", false},
		{"/systems/servers/n1/proc", true},
		{"/systems/chassis/mm1/proc", false},
		{"/systems/chassis/mm1/blades/1/proc", false},
	} {
		_, err := tr.Stat(ctx, tc.path)
		if tc.ok && err != nil {
			t.Errorf("stat %s: %v", tc.path, err)
		}
		if !tc.ok && !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("stat %s = %v, want ErrNotExist", tc.path, err)
		}
	}
	// An untrusted marker, index or own: the device refuses even its
	// stored files.
	for _, marker := range []string{"systems/servers/" + store.IndexName, "systems/servers/n1/" + typeFile} {
		if strings.HasSuffix(marker, typeFile) {
			setMarker(t, tr, "systems/servers/n1", "server\n", true)
		}
		if err := os.Chmod(filepath.Join(tr.store.Dir(), marker), 0o666); err != nil {
			t.Fatal(err)
		}
		_, err := mtReopen(t, tr).Read(ctx, "/systems/servers/n1/address", ReadOptions{})
		if RC(err) != agent.RCUntrusted || !strings.Contains(err.Error(), "/"+marker) {
			t.Errorf("read in a device with an untrusted %s: %v, want refused, naming it", marker, err)
		}
		os.Chmod(filepath.Join(tr.store.Dir(), marker), 0o644)
	}
}

// TestMutPathClean: the limits of Clean at their boundaries.
func TestMutPathClean(t *testing.T) {
	full := strings.Repeat("/x", MaxPath/2) // exactly MaxPath bytes
	for _, tc := range []struct {
		in, want string
		bad      bool
	}{
		{in: full, want: full},
		{in: full + "/", bad: true},
		// Relative, MaxPath bytes: one more once absolute (found by FuzzClean).
		{in: full[1:] + "x", bad: true},
		{in: full[1:], want: full},
		{in: "\x00", bad: true},
		{in: "\x00x", bad: true},
		{in: "x\x00", bad: true},
	} {
		got, err := Clean(tc.in)
		if tc.bad {
			if !errors.Is(err, ErrBadPath) {
				t.Errorf("Clean(%q) = %q, %v; want ErrBadPath", tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("Clean of %d bytes = %.20q, %v", len(tc.in), got, err)
		}
	}
}

// TestMutPathErr: errors name the virtual path even when what failed below
// was another file (here the key file, behind a file where a directory
// should be).
func TestMutPathErr(t *testing.T) {
	tr := newTree(t, nil, "")
	ctx := context.Background()
	if _, err := tr.Write(ctx, "/ids", []byte("admin:pw\n")); err != nil {
		t.Fatal(err)
	}
	notDir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tr2, err := Open(tr.Root, testOptions(Options{KeyFile: filepath.Join(notDir, "key")}))
	if err != nil {
		t.Fatal(err)
	}
	defer tr2.Close()
	_, err = tr2.Read(ctx, "/ids", ReadOptions{})
	var pe *fs.PathError
	if !errors.As(err, &pe) || pe.Path != "/ids" || pe.Op != "read" {
		t.Errorf("read /ids without its key: %#v, want a PathError for /ids", err)
	}
	if err != nil && strings.Count(err.Error(), "/ids") != 1 {
		t.Errorf("error names /ids more than once: %v", err)
	}
}
