// Package testpriv helps tests that run part of themselves as another,
// unprivileged user (the trust rules are about owners, which root alone
// cannot tell apart from itself): SharedDir, a directory that user can
// reach; Command, a copy of the test binary run as that user; AsNobody and
// Child, the two sides of a test that, run as root, runs itself again as
// nobody; Need, which skips a test that misses something, or fails it
// under SMCTL_TEST_REQUIRE=1.
package testpriv

import (
	"os"
	"path/filepath"
	"testing"
)

// SharedDir returns a new directory that an unprivileged user can reach
// and read: t.TempDir made reachable, unless a directory above it is
// private (go test under a private GOTMPDIR), then a new directory in /tmp.
func SharedDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	// t.TempDir makes DIR/001, both private.
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for d := filepath.Dir(filepath.Dir(dir)); ; d = filepath.Dir(d) {
		if fi, err := os.Stat(d); err != nil || fi.Mode().Perm()&0o001 == 0 {
			break
		}
		if d == "/" {
			return dir
		}
	}
	dir, err := os.MkdirTemp("/tmp", "smctl-test-")
	if err != nil {
		t.Skipf("no directory another user can reach: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
