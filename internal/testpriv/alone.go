package testpriv

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// aloneEnv marks the copy of the test binary Alone runs.
const aloneEnv = "SMCTL_TEST_ALONE"

// Alone runs the test t in a copy of the test binary of its own, for a
// test that changes what belongs to the whole process (RLIMIT_FSIZE, which
// would also fail go test's own log of file accesses if it flushed inside
// the test's window, and fail the package at its end). In that copy it
// returns true and the test goes on; in the calling process it runs the
// copy, fails t with its output unless the copy passed, and returns false:
//
//	if !testpriv.Alone(t) {
//		return
//	}
func Alone(t *testing.T) bool {
	t.Helper()
	if os.Getenv(aloneEnv) == t.Name() {
		return true
	}
	cmd := exec.Command(os.Args[0], "-test.run", "^"+regexp.QuoteMeta(t.Name())+"$", "-test.count", "1", "-test.v")
	cmd.Env = append(os.Environ(), aloneEnv+"="+t.Name())
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: "+t.Name()) {
		t.Fatalf("%s in its own process: %v\n%s", t.Name(), err, out)
	}
	return false
}
