package vtree

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestMutLockHeld: a run waits for the lock of its own device directory
// and of the directories above it, and reports the wait it gave up.
func TestMutLockHeld(t *testing.T) {
	tr := newTree(t, map[string]string{"server/power.read": `echo on`}, "server n1 transport=local\n",
		[2]string{"timeout: 30s", "timeout: 300ms"})
	ctx := context.Background()
	for _, dir := range []string{"/systems/servers/n1", "/systems"} {
		t.Run(dir, func(t *testing.T) {
			if _, err := tr.Write(ctx, dir+"/lock", []byte("1")); err != nil {
				t.Fatal(err)
			}
			defer tr.Write(ctx, dir+"/lock", []byte("0"))
			f, err := os.OpenFile(filepath.Join(tr.store.Dir(), dir, LockName), os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
				t.Fatal(err)
			}
			res, err := tr.Read(ctx, "/systems/servers/n1/power", ReadOptions{})
			f.Close()
			if err == nil && res.RC == 0 {
				t.Fatalf("read under a held lock ran: %q", res.Content)
			}
			msg := ""
			if err != nil {
				msg = err.Error()
			} else {
				msg = res.Message
			}
			if !strings.Contains(msg, "waiting for lock") || !strings.Contains(msg, "timed out") {
				t.Errorf("read under a held lock: %v, %+v; want a wait that timed out", err, res)
			}
		})
	}
}
