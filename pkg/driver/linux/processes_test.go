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

// scriptNode is procNode answering commands from a script, recording them.
type scriptNode struct {
	procNode
	answers map[string]transport.Output
	cmds    []string
}

func (s *scriptNode) Exec(_ context.Context, cmd string, _ []byte, _ int64) (transport.Output, error) {
	s.cmds = append(s.cmds, cmd)
	if out, ok := s.answers[cmd]; ok {
		return out, nil
	}
	return transport.Output{Exit: 127, Stderr: []byte("unexpected command\n")}, nil
}

// TestProcessWrites: each write one command (none for a value refused),
// what the node refuses an error, a nice value read back.
func TestProcessWrites(t *testing.T) {
	stat := func(nice string) transport.Output {
		return transport.Output{Stdout: []byte("7 (sleep) S 1 7 7 0 -1 4194304 90 0 0 0 0 0 0 0 20 " + nice + " 1 0 100 1000 50\n")}
	}
	for _, tt := range []struct {
		path, value string
		answers     map[string]transport.Output
		want, err   string
		cmds        int
	}{
		{"/processes/7/nice", "5", map[string]transport.Output{"renice 5 -p 7 >/dev/null || exit; cat /proc/7/stat": stat("5")}, "5\n", "", 1},
		{"/processes/7/nice", "-5", map[string]transport.Output{"renice -5 -p 7 >/dev/null || exit; cat /proc/7/stat": {Exit: 1, Stderr: []byte("renice: failed to set priority for 7 (process ID): Permission denied\n")}}, "", "Permission denied", 1},
		{"/processes/7/nice", "3", map[string]transport.Output{"renice 3 -p 7 >/dev/null || exit; cat /proc/7/stat": stat("0")}, "", "the nice value is 0", 1},
		{"/processes/7/nice", "40", nil, "", "from -20 to 19", 0},
		{"/processes/7/limits/nofile", "512 1024", map[string]transport.Output{"prlimit --pid 7 --nofile=512:1024": {}}, "512 1024\n", "", 1},
		{"/processes/7/limits/stack", "unlimited", map[string]transport.Output{"prlimit --pid 7 --stack=unlimited:unlimited": {}}, "unlimited unlimited\n", "", 1},
		{"/processes/7/limits/nofile", "1 2 3", nil, "", "SOFT HARD", 0},
		{"/processes/7/signal", "KILL", map[string]transport.Output{"kill -s KILL 7": {}}, "", "", 1},
		{"/processes/7/signal", "09", nil, "", "is not a signal", 0},
		{"/processes/7/cmdline", "x", nil, "", "not writable", 0},
		{"/processes/8/nice", "1", nil, "", "does not exist", 0},
	} {
		node := &scriptNode{answers: tt.answers}
		w := Driver{}.Layer(driver.Device{}, node).(transport.Writer)
		got, err := w.WriteFile(context.Background(), tt.path, []byte(tt.value+"\n"))
		if string(got) != tt.want || (err == nil) != (tt.err == "") || err != nil && !strings.Contains(err.Error(), tt.err) || len(node.cmds) != tt.cmds {
			t.Errorf("%s %q: %q, %v, ran %q; want %q, %q, %d commands", tt.path, tt.value, got, err, node.cmds, tt.want, tt.err, tt.cmds)
		}
	}
}
