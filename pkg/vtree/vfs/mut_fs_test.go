package vfs

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"slices"
	"testing"

	"github.com/smctl/smctl/pkg/vtree"
)

// TestMutFSReadAt: a file of the io/fs view reads at an offset, and one
// whose read fails says so instead of reading nothing.
func TestMutFSReadAt(t *testing.T) {
	tr := newTree(t, map[string]string{
		"server/power.read": "echo on-and-off",
		"server/fail.read":  "echo broken >&2; exit 3",
	}, "")
	fsys := New(context.Background(), tr, vtree.ReadOptions{})
	open := func(name string) io.ReaderAt {
		t.Helper()
		f, err := fsys.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		ra, ok := f.(io.ReaderAt)
		if !ok {
			t.Fatalf("%s is no io.ReaderAt", name)
		}
		return ra
	}
	b := make([]byte, 3)
	n, err := open("systems/servers/localhost/power").ReadAt(b, 3)
	if n != 3 || err != nil || string(b) != "and" {
		t.Errorf("ReadAt(3 bytes at 3) = %d %q, %v; want 3 \"and\"", n, b[:n], err)
	}
	n, err = open("systems/servers/localhost/fail").ReadAt(b, 0)
	if n != 0 || vtree.RC(err) != 3 {
		t.Errorf("ReadAt of a failing file = %d, %v; want the agent's error", n, err)
	}
}

// TestMutFSReadDirN: ReadDir(n) of an open directory follows fs.ReadDirFile:
// n <= 0 gives everything left and never io.EOF; n > 0 gives at most n and
// io.EOF at the end.
func TestMutFSReadDirN(t *testing.T) {
	tr := newTree(t, nil, "server n[1-3] transport=local")
	fsys := New(context.Background(), tr, vtree.ReadOptions{})
	names := func(es []fs.DirEntry) []string {
		var out []string
		for _, e := range es {
			out = append(out, e.Name())
		}
		return out
	}
	all := []string{"localhost", "n1", "n2", "n3"}
	open := func() fs.ReadDirFile {
		t.Helper()
		f, err := fsys.Open("systems/servers")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f.(fs.ReadDirFile)
	}
	for _, n := range []int{0, -1} {
		d := open()
		es, err := d.ReadDir(n)
		if err != nil || !slices.Equal(names(es), all) {
			t.Errorf("ReadDir(%d) = %q, %v; want everything", n, names(es), err)
		}
		es, err = d.ReadDir(n)
		if err != nil || len(es) != 0 {
			t.Errorf("ReadDir(%d) at the end = %q, %v; want nothing, no error", n, names(es), err)
		}
	}
	d := open()
	for _, want := range [][]string{{"localhost", "n1"}, {"n2", "n3"}} {
		es, err := d.ReadDir(2)
		if err != nil || !slices.Equal(names(es), want) {
			t.Errorf("ReadDir(2) = %q, %v; want %q", names(es), err, want)
		}
	}
	if es, err := d.ReadDir(2); len(es) != 0 || !errors.Is(err, io.EOF) {
		t.Errorf("ReadDir(2) at the end = %q, %v; want io.EOF", names(es), err)
	}
}
