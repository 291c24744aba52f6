package creds

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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
	cmd := testpriv.Command(t, dir, uid, "TestLoadKeyChild", childKeyEnv+"="+path)
	cmd.SysProcAttr.AmbientCaps = []uintptr{capDACReadSearch}
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

// A key file is used only when it belongs to root or to the user running
// smctl: a key planted by another user would let that user read every ids
// sealed with it. Run as root, each case but the first runs as an
// unprivileged user.
func TestLoadKeyOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give files to other users and run as them")
	}
	const nobody, other = testpriv.Nobody, 1
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
