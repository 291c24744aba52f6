package linux

import (
	"context"
	"errors"
	"io/fs"
	"strings"
	"testing"

	"github.com/smctl/smctl/pkg/driver"
	"github.com/smctl/smctl/pkg/transport"
)

func TestStatField(t *testing.T) {
	line := "4242 (sleep (x) y) S 1 4242 4242 0 -1 4194304 90 0 0 0 0 0 0 0 20 5 1 0 100 1000 50\n"
	if got, err := statField(line, "state"); err != nil || got != "S (sleeping)" {
		t.Errorf("state: %q, %v", got, err)
	}
	if got, err := statField(line, "nice"); err != nil || got != "5" {
		t.Errorf("nice: %q, %v", got, err)
	}
	if _, err := statField("garbage", "state"); err == nil {
		t.Error("garbage: no error")
	}
}

func TestUnitOf(t *testing.T) {
	for in, want := range map[string]string{
		"0::/system.slice/ssh.service\n":                         "ssh.service",
		"0::/user.slice/user-0.slice/session-3.scope\n":          "session-3.scope",
		"12:pids:/system.slice/cron.service\n1:name=systemd:/\n": "cron.service",
		"0::/\n": "-",
		"0::/system.slice/docker-1.scope/init.scope/x.service\n": "x.service",
	} {
		if got := unitOf(in); got != want {
			t.Errorf("unitOf(%q) = %q, want %q", in, got, want)
		}
	}
}

// procNode is a node with one process, 7.
type procNode struct{ fakeNode }

func (p *procNode) ReadDir(_ context.Context, name string) ([]transport.Entry, error) {
	return []transport.Entry{{Name: "7", Mode: fs.ModeDir}, {Name: "self", Mode: fs.ModeSymlink}, {Name: "stat"}}, nil
}

func (p *procNode) Stat(_ context.Context, name string) (transport.Entry, error) {
	if name == "/proc/7" {
		return transport.Entry{Name: "7", Mode: fs.ModeDir}, nil
	}
	return transport.Entry{}, fs.ErrNotExist
}

// TestProcesses: the listing, a process's files and limits, and what is
// not a process.
func TestProcesses(t *testing.T) {
	node := &procNode{fakeNode{files: map[string]string{
		"/proc/7/cmdline": "sleep\x00300\x00",
		"/proc/7/limits":  "Limit                     Soft Limit           Hard Limit           Units\nMax open files            1024                 524288               files\nMax processes             unlimited            unlimited            processes\n",
		"/proc/7/cgroup":  "0::/system.slice/ssh.service\n",
	}}}
	tr := Driver{}.Layer(driver.Device{}, node)
	ctx := context.Background()
	names := func(es []transport.Entry, err error) string {
		var out []string
		for _, e := range es {
			out = append(out, e.Name)
		}
		return strings.Join(out, " ") + errString(err)
	}
	for p, want := range map[string]string{
		"/processes": "index 7", "/processes/7": "cmdline limits nice service signal state user", "/processes/7/limits": "nofile nproc",
	} {
		if got := names(tr.ReadDir(ctx, p)); got != want {
			t.Errorf("ReadDir %s: %q, want %q", p, got, want)
		}
	}
	for p, want := range map[string]string{
		"/processes/7/cmdline": "sleep 300\n", "/processes/7/limits/nofile": "1024 524288\n",
		"/processes/7/limits/nproc": "unlimited unlimited\n", "/processes/7/service": "ssh.service\n",
	} {
		if got, err := tr.ReadFile(ctx, p, 1<<20); err != nil || string(got) != want {
			t.Errorf("%s: %q, %v; want %q", p, got, err, want)
		}
	}
	for _, p := range []string{"/processes/8", "/processes/x", "/processes/7/nothere", "/processes/7/limits/nothere"} {
		if _, err := tr.Stat(ctx, p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Stat %s: %v", p, err)
		}
	}
	for p, dir := range map[string]bool{"/processes": true, "/processes/7": true, "/processes/7/limits": true, "/processes/7/state": false, "/processes/7/limits/nofile": false, "/processes/index": false} {
		if e, err := tr.Stat(ctx, p); err != nil || e.Mode.IsDir() != dir {
			t.Errorf("Stat %s: %+v, %v", p, e, err)
		}
	}
	if _, err := tr.ReadFile(ctx, "/processes/7/limits/core", 100); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a limit the node does not list: %v", err)
	}
}

func errString(err error) string {
	if err != nil {
		return " error: " + err.Error()
	}
	return ""
}
