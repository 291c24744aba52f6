package ids

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/smctl/smctl/internal/testpriv"
	"github.com/smctl/smctl/pkg/creds"
)

// unprivEnv marks the copy of the test binary that TestUnreadableNotSent
// runs as nobody; its value is the directory the parent prepared.
const unprivEnv = "SMCTL_IDS_UNPRIV_CHILD"

// nobody is nobody:nogroup (Debian's 65534).
const nobody = 65534

// Credentials the running user may not read are not theirs to send: the
// walk passes over them to the nearest ids file they may read. Run as
// root, the check runs as nobody, in a copy of the test binary (root reads
// everything).
func TestUnreadableNotSent(t *testing.T) {
	if shared := os.Getenv(unprivEnv); shared != "" {
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
		{"ids", "/", creds.Pair{User: "up", Password: "uppw"}, nobody},       // the user's own
		{"a/b/ids", "/a/b", creds.Pair{User: "down", Password: "downpw"}, 0}, // root's, private
	} {
		b, err := key.Seal([]creds.Pair{ids.pair}, ids.place)
		must(err)
		p := filepath.Join(dir, ids.rel)
		must(os.WriteFile(p, b, 0o600))
		must(os.Chown(p, ids.owner, ids.owner))
	}
	must(os.Chown(keyFile, nobody, nobody))
	// go test's binary is in a private directory: a copy nobody may run.
	bin := filepath.Join(shared, "ids.test")
	src, err := os.Open(os.Args[0])
	must(err)
	dst, err := os.OpenFile(bin, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	must(err)
	_, err = io.Copy(dst, src)
	src.Close()
	must(err)
	must(dst.Close())

	cmd := exec.Command(bin, "-test.run=^TestUnreadableNotSent$", "-test.v", "-test.count=1", "-test.timeout=2m")
	cmd.Env = []string{"PATH=/usr/bin:/bin", "TMPDIR=" + shared, unprivEnv + "=" + shared}
	cmd.Dir = shared
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody, Groups: []uint32{}}}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	if _, exited := err.(*exec.ExitError); err != nil && !exited {
		msg := fmt.Sprintf("a place uid %d can run the test binary from (%v)", nobody, err)
		if os.Getenv("SMCTL_TEST_REQUIRE") == "1" {
			t.Fatalf("missing %s, which SMCTL_TEST_REQUIRE=1 makes required", msg)
		}
		t.Skipf("missing %s", msg)
	}
	if err != nil || !strings.Contains(out.String(), "--- PASS: TestUnreadableNotSent ") {
		t.Fatalf("as uid %d: %v\n%s", nobody, err, out.String())
	}
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
