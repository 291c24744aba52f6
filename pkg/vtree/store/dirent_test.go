package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/smctl/smctl/pkg/trust"
)

// TestReadDirTypes: the listing from getdents names every entry once with
// the type os.ReadDir gives it, over more entries than one buffer holds.
func TestReadDirTypes(t *testing.T) {
	s, dir := newStore(t)
	sub := filepath.Join(dir, "d")
	os.Mkdir(sub, 0o755)
	want := map[string]string{}
	for i := 0; i < 1500; i++ { // > 32 KiB of dirents
		name := fmt.Sprintf("file-with-a-longish-name-%04d", i)
		os.WriteFile(filepath.Join(sub, name), nil, 0o644)
	}
	os.Mkdir(filepath.Join(sub, "adir"), 0o755)
	os.Symlink("adir", filepath.Join(sub, "alink"))
	syscall.Mkfifo(filepath.Join(sub, "afifo"), 0o644)
	des, err := os.ReadDir(sub)
	if err != nil {
		t.Fatal(err)
	}
	for _, de := range des {
		want[de.Name()] = de.Type().String()
	}
	got, err := s.ReadDir("d")
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(got, func(i, j int) bool { return got[i].Name() < got[j].Name() })
	if len(got) != len(want) {
		t.Fatalf("%d entries, want %d", len(got), len(want))
	}
	for _, de := range got {
		if w, ok := want[de.Name()]; !ok || w != de.Type().String() {
			t.Errorf("%s: type %v, want %v (listed: %v)", de.Name(), de.Type(), w, ok)
		}
	}
	if fi, err := got[0].Info(); err != nil || fi.Name() != got[0].Name() {
		t.Errorf("Info of %s: %v, %v", got[0].Name(), fi, err)
	}
	if _, err := s.ReadDir("none"); err == nil {
		t.Error("listing a missing directory succeeded")
	}
}

// TestReadTrustedAt: the raw reader agrees with a reader through an os.Root
// (readTrustedIn below, the store's reader before it used raw descriptors),
// byte for byte and refusal for refusal.
func TestReadTrustedAt(t *testing.T) {
	_, dir := newStore(t)
	d, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	w := func(name, data string, mode os.FileMode) {
		os.WriteFile(filepath.Join(dir, name), []byte(data), mode)
		os.Chmod(filepath.Join(dir, name), mode)
	}
	w("plain", "127.0.0.1\n", 0o644)
	w("empty", "", 0o644)
	w("big", string(make([]byte, 9000)), 0o644)
	w("gw", "x\n", 0o664)
	w("ow", "x\n", 0o646)
	w("target", "127.0.0.1\n", 0o644)
	os.Symlink("target", filepath.Join(dir, "link"))
	os.Link(filepath.Join(dir, "plain"), filepath.Join(dir, "plain2"))
	os.Mkdir(filepath.Join(dir, "adir"), 0o755)
	syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644)
	f, err := d.OpenFile(".", os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// A symlink to a trusted file is refused as a symlink (os.Root, under
	// readTrustedIn, would follow it: it stays inside the root).
	if _, err := readTrustedAt(int(f.Fd()), "link", "/link", 4096); err == nil || !strings.Contains(err.Error(), "it is a symlink") {
		t.Errorf("a symlink: %v", err)
	}
	for _, name := range []string{"plain", "empty", "big", "gw", "ow", "plain2", "adir", "fifo", "missing"} {
		for _, max := range []int64{4, 4096, 1 << 20} {
			want, werr := readTrustedIn(d, name, "/"+name, max)
			got, gerr := readTrustedAt(int(f.Fd()), name, "/"+name, max)
			if string(got) != string(want) || (gerr == nil) != (werr == nil) {
				t.Errorf("%s max %d: %d bytes, %v; readTrustedIn %d bytes, %v", name, max, len(got), gerr, len(want), werr)
			}
			if errors.Is(werr, fs.ErrNotExist) != errors.Is(gerr, fs.ErrNotExist) {
				t.Errorf("%s: not-exist %v vs %v", name, gerr, werr)
			}
		}
	}
}

// readTrustedIn reads a trusted file through an os.Root and an os.File:
// the oracle of TestReadTrustedAt.
func readTrustedIn(d *os.Root, name, vpath string, max int64) ([]byte, error) {
	f, err := d.OpenFile(name, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		if errors.Is(err, syscall.ELOOP) {
			return nil, &trust.Error{Name: vpath, UID: -1, Why: "it is a symlink"}
		}
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if err := trust.Info(vpath, fi); err != nil {
		return nil, err
	}
	sys := fi.Sys().(*syscall.Stat_t)
	switch {
	case !fi.Mode().IsRegular():
		return nil, &trust.Error{Name: vpath, UID: int(sys.Uid), Mode: fi.Mode(), Why: "not a regular file"}
	case sys.Nlink != 1:
		return nil, &trust.Error{Name: vpath, UID: int(sys.Uid), Mode: fi.Mode(), Why: fmt.Sprintf("it has %d hard links", sys.Nlink)}
	}
	return readSized(f, fi.Size(), max)
}
