package ids

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/smctl/smctl/internal/testpriv"
	"github.com/smctl/smctl/pkg/creds"
)

// unprivEnv marks the copy of the test binary that TestUnreadableNotSent
// runs as nobody; its value is the directory the parent prepared.
const unprivEnv = "SMCTL_IDS_UNPRIV_CHILD"

// Credentials the running user may not read are not theirs to send: the
// walk passes over them to the nearest ids file they may read. Run as
// root, the check runs as nobody, in a copy of the test binary (root reads
// everything).
func TestUnreadableNotSent(t *testing.T) {
	if shared, ok := testpriv.Child(t, unprivEnv); ok {
		checkUnreadable(t, filepath.Join(shared, "tree"), filepath.Join(shared, "key"))
		return
	}
	if os.Geteuid() != 0 {
		f := newFixture(t, "a/b/c")
		f.write(t, ".", "up:uppw\n")
		f.write(t, "a/b", "down:downpw\n")
		if err := os.Chmod(filepath.Join(f.dir, "a/b/ids"), 0); err != nil {
			t.Fatal(err)
		}
		checkUnreadable(t, f.dir, f.keyFile)
		return
	}
	shared := testpriv.SharedDir(t)
	dir, keyFile := filepath.Join(shared, "tree"), filepath.Join(shared, "key")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "a/b/c"), 0o755))
	must(creds.CreateKey(keyFile))
	key, err := creds.LoadKey(keyFile)
	must(err)
	for _, ids := range []struct {
		rel, place string
		pair       creds.Pair
		owner      int
	}{
		{"ids", "/", creds.Pair{User: "up", Password: "uppw"}, testpriv.Nobody}, // the user's own
		{"a/b/ids", "/a/b", creds.Pair{User: "down", Password: "downpw"}, 0},    // root's, private
	} {
		b, err := key.Seal([]creds.Pair{ids.pair}, ids.place)
		must(err)
		p := filepath.Join(dir, ids.rel)
		must(os.WriteFile(p, b, 0o600))
		must(os.Chown(p, ids.owner, ids.owner))
	}
	must(os.Chown(keyFile, testpriv.Nobody, testpriv.Nobody))
	testpriv.AsNobody(t, unprivEnv, shared)
}

// checkUnreadable: in the backing tree dir, the ids of the root is the
// running user's, that of a/b one they may not read.
func checkUnreadable(t *testing.T, dir, keyFile string) {
	k := New(storeAt(t, dir), keyFile, func(d string) bool { return hasIDs(dir, d) }, func(string) {})
	if _, err := k.At("a/b/ids"); !errors.Is(err, fs.ErrPermission) {
		t.Fatalf("reading a/b/ids: %v, want a permission error (the case proves nothing)", err)
	}
	for _, d := range []string{"a/b/c", "a/b", "a", "."} {
		p, err := k.Nearest(d)
		if err != nil || p == nil || *p != (creds.Pair{User: "up", Password: "uppw"}) {
			t.Errorf("Nearest(%q) = %v, %v; want up's", d, p, err)
		}
	}
}

// removeEnv marks the copy of the test binary TestRemoveNotWritable runs
// as nobody.
const removeEnv = "SMCTL_IDS_REMOVE_CHILD"

// Only a user who may write an ids file may remove it (write an empty
// value), as only they may replace it: a directory they may write is not
// enough. Run as root, the check runs as nobody.
func TestRemoveNotWritable(t *testing.T) {
	if shared, ok := testpriv.Child(t, removeEnv); ok {
		checkRemoveNotWritable(t, filepath.Join(shared, "tree"), filepath.Join(shared, "key"))
		return
	}
	if os.Geteuid() != 0 {
		// Not root: an ids file of one's own made read-only stands for
		// one the user may not write.
		f := newFixture(t, "a/b")
		f.write(t, "a", "mine:minepw\n")
		f.write(t, "a/b", "root:rootpw\n")
		if err := os.Chmod(filepath.Join(f.dir, "a/b/ids"), 0o400); err != nil {
			t.Fatal(err)
		}
		checkRemoveNotWritable(t, f.dir, f.keyFile)
		return
	}
	shared := testpriv.SharedDir(t)
	dir, keyFile := filepath.Join(shared, "tree"), filepath.Join(shared, "key")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "a/b"), 0o755))
	must(creds.CreateKey(keyFile))
	key, err := creds.LoadKey(keyFile)
	must(err)
	for _, ids := range []struct {
		rel, place string
		pair       creds.Pair
		owner      int
	}{
		{"a/ids", "/a", creds.Pair{User: "mine", Password: "minepw"}, testpriv.Nobody}, // the user's own
		{"a/b/ids", "/a/b", creds.Pair{User: "root", Password: "rootpw"}, 0},           // root's
	} {
		b, err := key.Seal([]creds.Pair{ids.pair}, ids.place)
		must(err)
		p := filepath.Join(dir, ids.rel)
		must(os.WriteFile(p, b, 0o600))
		must(os.Chown(p, ids.owner, ids.owner))
	}
	// Both directories are nobody's: unlink(2) alone would let them go.
	must(os.Chown(filepath.Join(dir, "a"), testpriv.Nobody, testpriv.Nobody))
	must(os.Chown(filepath.Join(dir, "a/b"), testpriv.Nobody, testpriv.Nobody))
	must(os.Chown(keyFile, testpriv.Nobody, testpriv.Nobody))
	testpriv.AsNobody(t, removeEnv, shared)
	if _, err := os.Stat(filepath.Join(dir, "a/b/ids")); err != nil {
		t.Errorf("root's ids file went: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "a/ids")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("nobody's own ids file is still there: %v", err)
	}
}

// checkRemoveNotWritable, as nobody: root's a/b/ids may not be removed,
// their own a/ids may.
func checkRemoveNotWritable(t *testing.T, dir, keyFile string) {
	var changed []string
	k := New(storeAt(t, dir), keyFile, func(d string) bool { return hasIDs(dir, d) }, func(d string) { changed = append(changed, d) })
	_, err := k.Write("a/b/ids", "/a/b/ids", nil)
	if !errors.Is(err, fs.ErrPermission) || err.Error() != "write /a/b/ids: removing ids: permission denied: only a user who may write the ids file removes it" {
		t.Errorf("removing root's ids: %v, want a permission error", err)
	}
	if !hasIDs(dir, "a/b") || len(changed) != 0 {
		t.Errorf("root's ids file removed (changed %q)", changed)
	}
	if _, err := k.Write("a/ids", "/a/ids", []byte("\n")); err != nil {
		t.Errorf("removing their own ids: %v", err)
	}
	if hasIDs(dir, "a") {
		t.Error("their own ids file is still there")
	}
}
