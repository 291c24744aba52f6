package libvirt

import (
	"context"
	"errors"
	"io/fs"
	"testing"
	"time"

	"github.com/smctl/smctl/pkg/agent"
)

func TestRestartLock(t *testing.T) {
	root := t.TempDir()
	unlock, err := restartLock(context.Background(), root, "web1")
	if err != nil {
		t.Fatal(err)
	}
	// Another restart of the same VM waits, and gives up with its context.
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := restartLock(ctx, root, "web1"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a second lock of web1 while held: %v", err)
	}
	// Another VM's does not wait.
	u2, err := restartLock(context.Background(), root, "web2")
	if err != nil {
		t.Fatalf("web2 while web1 is held: %v", err)
	}
	u2()
	// Released: taken again at once.
	done := make(chan error, 1)
	go func() {
		u, err := restartLock(context.Background(), root, "web1")
		if err == nil {
			u()
		}
		done <- err
	}()
	time.Sleep(100 * time.Millisecond)
	unlock()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("web1's lock not taken after its release")
	}
}

func TestRan(t *testing.T) {
	for st, want := range map[string]bool{
		"running (booted)": true, "paused (user)": true, "shut off (crashed)": true, "shut off (failed)": true,
		"shut off (destroyed)": false, "shut off (shutdown)": false,
	} {
		req := testReq(map[string]string{"state": st})
		if got := lastOn(req); got != want {
			t.Errorf("%q: last on %v, want %v", st, got, want)
		}
	}
	if !lastOn(testReq(nil)) {
		t.Error("nothing known: want on")
	}
	if lastOn(testReq(map[string]string{"power": "off"})) {
		t.Error("power off: want off")
	}
}

// testReq is a request whose device has the stored files files.
func testReq(files map[string]string) *agent.Request {
	return &agent.Request{Device: "/systems/vms/web1", Stored: func(name string) ([]byte, error) {
		v, ok := files[name]
		if !ok {
			return nil, fs.ErrNotExist
		}
		return []byte(v + "\n"), nil
	}}
}
