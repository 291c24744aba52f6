package ids

import (
	"encoding/base64"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/crypto/chacha20poly1305"

	"github.com/smctl/smctl/pkg/creds"
	"github.com/smctl/smctl/pkg/status"
	"github.com/smctl/smctl/pkg/vtree/store"

	"github.com/smctl/smctl/internal/testpriv"
)

// fixture is a keyring over a backing tree of its own, whose answer to
// "has an ids file" is the file system's, and which records what it was
// asked and told.
type fixture struct {
	dir, keyFile string
	k            *Keyring
	asked        []string // directories has was asked about, in order
	changed      []string // directories changed was told of
}

// newFixture makes the backing directories dirs (and "."), a key, and a
// keyring over them, as the tree opens one.
func newFixture(t *testing.T, dirs ...string) *fixture {
	t.Helper()
	f := &fixture{dir: filepath.Join(t.TempDir(), "tree")}
	for _, d := range append(dirs, ".") {
		if err := os.MkdirAll(filepath.Join(f.dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	f.keyFile = filepath.Join(filepath.Dir(f.dir), "key")
	if err := creds.CreateKey(f.keyFile); err != nil {
		t.Fatal(err)
	}
	has := func(dir string) bool {
		f.asked = append(f.asked, dir)
		return hasIDs(f.dir, dir)
	}
	f.k = New(storeAt(t, f.dir), f.keyFile, has, func(dir string) { f.changed = append(f.changed, dir) })
	return f
}

// storeAt is the store of the backing tree dir, which writes ids as the
// tree's does.
func storeAt(t *testing.T, dir string) *store.Store {
	t.Helper()
	r, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	s := store.New(r, dir)
	s.Trusted = func(_, name string) bool { return name == store.IDsName }
	t.Cleanup(func() { s.CloseDirs(); r.Close() })
	return s
}

// hasIDs tells whether the backing directory dir of the tree at root
// holds an ids file, as the tree's cache does.
func hasIDs(root, dir string) bool {
	st, err := os.Lstat(filepath.Join(root, dir, store.IDsName))
	return err == nil && st.Mode().IsRegular()
}

// write writes the ids file of the backing directory dir through the
// keyring.
func (f *fixture) write(t *testing.T, dir, plain string) {
	t.Helper()
	rel := store.JoinRel(dir, store.IDsName)
	if _, err := f.k.Write(rel, vpathOf(rel), []byte(plain)); err != nil {
		t.Fatal(err)
	}
}

// seal stores plain as the ids file of the backing directory dir, sealed
// for its place, behind the keyring's back.
func (f *fixture) seal(t *testing.T, dir, plain string) {
	t.Helper()
	place := "/" + dir
	if dir == "." {
		place = "/"
	}
	key, err := creds.LoadKey(f.keyFile)
	if err != nil {
		t.Fatal(err)
	}
	pairs, err := creds.Parse([]byte(plain))
	if err != nil {
		t.Fatal(err)
	}
	b, err := key.Seal(pairs, place)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(f.dir, dir, store.IDsName), b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) user(t *testing.T, dir string) string {
	t.Helper()
	p, err := f.k.Nearest(dir)
	if err != nil {
		t.Fatalf("Nearest(%q): %v", dir, err)
	}
	if p == nil {
		return "none"
	}
	return p.User + ":" + p.Password
}

// Write seals the pairs for the file's own directory, private to its
// owner, and gives them back masked; the tree is told the directory
// changed.
func TestWrite(t *testing.T) {
	f := newFixture(t, "a/b")
	for _, tc := range []struct{ rel, vpath, place, dir string }{
		{"a/b/ids", "/a/b/ids", "/a/b", "a/b"},
		{"ids", "/ids", "/", "."},
	} {
		f.changed = nil
		masked, err := f.k.Write(tc.rel, tc.vpath, []byte("# admins\nu1:p:1\n\nu2:p2\n"))
		if err != nil {
			t.Fatal(err)
		}
		if string(masked) != "u1:********\nu2:********\n" {
			t.Errorf("%s: masked %q", tc.vpath, masked)
		}
		p := filepath.Join(f.dir, tc.rel)
		st, err := os.Stat(p)
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, %v; want mode 0600", tc.vpath, st, err)
		}
		b, _ := os.ReadFile(p)
		// (with the colon, which base64 has not: the ciphertext may hold
		// "u1" by chance)
		if strings.Contains(string(b), "u1:") || strings.Contains(string(b), "u2:p2") {
			t.Errorf("%s stored in clear: %q", tc.vpath, b)
		}
		key, _ := creds.LoadKey(f.keyFile)
		pairs, old, err := key.Open(b, tc.place)
		if err != nil || old || len(pairs) != 2 || pairs[0] != (creds.Pair{User: "u1", Password: "p:1"}) {
			t.Errorf("%s opened for %s: %v %v %v", tc.vpath, tc.place, pairs, old, err)
		}
		if _, _, err := key.Open(b, "/a"); err == nil {
			t.Errorf("%s opens for another place", tc.vpath)
		}
		if !slices.Equal(f.changed, []string{tc.dir}) {
			t.Errorf("%s: changed %q, want %q", tc.vpath, f.changed, tc.dir)
		}
	}
}

// Errors of Write name the virtual path once, never a backing one, and
// never the password.
func TestWriteErrors(t *testing.T) {
	f := newFixture(t, "a")
	check := func(name string, err error, want string) {
		t.Helper()
		var pe *fs.PathError
		if !errors.As(err, &pe) || pe.Op != "write" || pe.Path != "/a/ids" {
			t.Errorf("%s: %#v, want a PathError for /a/ids", name, err)
			return
		}
		msg := err.Error()
		if !strings.Contains(msg, want) || strings.Count(msg, "/a/ids") != 1 || strings.Contains(msg, "hunter2") || strings.Contains(msg, f.dir) {
			t.Errorf("%s: %q, want it to contain %q", name, msg, want)
		}
	}
	os.Rename(f.keyFile, f.keyFile+".away")
	_, err := f.k.Write("a/ids", "/a/ids", []byte("admin:hunter2\n"))
	check("no key", err, "key file "+f.keyFile+" is missing")
	// A failure to load the key is not kept.
	os.Rename(f.keyFile+".away", f.keyFile)

	_, err = f.k.Write("a/ids", "/a/ids", []byte("admin hunter2\n"))
	check("bad pairs", err, "write /a/ids: ids: line 1: want user:password")

	// The store cannot write there (no such backing directory).
	_, err = f.k.Write("b/ids", "/a/ids", []byte("admin:hunter2\n"))
	check("store", err, "write /a/ids: no such file or directory")
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("store: %v is not ErrNotExist", err)
	}
	if len(f.changed) != 0 {
		t.Errorf("failed writes told of changes: %q", f.changed)
	}
	if _, err := f.k.Write("a/ids", "/a/ids", []byte("admin:hunter2\n")); err != nil {
		t.Errorf("write once the key is back: %v", err)
	}

	// The key fails with an *fs.PathError of its own (its directory is
	// a file): the error still names /a/ids, once.
	notDir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	f.k = New(f.k.store, filepath.Join(notDir, "key"), f.k.has, f.k.changed)
	_, err = f.k.Write("a/ids", "/a/ids", []byte("admin:hunter2\n"))
	check("key behind a file", err, "write /a/ids: key file: open "+notDir+"/key: not a directory")
}

// The key is loaded once: a key file replaced during the command is not
// read again.
func TestKeyOnce(t *testing.T) {
	f := newFixture(t, "a")
	f.write(t, "a", "u:first\n")
	first, _ := creds.LoadKey(f.keyFile)
	os.Remove(f.keyFile)
	if err := creds.CreateKey(f.keyFile); err != nil {
		t.Fatal(err)
	}
	f.write(t, ".", "u:second\n")
	b, _ := os.ReadFile(filepath.Join(f.dir, "ids"))
	if _, _, err := first.Open(b, "/"); err != nil {
		t.Errorf("sealed with the new key: %v", err)
	}
	f.k.ForgetAll()
	if got := f.user(t, "a"); got != "u:first" {
		t.Errorf("read with the new key: %s", got)
	}
}

// Nearest walks up from the directory to the root, asking the tree's
// cache about each directory once, and gives the first pair of the first
// ids file it finds; a stale "yes" of the cache walks on.
func TestNearest(t *testing.T) {
	f := newFixture(t, "a/b/c", "ab", "x/y")
	if got := f.user(t, "a/b/c"); got != "none" {
		t.Errorf("no ids anywhere: %s", got)
	}
	if want := []string{"a/b/c", "a/b", "a", "."}; !slices.Equal(f.asked, want) {
		t.Errorf("asked about %q, want %q", f.asked, want)
	}
	f.write(t, ".", "root:rootpw\n")
	f.write(t, "a", "a:apw\nsecond:x\n")
	f.write(t, "a/b/c", "c:cpw\n")
	for dir, want := range map[string]string{
		"a/b/c": "c:cpw",
		"a/b":   "a:apw",
		"a":     "a:apw",
		"ab":    "root:rootpw",
		"x/y":   "root:rootpw",
		".":     "root:rootpw",
	} {
		f.asked = nil
		if got := f.user(t, dir); got != want {
			t.Errorf("Nearest(%q) = %s, want %s", dir, got, want)
		}
		if f.asked[0] != dir {
			t.Errorf("Nearest(%q) asked first about %q", dir, f.asked[0])
		}
	}
	// The cache says yes, the file is gone: the walk goes on up.
	os.Remove(filepath.Join(f.dir, "a/b/c/ids"))
	f.k.ForgetAll()
	k := New(f.k.store, f.keyFile, func(string) bool { return true }, func(string) {})
	if p, err := k.Nearest("a/b/c"); err != nil || p == nil || p.User != "a" {
		t.Errorf("past a stale answer: %v, %v", p, err)
	}
}

// Errors of Nearest name the ids file: the trust rules' own errors (which
// name it) as they are, others prefixed with it.
func TestNearestErrors(t *testing.T) {
	f := newFixture(t, "a/b", "c")
	f.write(t, ".", "root:rootpw\n")
	f.write(t, "a", "a:apw\n")

	// Sealed for another place: a copy does not lend its credentials.
	b, _ := os.ReadFile(filepath.Join(f.dir, "a/ids"))
	os.WriteFile(filepath.Join(f.dir, "c/ids"), b, 0o600)
	_, err := f.k.Nearest("c")
	if err == nil || !errors.Is(err, creds.ErrWrongPlace) || status.Of(err) != status.Usage || !strings.HasPrefix(err.Error(), "ids file of /c: ") {
		t.Errorf("copied ids: %v", err)
	}
	os.Remove(filepath.Join(f.dir, "c/ids"))

	// Untrusted: writable by its group.
	os.Chmod(filepath.Join(f.dir, "a/ids"), 0o620)
	_, err = f.k.Nearest("a/b")
	if err == nil || status.Of(err) != status.Usage || !strings.HasPrefix(err.Error(), "untrusted file /a/ids") {
		t.Errorf("group-writable ids: %v", err)
	}
	os.Chmod(filepath.Join(f.dir, "a/ids"), 0o600)

	// Not an ids file smctl wrote.
	os.WriteFile(filepath.Join(f.dir, "a/b/ids"), []byte("admin:pw\n"), 0o600)
	_, err = f.k.Nearest("a/b")
	if want := "ids /a/b/ids: corrupt ids file: missing header"; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("corrupt ids: %v, want %q", err, want)
	}
	os.Remove(filepath.Join(f.dir, "a/b/ids"))

	// No key.
	f.k = New(f.k.store, f.keyFile+".none", f.k.has, f.k.changed)
	_, err = f.k.Nearest("a/b")
	if want := "ids /a/ids: key file " + f.keyFile + ".none is missing"; err == nil || !strings.HasPrefix(err.Error(), want) || status.Of(err) == status.Usage {
		t.Errorf("no key: %v, want %q", err, want)
	}
}

// At reads an absent file as no pairs, decrypts each file once, and
// forgets what it was told changed.
func TestAtForget(t *testing.T) {
	f := newFixture(t, "a/b", "ab")
	if p, err := f.k.At("a/ids"); p != nil || err != nil {
		t.Errorf("absent ids: %v, %v", p, err)
	}
	for _, d := range []string{".", "a", "a/b", "ab"} {
		f.write(t, d, "old:"+d+"\n")
	}
	at := func(rel string) string {
		t.Helper()
		p, err := f.k.At(rel)
		if err != nil || len(p) == 0 {
			t.Fatalf("At(%q) = %v, %v", rel, p, err)
		}
		return p[0].User
	}
	all := []string{"ids", "a/ids", "a/b/ids", "ab/ids"}
	for _, rel := range all {
		at(rel)
	}
	// Others rewrite them all.
	for _, d := range []string{".", "a", "a/b", "ab"} {
		f.seal(t, d, "new:"+d+"\n")
	}
	users := func() string {
		var out []string
		for _, rel := range all {
			out = append(out, at(rel))
		}
		return strings.Join(out, " ")
	}
	if got := users(); got != "old old old old" {
		t.Errorf("decrypted again: %s", got)
	}
	f.k.Forget("a/ids")
	if got := users(); got != "old new old old" {
		t.Errorf("after Forget(a/ids): %s", got)
	}
	f.k.ForgetUnder("a")
	if got := users(); got != "old new new old" {
		t.Errorf("after ForgetUnder(a): %s", got)
	}
	f.k.ForgetAll()
	if got := users(); got != "new new new new" {
		t.Errorf("after ForgetAll: %s", got)
	}
	// A write through the keyring forgets every decrypted file.
	for _, d := range []string{".", "a", "a/b", "ab"} {
		f.seal(t, d, "third:"+d+"\n")
	}
	f.write(t, "a/b", "fourth:x\n")
	if got := users(); got != "third third fourth third" {
		t.Errorf("after a write: %s", got)
	}
}

// ids of the first format are rewritten bound to their place on first use.
func TestMigration(t *testing.T) {
	f := newFixture(t, "systems/servers/n1")
	k, err := creds.LoadKey(f.keyFile)
	if err != nil {
		t.Fatal(err)
	}
	// A first-format file, as earlier versions wrote it.
	v1 := firstFormat(t, f.keyFile, "admin:pw\n")
	p := filepath.Join(f.dir, "systems/servers/n1/ids")
	if err := os.WriteFile(p, v1, 0o600); err != nil {
		t.Fatal(err)
	}
	pair, err := f.k.Nearest("systems/servers/n1")
	if err != nil || pair == nil || pair.Password != "pw" {
		t.Fatalf("Nearest = %v, %v", pair, err)
	}
	b, _ := os.ReadFile(p)
	if !strings.HasPrefix(string(b), creds.Header+"\n") {
		t.Errorf("not rewritten: %q", b)
	}
	if _, old, err := k.Open(b, "/systems/servers/n1"); err != nil || old {
		t.Errorf("rewritten file: old %v, %v", old, err)
	}
	if st, err := os.Stat(p); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("rewritten file: %v, %v; want mode 0600", st, err)
	}
}

// A first-format file that cannot be rewritten is not used: the error says
// how to rewrite it.
func TestMigrationFails(t *testing.T) {
	if !testpriv.Alone(t) { // it lowers RLIMIT_FSIZE, the whole process's
		return
	}
	f := newFixture(t, "a")
	p := filepath.Join(f.dir, "a/ids")
	v1 := firstFormat(t, f.keyFile, "admin:pw\n")
	if err := os.WriteFile(p, v1, 0o600); err != nil {
		t.Fatal(err)
	}
	// Files may not grow past 16 bytes (which root too must obey): the
	// rewrite fails with EFBIG (Go ignores SIGXFSZ).
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil {
		t.Fatal(err)
	}
	small := lim
	small.Cur = 16
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &small); err != nil {
		t.Skipf("cannot lower RLIMIT_FSIZE: %v", err)
	}
	for range 2 { // not kept
		_, err := f.k.Nearest("a")
		want := "ids /a/ids: ids file /a/ids is of the first format and could not be rewritten bound to its place (file too large): rewrite it with smctl write /a/ids --prompt USER"
		if err == nil || err.Error() != want {
			t.Errorf("rewrite failed: %v, want %s", err, want)
		}
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != string(v1) {
		t.Errorf("file changed: %q", b)
	}
}

// firstFormat seals plain as the first ids format did (bound to nothing).
func firstFormat(t *testing.T, keyFile, plain string) []byte {
	t.Helper()
	b, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		t.Fatal(err)
	}
	nonce := make([]byte, aead.NonceSize())
	box := aead.Seal(nonce, nonce, []byte(plain), []byte(creds.HeaderV1))
	return []byte(creds.HeaderV1 + "\n" + base64.StdEncoding.EncodeToString(box) + "\n")
}
