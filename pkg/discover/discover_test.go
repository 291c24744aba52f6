package discover

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/smctl/smctl/pkg/vtree"
)

// TestDiscoverInterrupted cuts a discovery short between its steps, by
// putting a directory where discovery writes a file of the new device, and
// checks that it leaves no device (no .type) and that discovering again
// completes the device as new, running its container's discovery.
func TestDiscoverInterrupted(t *testing.T) {
	const stmt = "chassis c1 bmc=10.0.0.1 blades=127.0.0.1:[1-2]"
	tests := []struct {
		name     string
		obstacle string // the step that fails
	}{
		{"first attribute", "bmc"},
		{"last step before the marker", vtree.LockName},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			tr, d := newTree(t, "")
			dev := filepath.Join(tr.BackingDir(), "systems", "chassis", "c1")
			if err := os.MkdirAll(filepath.Join(dev, tt.obstacle, "x"), 0o755); err != nil {
				t.Fatal(err)
			}
			if _, err := d.Discover(ctx, stmt, ""); err == nil {
				t.Fatalf("discovery with %s in the way: no error", tt.obstacle)
			}
			if got := readBacking(t, tr, "/systems/chassis/c1/"+vtree.TypeFile); got != "<missing>" {
				t.Fatalf("interrupted discovery left c1 a type marker (%q): a device with files missing", got)
			}
			if _, err := tr.ReadDir(ctx, "/systems/chassis/c1/blades"); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("interrupted discovery: blades: %v, want none", err)
			}

			// A new run (a new process after a kill) completes it.
			if err := os.RemoveAll(filepath.Join(dev, tt.obstacle)); err != nil {
				t.Fatal(err)
			}
			_, d2 := openTree(t, tr.Root, nil)
			lines, err := d2.Discover(ctx, stmt, "")
			if err != nil {
				t.Fatalf("discovering again: %v", err)
			}
			want := []string{"added 1 chassis: c1", "added 2 blades: [1-2] in /systems/chassis/c1"}
			if !slices.Equal(lines, want) {
				t.Errorf("discovering again: %q, want %q", lines, want)
			}
			for f, v := range map[string]string{
				"c1/.type":          "chassis\n",
				"c1/bmc":            "10.0.0.1\n",
				"c1/address":        "c1\n",
				"c1/lock":           "1\n",
				"c1/blades/2/bmc":   "127.0.0.1:2\n",
				"c1/blades/2/.type": "blade\n",
			} {
				if got := readBacking(t, tr, "/systems/chassis/"+f); got != v {
					t.Errorf("%s = %q, want %q", f, got, v)
				}
			}
		})
	}
}

// TestDiscoverLarge checks the count of devices a discovery would create
// (checked, not applied) and that a refused discovery creates nothing.
func TestDiscoverLarge(t *testing.T) {
	ctx := context.Background()
	tr, d := newTree(t, "server a[1-3]")
	// A directory without .type is not a device: it counts as new.
	if err := os.Mkdir(filepath.Join(tr.BackingDir(), "systems", "servers", "bare"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		stmts string
		want  int // devices it would create; 0: not refused
	}{
		{"server n[1-10000]", 0},
		{"server n[1-10001]", 10001},
		{"server n[1-6000]\nserver m[1-5000]", 11000},
		{"server n[1-10000],a[1-3]", 0},           // a1..a3 exist
		{"server n[1-9999],a[1-3],bare", 0},       // 10000 new: the limit
		{"server n[1-9999],a[1-3],bare,x", 10001}, // bare, not a device, counts
		{"server n[1-6000]\nserver n[1-6000]", 0}, // each once
		{"server n[1-5000]\nserver n[5001-10001]", 10001},
		{"remove server a[1-3]\nserver n[1-9998],a[1-3]", 10001},
		{"server localhost,n[1-10000]", 0}, // the server init made
		{"chassis n[1-6000]\nserver n[1-6000]", 12000},
	}
	for _, tt := range tests {
		t.Run(strings.ReplaceAll(tt.stmts, "\n", ";"), func(t *testing.T) {
			var sts []*statement
			for _, l := range strings.Split(tt.stmts, "\n") {
				st, err := d.parseStatement(l)
				if err != nil {
					t.Fatal(err)
				}
				sts = append(sts, st)
			}
			err := d.checkSize(sts, "")
			var le *LargeDiscoveryError
			switch {
			case tt.want == 0 && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.want == 0:
			case !errors.As(err, &le):
				t.Fatalf("err = %v, want a LargeDiscoveryError", err)
			case le.New != tt.want:
				t.Errorf("would create %d devices, want %d", le.New, tt.want)
			}
		})
	}

	// Refused: nothing of any statement is created, nothing removed.
	_, err := d.Discover(ctx, "server m1\nremove server a1\nserver n[1-10001]", "")
	var le *LargeDiscoveryError
	if !errors.As(err, &le) || le.New != 10002 || !strings.Contains(err.Error(), "10002 devices") || !strings.Contains(err.Error(), "add --yes") {
		t.Fatalf("err = %v, want a LargeDiscoveryError naming 10002 devices and --yes", err)
	}
	for _, p := range []string{"/systems/servers/n1", "/systems/servers/m1"} {
		if _, err := tr.Stat(ctx, p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("refused discovery: %s: %v, want it absent", p, err)
		}
	}
	if _, err := tr.Stat(ctx, "/systems/servers/a1/address"); err != nil {
		t.Errorf("refused discovery removed a1: %v", err)
	}

	// Allowed on one tree's discovery only, until withdrawn.
	d.Confirm(true)
	if !d.confirmed.Load() {
		t.Fatal("Confirm(true): not allowed")
	}
	if err := d.checkSize([]*statement{{typ: "server", names: make([]string, 2*LargeDiscovery)}}, ""); err != nil {
		t.Fatalf("allowed: %v", err)
	}
	_, other := newTree(t, "")
	if other.confirmed.Load() {
		t.Fatal("AllowLarge on one tree's discovery allowed it on another")
	}
	d.Confirm(false)
	if d.confirmed.Load() {
		t.Fatal("Confirm(false): still allowed")
	}
}

// remove TYPE NAMES removes the devices and everything in them; a name
// that is not such a device is an error naming it, and changes nothing.
func TestRemoveDevices(t *testing.T) {
	tr, d := newTree(t, "server n[1-3] transport=local")
	ctx := context.Background()
	lines, err := d.Discover(ctx, "remove server n[1-2]", "")
	if err != nil || len(lines) != 1 || !strings.Contains(lines[0], "removed 2 servers: n[1-2]") {
		t.Fatalf("remove = %q, %v", lines, err)
	}
	for _, n := range []string{"n1", "n2"} {
		if _, err := os.Lstat(filepath.Join(tr.BackingDir(), "systems/servers", n)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still there: %v", n, err)
		}
	}
	if _, err := tr.Stat(ctx, "/systems/servers/n3/address"); err != nil {
		t.Errorf("n3: %v", err)
	}
	_, err = d.Discover(ctx, "remove server n9", "")
	if err == nil || !strings.Contains(err.Error(), "no server n9") {
		t.Errorf("remove of a missing device: %v", err)
	}
	_, err = d.Discover(ctx, "remove chassis n3", "")
	if err == nil {
		t.Error("remove of a server as a chassis succeeded")
	}
	if _, err := tr.Stat(ctx, "/systems/servers/n3"); err != nil {
		t.Errorf("n3 removed by a wrong-type remove: %v", err)
	}
}
