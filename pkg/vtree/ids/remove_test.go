package ids

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"

	"github.com/smctl/smctl/pkg/vtree/store"
)

// Writing an empty value (or only white space) to an ids file removes it:
// the directory inherits the ids above it again, the tree is told the
// directory changed, and the keyring forgets what it decrypted. Removing
// an ids file that is not there is no error.
func TestRemove(t *testing.T) {
	f := newFixture(t, "a/b")
	f.write(t, ".", "up:uppw\n")
	for _, empty := range []string{"", "\n", " \t\n\n"} {
		f.write(t, "a/b", "down:downpw\n")
		if got := f.user(t, "a/b"); got != "down:downpw" {
			t.Fatalf("before removal: %s", got)
		}
		f.changed = nil
		out, err := f.k.Write("a/b/ids", "/a/b/ids", []byte(empty))
		if err != nil || len(out) != 0 {
			t.Fatalf("write %q: %q, %v; want it removed, nothing returned", empty, out, err)
		}
		if _, err := os.Lstat(filepath.Join(f.dir, "a/b/ids")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("write %q: ids file still there (%v)", empty, err)
		}
		if !slices.Equal(f.changed, []string{"a/b"}) {
			t.Errorf("write %q: changed %q, want a/b", empty, f.changed)
		}
		f.k.mu.Lock()
		_, cached := f.k.pairs["a/b/ids"]
		f.k.mu.Unlock()
		if cached {
			t.Errorf("write %q: the removed ids are still decrypted in the keyring", empty)
		}
		if got := f.user(t, "a/b"); got != "up:uppw" {
			t.Errorf("write %q: a/b now uses %s, want the inherited up:uppw", empty, got)
		}
	}
	// Again, with nothing there: no error, nothing to tell.
	f.changed = nil
	if _, err := f.k.Write("a/b/ids", "/a/b/ids", nil); err != nil {
		t.Errorf("removing an absent ids file: %v", err)
	}
	// The root's own.
	if _, err := f.k.Write("ids", "/ids", nil); err != nil {
		t.Fatal(err)
	}
	if got := f.user(t, "a/b"); got != "none" {
		t.Errorf("after removing /ids: %s", got)
	}
	// A symlink planted as an ids file goes, as a write replaces it; the
	// file it points to stays.
	target := filepath.Join(t.TempDir(), "elsewhere")
	if err := os.WriteFile(target, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, filepath.Join(f.dir, "a/ids")); err != nil {
		t.Fatal(err)
	}
	if _, err := f.k.Write("a/ids", "/a/ids", nil); err != nil {
		t.Errorf("removing a symlink: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(f.dir, "a/ids")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("symlink still there: %v", err)
	}
	if _, err := os.Stat(target); err != nil {
		t.Errorf("the symlink's target went: %v", err)
	}
	// A directory of that name is no ids file to remove.
	if err := os.Mkdir(filepath.Join(f.dir, "a/b", store.IDsName), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := f.k.Write("a/b/ids", "/a/b/ids", nil)
	var pe *fs.PathError
	if !errors.As(err, &pe) || pe.Path != "/a/b/ids" || !errors.Is(err, syscall.EISDIR) {
		t.Errorf("removing a directory: %v", err)
	}
}
