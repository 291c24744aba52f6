package vtree

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/smctl/smctl/pkg/driver"
	"github.com/smctl/smctl/pkg/transport"
)

// writeLayer is a driver that acts on writes to /proc/sys/ok (answering
// "v"), fails them on /proc/sys/fail, declares /proc/sys/boom destroyed
// by any value, and records every write it acts on.
type writeLayer struct {
	mu     *sync.Mutex
	writes *[]string
}

func (writeLayer) Name() string { return "write-layer" }
func (w writeLayer) Layer(_ driver.Device, tr transport.Transport) transport.Transport {
	return writeNode{Transport: tr, l: w}
}

type writeNode struct {
	transport.Transport
	l writeLayer
}

func (n writeNode) WriteFile(_ context.Context, name string, data []byte) ([]byte, error) {
	switch name {
	case "/proc/sys/ok", "/proc/sys/boom":
		n.l.mu.Lock()
		*n.l.writes = append(*n.l.writes, name+"="+string(data))
		n.l.mu.Unlock()
		return []byte("v\n"), nil
	case "/proc/sys/fail":
		return nil, errors.New("setting key: Invalid argument")
	}
	return nil, &fs.PathError{Op: "write", Path: name, Err: transport.ErrNotWritable}
}

func (writeNode) Writable(name string) bool { return strings.HasPrefix(name, "/proc/sys/") }

func (writeNode) Destructive(name string) []string {
	if name == "/proc/sys/boom" {
		return []string{"*"}
	}
	return nil
}

// TestLiveWrite: a write to a live file reaches the node only where a
// driver acts on it; its outcome is kept as NAME.status at the live path,
// which reads of NAME.status find; what the driver declares destructive
// is what WriteSpec says.
func TestLiveWrite(t *testing.T) {
	tr := newTree(t, nil, "server n1 transport=local\n")
	var mu sync.Mutex
	var writes []string
	tr.opts.Drivers = testDrivers(writeLayer{&mu, &writes})
	ctx := context.Background()
	dev := "/systems/servers/n1"

	res, err := tr.Write(ctx, dev+"/proc/sys/ok", []byte("1\n"))
	if err != nil || string(res.Content) != "v\n" || strings.Join(writes, ",") != "/proc/sys/ok=1\n" {
		t.Fatalf("write ok: %+v, %v; writes %q", res, err, writes)
	}
	st, err := tr.Read(ctx, dev+"/proc/sys/ok.status", ReadOptions{})
	if err != nil || string(st.Content) != "0\nran: 1\n" {
		t.Errorf("ok.status: %+v, %v", st, err)
	}
	if _, err := os.Stat(filepath.Join(tr.BackingDir(), "systems/servers/n1/.live%2Fproc%2Fsys%2Fok.status")); err != nil {
		t.Errorf("status not kept in the device's directory: %v", err)
	}

	_, err = tr.Write(ctx, dev+"/proc/sys/fail", []byte("x"))
	if RC(err) != 1 || !strings.Contains(err.Error(), "Invalid argument") || !strings.Contains(err.Error(), dev+"/proc/sys/fail") {
		t.Errorf("write fail: %v (rc %d)", err, RC(err))
	}
	if st, err := tr.Read(ctx, dev+"/proc/sys/fail.status", ReadOptions{}); err != nil || !strings.HasPrefix(string(st.Content), "1 setting key: Invalid argument\n") {
		t.Errorf("fail.status: %q, %v", st.Content, err)
	}

	_, err = tr.Write(ctx, dev+"/proc/loadavg", []byte("1"))
	if !errors.Is(err, ErrLiveWrite) {
		t.Errorf("write loadavg: %v, want ErrLiveWrite", err)
	}
	if _, err := tr.Read(ctx, dev+"/proc/loadavg.status", ReadOptions{}); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("loadavg.status after a refused write: %v, want none", err)
	}
	if _, err := tr.Write(ctx, dev+"/proc/sys/ok.status", []byte("0")); !errors.Is(err, ErrStatusFile) {
		t.Errorf("write ok.status: %v, want ErrStatusFile", err)
	}

	if !tr.WriteSpec(ctx, dev+"/proc/sys/boom").Destroys([]byte("1")) || tr.WriteSpec(ctx, dev+"/proc/sys/ok").Destroys([]byte("1")) {
		t.Errorf("WriteSpec: boom %v, ok %v", tr.WriteSpec(ctx, dev+"/proc/sys/boom"), tr.WriteSpec(ctx, dev+"/proc/sys/ok"))
	}
	if len(writes) != 1 {
		t.Errorf("writes %q: only the one acted on", writes)
	}

	// What is stored under the live directory's name in the backing
	// directory (a symlink a delegated group made) decides nothing.
	back := tr.BackingDir()
	if err := os.MkdirAll(filepath.Join(back, "elsewhere"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../../../elsewhere", filepath.Join(back, "systems/servers/n1/proc")); err != nil {
		t.Fatal(err)
	}
	tr.ForgetAll()
	if _, err := tr.Write(ctx, dev+"/proc/sys/ok", []byte("2")); err != nil {
		t.Fatal(err)
	}
	if es, _ := os.ReadDir(filepath.Join(back, "elsewhere")); len(es) != 0 {
		t.Errorf("a status written through the symlink: %v", es)
	}
	if st, err := tr.Read(ctx, dev+"/proc/sys/ok.status", ReadOptions{}); err != nil || string(st.Content) != "0\nran: 2\n" {
		t.Errorf("ok.status: %q, %v", st.Content, err)
	}
}

// TestLiveName: a live file's status is a dot name in its device's
// directory; a path too long for a name is a digest.
func TestLiveName(t *testing.T) {
	if got := liveName("/proc/sys/net/ipv4/conf/eth0.1/forwarding"); got != ".live%2Fproc%2Fsys%2Fnet%2Fipv4%2Fconf%2Feth0.1%2Fforwarding" {
		t.Errorf("liveName = %q", got)
	}
	if a, b := liveName("/a%2Fb"), liveName("/a/b"); a == b {
		t.Errorf("%q and %q: one name for two paths", a, b)
	}
	long := liveName("/sys" + strings.Repeat("/abcdefgh", 40))
	if !strings.HasPrefix(long, ".live-") || len(long) != len(".live-")+32 {
		t.Errorf("long path: %q", long)
	}
}
