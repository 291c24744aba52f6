package checks

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smctl/smctl/pkg/driver"
	"github.com/smctl/smctl/pkg/transport"
	"github.com/smctl/smctl/pkg/trust"
)

// writer is this machine with a write ability, as the linux driver adds
// one below the checks driver.
type writer struct {
	transport.Local
	wrote []string
}

func (w *writer) WriteFile(_ context.Context, name string, data []byte) ([]byte, error) {
	w.wrote = append(w.wrote, name+"="+string(data))
	return []byte("done\n"), nil
}
func (w *writer) Writable(name string) bool        { return name == "/os/hostname" }
func (w *writer) Destructive(name string) []string { return []string{"*"} }

// TestLayer: checks/ lists, describes and reads the checks of the
// device's type; everything else is the transport's below.
func TestLayer(t *testing.T) {
	needPlugins(t)
	d, err := parse(`
checks:
  - {name: web, types: [server], command: 'check_dummy 2 "down $SMCTL_HOST"', every: 5s}
  - {name: alive, command: check_dummy 0 up}
  - {name: vmonly, types: [vm], command: check_dummy 0}
`)
	if err != nil {
		t.Fatal(err)
	}
	d.root = t.TempDir()
	ctx := context.Background()
	below := &writer{}
	tr := d.Layer(server, below)

	ents, err := tr.ReadDir(ctx, "/checks")
	var names []string
	for _, e := range ents {
		names = append(names, e.Name+" "+e.Mode.String())
	}
	if want := "alive -r--r--r--,alive.state -r--r--r--,web -r--r--r--,web.state -r--r--r--"; err != nil || strings.Join(names, ",") != want {
		t.Errorf("ReadDir = %q, %v; want %s", names, err, want)
	}
	if e, err := tr.Stat(ctx, "/checks"); err != nil || e.Mode != fs.ModeDir|0o555 || e.Name != "checks" {
		t.Errorf("Stat checks: %+v, %v", e, err)
	}
	if e, err := tr.Stat(ctx, "/checks/web.state"); err != nil || e.Mode != 0o444 {
		t.Errorf("Stat web.state: %+v, %v", e, err)
	}
	for _, p := range []string{"/checks/vmonly", "/checks/nope", "/checks/web/x", "/checks/web.status"} {
		if _, err := tr.Stat(ctx, p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Stat %s: %v", p, err)
		}
		if _, err := tr.ReadFile(ctx, p, 1<<20); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("ReadFile %s: %v", p, err)
		}
	}
	if _, err := tr.ReadDir(ctx, "/checks/web"); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("ReadDir web: %v", err)
	}

	// Reading a check runs it: the state is in the content.
	b, err := tr.ReadFile(ctx, "/checks/web", 1<<20)
	if err != nil || string(b) != "CRITICAL CRITICAL: down 127.0.0.1\n" {
		t.Errorf("web: %q, %v", b, err)
	}
	if _, err := tr.ReadFile(ctx, "/checks/web", 10); !errors.Is(err, transport.ErrTooLarge) {
		t.Errorf("over max: %v", err)
	}
	// Its state: pending until smctl serve keeps one.
	b, err = tr.ReadFile(ctx, "/checks/web.state", 1<<20)
	if err != nil || !strings.HasPrefix(string(b), "PENDING no state kept yet: smctl serve runs this check every 5s") {
		t.Errorf("web.state: %q, %v", b, err)
	}
	if err := d.SaveStatus(server.Path, "web", critical()); err != nil {
		t.Fatal(err)
	}
	b, err = tr.ReadFile(ctx, "/checks/web.state", 1<<20)
	if err != nil || string(b) != "CRITICAL HARD 3/3 since 2026-11-22T21:40:01Z\n" {
		t.Errorf("web.state: %q, %v", b, err)
	}
	os.Chmod(filepath.Join(d.root, "checks/systems/servers/n1/web.state"), 0o666)
	if _, err := tr.ReadFile(ctx, "/checks/web.state", 1<<20); !errors.Is(err, trust.ErrUntrusted) {
		t.Errorf("untrusted web.state: %v", err)
	}

	// Nothing of checks/ is written; the rest is the transport's below.
	w := tr.(transport.Writer)
	if _, err := w.WriteFile(ctx, "/checks/web", []byte("OK")); !errors.Is(err, transport.ErrNotWritable) {
		t.Errorf("WriteFile checks/web: %v", err)
	}
	if w.Writable("/checks/web") || w.Destructive("/checks/web") != nil || !w.Writable("/os/hostname") || w.Destructive("/os/reboot") == nil {
		t.Errorf("Writable, Destructive do not pass through")
	}
	if out, err := w.WriteFile(ctx, "/os/hostname", []byte("n2")); err != nil || string(out) != "done\n" || len(below.wrote) != 1 {
		t.Errorf("WriteFile passed through: %q, %v, %q", out, err, below.wrote)
	}
	if _, err := d.Layer(server, transport.Local{}).(transport.Writer).WriteFile(ctx, "/os/hostname", nil); !errors.Is(err, transport.ErrNotWritable) {
		t.Errorf("WriteFile over a transport that writes nothing: %v", err)
	}
	if b, err := tr.ReadFile(ctx, "/proc/self/comm", 4096); err != nil || len(b) == 0 {
		t.Errorf("a node's file: %q, %v", b, err)
	}
	if _, err := tr.Stat(ctx, "/proc/self"); err != nil {
		t.Errorf("a node's file: %v", err)
	}
	if _, err := transport.OpenFiles(ctx, tr); err != nil {
		t.Errorf("OpenFiles: %v", err)
	}
	if _, err := transport.DialUnix(ctx, d.Layer(server, transport.Broken{Err: os.ErrClosed}), "/x"); !errors.Is(err, os.ErrClosed) {
		t.Errorf("DialUnix: %v", err)
	}
	var _ driver.Layer = d
}
