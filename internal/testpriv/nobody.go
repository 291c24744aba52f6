package testpriv

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// Nobody is the uid and gid of nobody:nogroup (Debian's 65534), as whom
// AsNobody runs a test.
const Nobody = 65534

// Need skips t, which misses a component (what), or fails it where
// SMCTL_TEST_REQUIRE=1 (CI) makes every component required.
func Need(t testing.TB, what string) {
	t.Helper()
	if os.Getenv("SMCTL_TEST_REQUIRE") == "1" {
		t.Fatalf("missing %s, which SMCTL_TEST_REQUIRE=1 makes required", what)
	}
	t.Skipf("missing %s", what)
}

// Command is a command that runs the top-level test named test in a copy
// of the running test binary as uid:uid with no supplementary groups, in
// dir (which uid must reach: SharedDir), where the copy is made unless a
// file of its name is there (go test's binary is in a private directory);
// its environment is PATH and env. The caller may add to its
// SysProcAttr (AmbientCaps) and arguments.
func Command(t testing.TB, dir string, uid int, test string, env ...string) *exec.Cmd {
	t.Helper()
	bin := filepath.Join(dir, filepath.Base(os.Args[0]))
	if _, err := os.Stat(bin); err != nil {
		copyFile(t, os.Args[0], bin)
	}
	cmd := exec.Command(bin, "-test.run=^"+test+"$", "-test.count=1", "-test.timeout=5m")
	cmd.Env = append([]string{"PATH=/usr/bin:/bin"}, env...)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid), Groups: []uint32{}}}
	return cmd
}

// copyFile copies the file from to the new file to, which anyone may run.
func copyFile(t testing.TB, from, to string) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
}

// Child reports whether the running test binary is the copy AsNobody runs,
// which the variable env marks, and returns that variable's value, the
// directory the parent prepared. In the copy, it fails t unless the test
// runs as nobody:nogroup. A test begins:
//
//	if shared, ok := testpriv.Child(t, childEnv); ok {
//		... the cases, as nobody ...
//		return
//	}
func Child(t testing.TB, env string) (shared string, ok bool) {
	t.Helper()
	shared = os.Getenv(env)
	if shared == "" {
		return "", false
	}
	if os.Geteuid() != Nobody || os.Getegid() != Nobody {
		t.Fatalf("running as %d:%d, want %d:%d", os.Geteuid(), os.Getegid(), Nobody, Nobody)
	}
	return shared, true
}

// AsNobody runs the test t again, as nobody:nogroup with no supplementary
// groups, in a copy of the test binary made in shared (SharedDir, which
// the test may have filled for the copy), with env=shared in its
// environment (see Child), TMPDIR a new directory of nobody's in shared and
// SMCTL_TEST_REQUIRE passed on. It fails t unless the copy's test passes,
// and t Needs what any case the copy skipped needs, or a place nobody can
// run the copy from; under go test -v, t logs what the copy said. t must
// be a top-level test, run as root.
func AsNobody(t *testing.T, env, shared string) {
	t.Helper()
	tmp := filepath.Join(shared, "tmp")
	if err := os.Mkdir(tmp, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(tmp, Nobody, Nobody); err != nil {
		t.Fatal(err)
	}
	cmd := Command(t, shared, Nobody, t.Name(), "TMPDIR="+tmp, env+"="+shared,
		"SMCTL_TEST_REQUIRE="+os.Getenv("SMCTL_TEST_REQUIRE"))
	cmd.Args = append(cmd.Args, "-test.v")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if _, exited := err.(*exec.ExitError); err != nil && !exited {
		Need(t, fmt.Sprintf("a place uid %d can run the test binary from (%v)", Nobody, err))
	}
	if err != nil || !strings.Contains(out.String(), "--- PASS: "+t.Name()+" ") {
		t.Fatalf("as uid %d: %v\n%s", Nobody, err, out.String())
	}
	if testing.Verbose() {
		t.Logf("as uid %d:\n%s", Nobody, out.String())
	}
	if strings.Contains(out.String(), "--- SKIP") {
		Need(t, fmt.Sprintf("what the cases skipped as uid %d need:\n%s", Nobody, out.String()))
	}
}
