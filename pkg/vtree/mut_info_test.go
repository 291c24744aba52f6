package vtree

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestMutInfoModes: Stat shows a file's stored mode, less the write bits
// for status files and for files with a read agent but no write agent,
// and tells which agents a file has.
func TestMutInfoModes(t *testing.T) {
	tr := newTree(t, map[string]string{
		"server/load.read":   "echo 0.5",
		"server/fan.read":    "echo 1200",
		"server/reset.write": "cat >/dev/null",
		"server/boot.read":   "echo disk",
		"server/boot.write":  "cat >/dev/null",
	}, "server n1 transport=local")
	ctx := context.Background()
	const dev = "/systems/servers/n1"
	if _, err := tr.Read(ctx, dev+"/load", ReadOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Write(ctx, dev+"/notes", []byte("hello\n")); err != nil {
		t.Fatal(err)
	}
	bdir := filepath.Join(tr.store.Dir(), "systems/servers/n1")
	for _, name := range []string{"load", "load.status", "notes"} {
		if err := os.Chmod(filepath.Join(bdir, name), 0o664); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(bdir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name        string
		mode        fs.FileMode
		read, write bool
	}{
		{"", fs.ModeDir | 0o755, false, false},
		{"notes", 0o664, false, false},       // plain stored file
		{"load", 0o444, true, false},         // read agent only, stored
		{"load.status", 0o444, false, false}, // status file
		{"fan", 0o444, true, false},          // read agent only, never read
		{"reset", 0o644, false, true},        // write agent only
		{"boot", 0o644, true, true},          // both
	} {
		p := dev
		if tc.name != "" {
			p += "/" + tc.name
		}
		in, err := tr.Stat(ctx, p)
		if err != nil {
			t.Errorf("Stat %s: %v", p, err)
			continue
		}
		if in.Mode() != tc.mode || in.Read != tc.read || in.Write != tc.write {
			t.Errorf("Stat %s: mode %v read %v write %v; want %v %v %v", p, in.Mode(), in.Read, in.Write, tc.mode, tc.read, tc.write)
		}
	}
}

// TestMutInfoSymlink: a stored symlink is shown as what it points to, in
// Stat and in ReadDir; a dangling one as the symlink itself.
func TestMutInfoSymlink(t *testing.T) {
	tr := newTree(t, nil, "server n1 transport=local")
	ctx := context.Background()
	const dev = "/systems/servers/n1"
	if _, err := tr.Write(ctx, dev+"/notes", []byte("hello\n")); err != nil {
		t.Fatal(err)
	}
	bdir := filepath.Join(tr.store.Dir(), "systems/servers/n1")
	if err := os.Chmod(filepath.Join(bdir, "notes"), 0o640); err != nil {
		t.Fatal(err)
	}
	for name, target := range map[string]string{"alias": "notes", "broken": "nowhere"} {
		if err := os.Symlink(target, filepath.Join(bdir, name)); err != nil {
			t.Fatal(err)
		}
	}
	if in, err := tr.Stat(ctx, dev+"/alias"); err != nil || in.Mode() != 0o640 || in.Size() != 6 {
		t.Errorf("Stat alias: %v; want a regular 0640 file of 6 bytes", statDesc(in, err))
	}
	if in, err := tr.Stat(ctx, dev+"/broken"); err != nil || in.Mode().Type() != fs.ModeSymlink {
		t.Errorf("Stat broken: %v; want the symlink", statDesc(in, err))
	}
	des, err := tr.ReadDir(ctx, dev)
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]fs.FileMode{}
	for _, de := range des {
		types[de.Name()] = de.Type()
	}
	for name, want := range map[string]fs.FileMode{"notes": 0, "alias": 0, "broken": fs.ModeSymlink} {
		if got, ok := types[name]; !ok || got != want {
			t.Errorf("ReadDir type of %s = %v (listed %v); want %v", name, got, ok, want)
		}
	}
}

// TestMutReadDirLive: the live directories are listed in devices of a
// live type only: not at the root, not in devices of other types.
func TestMutReadDirLive(t *testing.T) {
	tr := newTree(t, nil, "server n1 transport=local\nchassis mm1\n")
	ctx := context.Background()
	for _, tc := range []struct {
		dir  string
		live bool
	}{
		{"/systems/servers/n1", true},
		{"/systems/chassis/mm1", false},
		{"/", false},
		{"/systems/servers", false},
	} {
		des, err := tr.ReadDir(ctx, tc.dir)
		if err != nil {
			t.Errorf("ReadDir %s: %v", tc.dir, err)
			continue
		}
		var live []string
		for _, de := range des {
			if de.Live() {
				if !de.IsDir() {
					t.Errorf("%s: live entry %s is not a directory", tc.dir, de.Name())
				}
				live = append(live, de.Name())
			}
		}
		want := []string(nil)
		if tc.live {
			want = slices.Sorted(slices.Values(tr.Config.LiveDirs))
		}
		if !slices.Equal(live, want) {
			t.Errorf("ReadDir %s: live entries %q; want %q", tc.dir, live, want)
		}
	}
}

// TestMutDeviceType: an agent learns its device's type.
func TestMutDeviceType(t *testing.T) {
	tr := newTree(t, map[string]string{"server/kind.read": `echo "$SMCTL_TYPE"`}, "server n1 transport=local")
	res, err := tr.Read(context.Background(), "/systems/servers/n1/kind", ReadOptions{})
	if err != nil || string(res.Content) != "server\n" {
		t.Errorf("SMCTL_TYPE = %q, %v; want server", res.Content, err)
	}
}

func statDesc(in *Info, err error) string {
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("mode %v, %d bytes", in.Mode(), in.Size())
}
