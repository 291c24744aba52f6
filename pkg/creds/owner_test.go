package creds

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/smctl/smctl/internal/testpriv"
)

// childKeyEnv names the key file a copy of this test binary, run as
// another user by runLoadKeyAs, loads.
const childKeyEnv = "SMCTL_CREDS_TEST_LOADKEY"

// capDACReadSearch is CAP_DAC_READ_SEARCH (linux/capability.h).
const capDACReadSearch = 2

// TestLoadKeyChild is LoadKey in a child process run as another user; it
// does nothing in an ordinary test run.
func TestLoadKeyChild(t *testing.T) {
	path := os.Getenv(childKeyEnv)
	if path == "" {
		t.Skip("only run as a child of TestLoadKeyOwner")
	}
	if _, err := LoadKey(path); err != nil {
		fmt.Printf("\nloadkey: %v\n", err)
		return
	}
	fmt.Printf("\nloadkey: ok\n")
}

// runLoadKeyAs runs LoadKey(path) as uid in a copy of the test binary in
// dir (which uid can read) and returns what it said: "ok" or the error.
// The child keeps CAP_DAC_READ_SEARCH, as a backup tool or a service given
// that capability does: it may open files private to other users, so that
// what refuses a key is LoadKey's rule on owners, not the file's mode.
func runLoadKeyAs(t *testing.T, dir string, uid int, path string) string {
	t.Helper()
	bin := filepath.Join(dir, "creds.test")
	if _, err := os.Stat(bin); err != nil {
		copyFile(t, os.Args[0], bin, 0o755)
	}
	cmd := exec.Command(bin, "-test.run=^TestLoadKeyChild$", "-test.count=1")
	cmd.Env = []string{"PATH=/usr/bin:/bin", childKeyEnv + "=" + path}
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential:  &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid)},
		AmbientCaps: []uintptr{capDACReadSearch},
	}
	out, err := cmd.CombinedOutput()
	if _, exited := err.(*exec.ExitError); err != nil && !exited {
		t.Skipf("cannot run as uid %d with CAP_DAC_READ_SEARCH: %v", uid, err)
	}
	if err != nil {
		t.Fatalf("test binary as uid %d: %v\n%s", uid, err, out)
	}
	for _, l := range strings.Split(string(out), "\n") {
		if s, ok := strings.CutPrefix(l, "loadkey: "); ok {
			return s
		}
	}
	t.Fatalf("test binary as uid %d said nothing of LoadKey:\n%s", uid, out)
	return ""
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
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

// A key file is used only when it belongs to root or to the user running
// smctl: a key planted by another user would let that user read every ids
// sealed with it. Run as root, each case but the first runs as an
// unprivileged user.
func TestLoadKeyOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give files to other users and run as them")
	}
	const nobody, other = 65534, 1
	dir := testpriv.SharedDir(t) // the key and the copy of the binary
	for _, tc := range []struct {
		name      string
		owner, as int
		want      string // "ok" or part of the error
	}{
		{"another user's key, read by root", nobody, 0, "belongs to uid 65534"},
		{"root's key, read by a user", 0, nobody, "ok"},
		{"the user's own key", nobody, nobody, "ok"},
		{"another user's key, read by a user", other, nobody, "belongs to uid 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kf := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_"))
			if err := CreateKey(kf); err != nil {
				t.Fatal(err)
			}
			if err := os.Chown(kf, tc.owner, tc.owner); err != nil {
				t.Fatal(err)
			}
			var got string
			if tc.as == os.Geteuid() {
				got = "ok"
				if _, err := LoadKey(kf); err != nil {
					got = err.Error()
				}
			} else {
				got = runLoadKeyAs(t, dir, tc.as, kf)
			}
			if tc.want == "ok" && got != "ok" || !strings.Contains(got, tc.want) {
				t.Errorf("LoadKey of a key of uid %d as uid %d: %s, want %s", tc.owner, tc.as, got, tc.want)
			}
		})
	}
}
