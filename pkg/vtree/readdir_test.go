package vtree

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestReadDirEntry checks that listing a directory from its entry in its
// parent's listing (the walk's way) gives what listing its path gives:
// devices with their agents' files, plain directories, a directory that
// is a symlink, a device whose type marker is refused; and that only a
// stored directory, not a symlink to one nor a live directory, is listed
// from its parent's node.
func TestReadDirEntry(t *testing.T) {
	tr := newTree(t, map[string]string{"server/power.read": "echo on"}, "server n[1-3] transport=local\n")
	ctx := context.Background()
	for _, f := range []string{"/lab/a/b/notes", "/lab/a/x", "/systems/servers/n2/extra/file"} {
		if err := tr.MakeDirs(filepath.Dir(f)); err != nil {
			t.Fatal(err)
		}
		if _, err := tr.Write(ctx, f, []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	back := tr.store.Dir()
	if err := os.Symlink("a", filepath.Join(back, "lab", "link")); err != nil {
		t.Fatal(err)
	}
	setMarker(t, tr, "systems/servers/n3", "nosuchtype", false)
	fromParent := map[string]bool{}
	var walk func(es []*Entry)
	walk = func(es []*Entry) {
		for _, e := range es {
			if !e.IsDir() || e.Live() {
				if e.dir != nil {
					t.Errorf("%s (a file or live directory) would be listed from its parent's node", e.Path())
				}
				continue
			}
			fromParent[e.Path()] = e.dir != nil
			want, werr := tr.ReadDir(ctx, e.Path())
			got, gerr := tr.ReadDirEntry(ctx, e)
			if (werr == nil) != (gerr == nil) {
				t.Fatalf("%s: ReadDirEntry error %v, ReadDir's %v", e.Path(), gerr, werr)
			}
			if len(got) != len(want) {
				t.Fatalf("%s: ReadDirEntry lists %d entries, ReadDir %d", e.Path(), len(got), len(want))
			}
			for i := range got {
				g, w := got[i], want[i]
				if g.Path() != w.Path() || g.Type() != w.Type() || g.Live() != w.Live() || (g.dir == nil) != (w.dir == nil) {
					t.Errorf("%s: entry %d is %s %v live=%v, ReadDir's %s %v live=%v", e.Path(), i, g.Path(), g.Type(), g.Live(), w.Path(), w.Type(), w.Live())
				}
			}
			walk(got)
		}
	}
	root, err := tr.ReadDir(ctx, "/")
	if err != nil {
		t.Fatal(err)
	}
	walk(root)
	for p, want := range map[string]bool{
		"/systems/servers/n1": true, "/systems/servers/n2/extra": true, "/systems/servers/n3": true,
		"/lab/a/b": true, "/lab/link": false,
	} {
		got, ok := fromParent[p]
		if !ok {
			t.Errorf("%s: not walked", p)
		} else if got != want {
			t.Errorf("%s: listed from its parent's node %v, want %v", p, got, want)
		}
	}
	// The device refused for its marker lists as ReadDir lists it: its
	// stored files, none of its type's.
	es, err := tr.ReadDirEntry(ctx, findEntry(t, tr, "/systems/servers", "n3"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if e.Name() == "power" {
			t.Errorf("n3, whose marker is refused, lists its type's power file")
		}
	}
	// A directory removed since it was listed is an error naming it.
	n1 := findEntry(t, tr, "/systems/servers", "n1")
	if err := os.RemoveAll(filepath.Join(back, "systems", "servers", "n1")); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.ReadDirEntry(ctx, n1); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "systems/servers/n1") {
		t.Errorf("ReadDirEntry of a removed directory: %v, want one naming it, not exist", err)
	}
}

func findEntry(t *testing.T, tr *Tree, dir, name string) *Entry {
	t.Helper()
	es, err := tr.ReadDir(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if e.Name() == name {
			return e
		}
	}
	t.Fatalf("%s has no %s", dir, name)
	return nil
}

// TestReadStored checks reads that open the file without looking it up
// first (storedFile): a stored result with its status, and what the open
// finds instead of a file, each answered as a lookup would: a directory,
// a missing file (an error naming it; empty for a command's missing
// stderr; the read agent for an agent's file), a FIFO (refused without
// blocking).
func TestReadStored(t *testing.T) {
	tr := newTree(t, map[string]string{"server/power.read": "echo on"}, "server n[1-2] transport=local\n")
	ctx := context.Background()
	for _, n := range []string{"n1", "n2"} {
		if _, err := tr.Write(ctx, "/systems/servers/"+n+"/command", []byte("echo hello")); err != nil {
			t.Fatal(err)
		}
	}
	// A device removed by hand, which its directory's index still names,
	// is missing.
	tr.ForgetAll()
	if err := os.RemoveAll(filepath.Join(tr.store.Dir(), "systems", "servers", "n2")); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Read(ctx, "/systems/servers/n2/command", ReadOptions{}); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "/systems/servers/n2") {
		t.Errorf("a removed device's file: %v, want not exist naming it", err)
	}
	back := filepath.Join(tr.store.Dir(), "systems", "servers", "n1")
	os.Mkdir(filepath.Join(back, "sub"), 0o755)
	if err := syscall.Mkfifo(filepath.Join(back, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := tr.Read(ctx, "/systems/servers/n1/command", ReadOptions{})
	if err != nil || string(res.Content) != "hello\n" || !res.Stored || res.Last == nil || res.Last.RC != 0 {
		t.Errorf("stored command: %+v, %v", res, err)
	}
	if _, err := tr.Read(ctx, "/systems/servers/n1/sub", ReadOptions{}); !errors.Is(err, ErrIsDir) {
		t.Errorf("a directory: %v, want ErrIsDir", err)
	}
	if _, err := tr.Read(ctx, "/systems/servers/n1/none", ReadOptions{}); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "/systems/servers/n1/none") {
		t.Errorf("a missing file: %v, want not exist naming it", err)
	}
	if res, err := tr.Read(ctx, "/systems/servers/n1/command.stderr", ReadOptions{}); err != nil || len(res.Content) != 0 {
		t.Errorf("a command's missing stderr: %+v, %v; want empty", res, err)
	}
	if res, err := tr.Read(ctx, "/systems/servers/n1/power", ReadOptions{}); err != nil || string(res.Content) != "on\n" || !res.Ran {
		t.Errorf("an agent's file: %+v, %v; want its agent run", res, err)
	}
	done := make(chan error, 1)
	go func() { _, err := tr.Read(ctx, "/systems/servers/n1/fifo", ReadOptions{}); done <- err }()
	select {
	case err := <-done:
		if err == nil {
			t.Error("a FIFO was read")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("reading a FIFO blocked")
	}
}

// TestReadStoredForget: the directories a read resolves are kept for the
// command, and forgotten with what changed under them: a plain directory
// made a device of an undeclared type refuses its files' reads once the
// tree is told, and a removed one is missing.
func TestReadStoredForget(t *testing.T) {
	tr := newTree(t, nil, "")
	ctx := context.Background()
	if err := tr.MakeDirs("/lab/x"); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Write(ctx, "/lab/x/f", []byte("v\n")); err != nil {
		t.Fatal(err)
	}
	if res, err := tr.Read(ctx, "/lab/x/f", ReadOptions{}); err != nil || string(res.Content) != "v\n" {
		t.Fatalf("read: %+v, %v", res, err)
	}
	setMarker(t, tr, "lab/x", "nosuchtype", true) // its own .type: the node kept for /lab/x is what changed
	if _, err := tr.Read(ctx, "/lab/x/f", ReadOptions{}); err == nil || !strings.Contains(err.Error(), "not a declared device type") {
		t.Errorf("read once its directory is a device of an undeclared type: %v, want the marker refused", err)
	}
	setMarker(t, tr, "lab/x", "", true) // no line, no marker: plain again
	if err := os.RemoveAll(filepath.Join(tr.store.Dir(), "lab", "x")); err != nil {
		t.Fatal(err)
	}
	tr.Forget("lab/x", true)
	if _, err := tr.Read(ctx, "/lab/x/f", ReadOptions{}); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("read once its directory is removed: %v, want not exist", err)
	}
}
