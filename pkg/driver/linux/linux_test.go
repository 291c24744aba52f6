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

// fakeNode answers reads from a map of files and who with fixed output.
type fakeNode struct {
	transport.Broken
	files map[string]string
	reads []string
}

func (f *fakeNode) ReadFile(_ context.Context, name string, _ int64) ([]byte, error) {
	f.reads = append(f.reads, name)
	v, ok := f.files[name]
	if !ok {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return []byte(v), nil
}

func (f *fakeNode) Exec(_ context.Context, cmd string, _ []byte, _ int64) (transport.Output, error) {
	if cmd == "who" {
		return transport.Output{Stdout: []byte("root pts/0 2026-11-22 10:00 (10.0.0.1)\n")}, nil
	}
	return transport.Output{Exit: 127}, nil
}

// TestOS: each file of os/ from one read of the node, the listing, and
// every other path passed to the node's transport.
func TestOS(t *testing.T) {
	node := &fakeNode{files: map[string]string{
		"/etc/os-release":            "NAME=\"Debian GNU/Linux\"\nPRETTY_NAME=\"Debian GNU/Linux 13 (trixie)\"\n",
		"/proc/sys/kernel/osrelease": "6.12.0\n",
		"/proc/sys/kernel/hostname":  "n1\n",
		"/proc/loadavg":              "0.15 0.10 0.05 1/123 4567\n",
		"/proc/uptime":               "273906.51 500000.00\n",
		"/proc/cpuinfo":              "processor: 0\n",
	}}
	tr := Driver{}.Layer(driver.Device{}, node)
	ctx := context.Background()
	for name, want := range map[string]string{
		"/os/release": "Debian GNU/Linux 13 (trixie)\n", "/os/kernel": "6.12.0\n", "/os/hostname": "n1\n",
		"/os/loadavg": "0.15 0.10 0.05\n", "/os/uptime": "273906 3d 04:05\n",
		"/os/users": "root pts/0 2026-11-22 10:00 (10.0.0.1)\n", "/proc/cpuinfo": "processor: 0\n",
	} {
		node.reads = nil
		got, err := tr.ReadFile(ctx, name, 1<<20)
		if err != nil || string(got) != want {
			t.Errorf("%s: %q, %v; want %q", name, got, err, want)
		}
		if len(node.reads) > 1 {
			t.Errorf("%s: read %v, want one round trip", name, node.reads)
		}
	}
	es, err := tr.ReadDir(ctx, "/os")
	var names []string
	for _, e := range es {
		names = append(names, e.Name)
	}
	if err != nil || strings.Join(names, " ") != "hostname kernel loadavg reboot release shutdown sysctl.conf uptime users" {
		t.Errorf("ReadDir /os: %v, %v", names, err)
	}
	if e, err := tr.Stat(ctx, "/os"); err != nil || !e.Mode.IsDir() {
		t.Errorf("Stat /os: %+v, %v", e, err)
	}
	if e, err := tr.Stat(ctx, "/os/kernel"); err != nil || e.Mode.IsDir() {
		t.Errorf("Stat /os/kernel: %+v, %v", e, err)
	}
	for _, name := range []string{"/os/nothere", "/os/kernel/x"} {
		if _, err := tr.ReadFile(ctx, name, 100); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("ReadFile %s: %v", name, err)
		}
		if _, err := tr.Stat(ctx, name); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Stat %s: %v", name, err)
		}
	}
	if _, err := tr.ReadDir(ctx, "/os/kernel"); err == nil {
		t.Error("ReadDir of a file")
	}
	if _, err := tr.ReadFile(ctx, "/os/release", 5); !errors.Is(err, transport.ErrTooLarge) {
		t.Errorf("past max: %v", err)
	}
	// A path that only looks like os/ is the node's.
	if _, err := tr.ReadFile(ctx, "/osx/a", 10); err == nil || !strings.Contains(err.Error(), "/osx/a") {
		t.Errorf("/osx/a: %v", err)
	}
}

func TestPrettyName(t *testing.T) {
	for in, want := range map[string]string{
		"PRETTY_NAME='Alpine Linux v3.20'\n":       "Alpine Linux v3.20",
		"NAME=Fedora\nVERSION=\"40 (Server)\"\n":   "Fedora 40 (Server)",
		"# comment\nPRETTY_NAME=\"a \\\"b\\\"\"\n": `a "b"`,
		"": "",
	} {
		if got := prettyName([]byte(in)); got != want {
			t.Errorf("prettyName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFormatUptime(t *testing.T) {
	for in, want := range map[string]string{"0.5 1": "0 0d 00:00", "86399.9 1": "86399 0d 23:59", "90061 0": "90061 1d 01:01"} {
		if got, err := formatUptime([]byte(in)); err != nil || got != want {
			t.Errorf("formatUptime(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "x 1", "-5 1"} {
		if _, err := formatUptime([]byte(in)); err == nil {
			t.Errorf("formatUptime(%q): no error", in)
		}
	}
}

// TestWritable: the paths the driver writes, by their names alone;
// sysctl keys that sysctl would read another way (dotted, key=value) are
// not among them.
func TestWritable(t *testing.T) {
	w := Driver{}.Layer(driver.Device{}, transport.Local{}).(transport.Writer)
	for p, want := range map[string]bool{
		"/proc/sys/net/ipv4/ip_forward": true, "/proc/sys/net/ipv4/conf/eth0.1/forwarding": true,
		"/proc/sys/kernel.domainname": false, "/proc/sys/kernel/hostname=pwn": false, "/proc/sys/kernel/a b": false,
		"/proc/sys/kernel": false, "/proc/loadavg": false, "/sys/kernel/mm/transparent_hugepage/enabled": false,
		"/os/hostname": true, "/os/reboot": true, "/os/kernel": false, "/os/nothere": false, "/stats/cpu": false,
		"/processes/7/nice": true, "/processes/7/signal": true, "/processes/7/limits/nofile": true,
		"/processes/7/limits/nosuch": false, "/processes/7/cmdline": false, "/processes/index": false,
		"/disks/sda/partitions": true, "/disks/sda/sda1/mkfs": true, "/disks/sda/sda1/mountpoint": true,
		"/disks/sda/size": false, "/disks/sda/sda1/usage": false,
	} {
		if got := w.Writable(p); got != want {
			t.Errorf("Writable(%s) = %v, want %v", p, got, want)
		}
	}
}

// TestSignalArg: names and numbers kill -s takes; a number only in one
// spelling, so that KILL is always recognised as destructive.
func TestSignalArg(t *testing.T) {
	for v, want := range map[string]string{"TERM": "TERM", "sigkill": "KILL", "9": "9", "64": "64", "0": "0",
		"09": "", "+9": "", "65": "", "-9": "", "NOPE": "", "": ""} {
		got, err := signalArg(v)
		if got != want || (err == nil) != (want != "") {
			t.Errorf("signalArg(%q) = %q, %v; want %q", v, got, err, want)
		}
	}
}

// TestDriverDestroys: by a file's name and the value, as smctl write asks
// before looking at any path; the same declarations as each path's.
func TestDriverDestroys(t *testing.T) {
	for _, tt := range []struct {
		name, value string
		want        bool
	}{
		{"reboot", "now", true}, {"signal", "KILL", true}, {"signal", "9", true}, {"signal", "TERM", false},
		{"state", "stop", true}, {"state", "start", false}, {"mkfs", "ext4", true}, {"command", "rm -rf /", false},
		{"nice", "5", false}, {"hostname", "x", false},
	} {
		if got := (Driver{}).Destroys(tt.name, []byte(tt.value)); got != tt.want {
			t.Errorf("Destroys(%s, %s) = %v", tt.name, tt.value, got)
		}
	}
	w := Driver{}.Layer(driver.Device{}, transport.Local{}).(transport.Writer)
	for p, want := range map[string]string{"/os/reboot": "*", "/os/kernel": "", "/processes/7/signal": "KILL SIGKILL 9",
		"/services/sshd/state": "stop restart", "/disks/sda/partitions": "*", "/disks/sda/sda1/mkfs": "*", "/disks/sda/sda1/size": ""} {
		if got := strings.Join(w.Destructive(p), " "); got != want {
			t.Errorf("Destructive(%s) = %q, want %q", p, got, want)
		}
	}
}
