package vtree

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// TestDelegateAPI: what pkg/delegate learns of the tree through the
// accessors of delegate_api.go.
func TestDelegateAPI(t *testing.T) {
	tr := newTree(t, map[string]string{
		"server/power.read":   `echo on`,
		"server/power.write":  `cat >/dev/null`,
		"server/reboot.write": `cat >/dev/null`,
		"server/model.read":   `echo x3650`,
	}, "server n1 transport=local\n")
	ctx := context.Background()

	if b, err := os.ReadFile(filepath.Join(tr.BackingDir(), "systems/servers", IndexFile)); err != nil || !strings.Contains(string(b), "\nn1 server\n") {
		t.Errorf("BackingDir %s: no n1 in servers/%s: %q, %v", tr.BackingDir(), IndexFile, b, err)
	}
	m := syscall.Umask(0)
	syscall.Umask(m)
	if got, want := NewFileMode(), fs.FileMode(0o666&^m); got != want {
		t.Errorf("NewFileMode() = %v, want %v", got, want)
	}

	w := tr.WriteAgents("server")
	for _, name := range []string{"power", "reboot"} {
		if !slices.Contains(w, name) {
			t.Errorf("WriteAgents(server) = %q: no %s", w, name)
		}
	}
	if slices.Contains(w, "model") || !slices.IsSorted(w) {
		t.Errorf("WriteAgents(server) = %q: want sorted, without model (read agent only)", w)
	}
	if w := tr.WriteAgents("no-such-type"); len(w) != 0 {
		t.Errorf("WriteAgents(no-such-type) = %q", w)
	}

	for _, tc := range []struct {
		path string
		want Resolved
		err  error
	}{
		{"/", Resolved{Dir: true, Stored: true}, nil},
		{"/sysman/systems/servers/n1", Resolved{Dir: true, Stored: true}, nil},
		{"/systems/servers/n1/address", Resolved{Stored: true}, nil},
		{"/systems/servers/n1/reboot", Resolved{}, nil}, // an agent, nothing stored yet
		{"/systems/servers/n1/proc", Resolved{Live: true, Dir: true}, nil},
		{"/systems/servers/n1/proc/cpuinfo", Resolved{Live: true}, nil},
		{"/systems/servers/n9", Resolved{}, fs.ErrNotExist},
		{"/systems/servers/n1/nothing", Resolved{}, fs.ErrNotExist},
		{"/systems/servers/n1/address/x", Resolved{}, ErrNotDir},
		{"/.type", Resolved{}, ErrBadPath},
	} {
		got, err := tr.Resolve(ctx, tc.path)
		var pe *fs.PathError
		if tc.err != nil && (!errors.Is(err, tc.err) || !errors.As(err, &pe)) || tc.err == nil && err != nil {
			t.Errorf("Resolve(%s): %v, want %v", tc.path, err, tc.err)
		}
		if got != tc.want {
			t.Errorf("Resolve(%s) = %+v, want %+v", tc.path, got, tc.want)
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := tr.Resolve(cctx, "/systems"); !errors.Is(err, context.Canceled) {
		t.Errorf("Resolve with a cancelled context: %v", err)
	}
}
