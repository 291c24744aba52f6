package linux

import (
	"context"
	"strings"
	"testing"

	"github.com/smctl/smctl/pkg/driver"
	"github.com/smctl/smctl/pkg/transport"
)

// TestFormatCPU: each CPU's shares of the time between two samples:
// user (with nice), system (with irq and softirq), iowait, idle.
func TestFormatCPU(t *testing.T) {
	a := "cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 50 0 25 400 25 0 0 0 0 0\nintr 1 2\n"
	b := "cpu  200 100 100 1500 100 25 25 0 0 0\ncpu0 100 0 50 800 50 0 0 0 0 0\nintr 3 4\n"
	got, err := formatCPU([]byte(a), []byte(b))
	if want := "all 19.0 9.5 4.8 66.7\ncpu0 10.0 5.0 5.0 80.0"; err != nil || got != want {
		t.Errorf("formatCPU = %q, %v; want %q", got, err, want)
	}
	if _, err := formatCPU([]byte("intr 1\n"), []byte("intr 2\n")); err == nil {
		t.Error("no cpu lines: no error")
	}
}

// TestFormatIO: the rates of the disks that did any I/O, over the sample.
func TestFormatIO(t *testing.T) {
	a := "   8  0 sda 100 0 2000 0 50 0 4000 0 0 100 0\n   7 0 loop0 0 0 0 0 0 0 0 0 0 0 0\n"
	b := "   8  0 sda 300 0 6000 0 150 0 8000 0 0 600 0\n   7 0 loop0 0 0 0 0 0 0 0 0 0 0 0\n"
	if got, want := formatIO([]byte(a), []byte(b), 2), "sda 100.0 50.0 1000.0 1000.0 25.0"; got != want {
		t.Errorf("formatIO = %q, want %q", got, want)
	}
}

// TestFormatNet: each interface's rates over the sample.
func TestFormatNet(t *testing.T) {
	head := "Inter-|   Receive |  Transmit\n face |bytes packets|bytes packets\n"
	a := head + "  eth0: 1024 10 0 0 0 0 0 0 2048 20 0 0 0 0 0 0\n"
	b := head + "  eth0: 3072 30 0 0 0 0 0 0 6144 60 0 0 0 0 0 0\n"
	if got, want := formatNet([]byte(a), []byte(b), 2), "eth0 1.0 2.0 10.0 20.0"; got != want {
		t.Errorf("formatNet = %q, want %q", got, want)
	}
}

// TestStatsFiles: memory, load and processes from one read each, and a
// sample's two reads in one command.
func TestStatsFiles(t *testing.T) {
	node := &fakeNode{files: map[string]string{
		"/proc/meminfo": "MemTotal: 1000 kB\nMemFree: 200 kB\nMemAvailable: 600 kB\nSwapTotal: 0 kB\n",
		"/proc/loadavg": "0.15 0.10 0.05 2/123 4567\n",
	}}
	tr := Driver{}.Layer(driver.Device{}, node)
	ctx := context.Background()
	for name, want := range map[string]string{
		"/stats/memory": "total 1000\nfree 200\navailable 600\nswap_total 0\n",
		"/stats/load":   "0.15 0.10 0.05 2/123\n",
	} {
		if got, err := tr.ReadFile(ctx, name, 1<<20); err != nil || string(got) != want {
			t.Errorf("%s: %q, %v; want %q", name, got, err, want)
		}
	}
	sh := &shellNode{out: "running 3\n"}
	sh.out = "cpu 1 2 3\nprocesses 999\nprocs_running 3\nprocs_blocked 1\n0.1 0.2 0.3 3/321 77\n"
	got, err := Driver{}.Layer(driver.Device{}, sh).ReadFile(ctx, "/stats/processes", 1<<20)
	if want := "running 3\nblocked 1\ntotal 321\nforks 999\n"; err != nil || string(got) != want {
		t.Errorf("processes: %q, %v; want %q", got, err, want)
	}
	sh.out, sh.runs = "100.00 1\ncpu 1 0 1 8 0 0 0 0\n@@\n101.00 1\ncpu 2 0 2 16 0 0 0 0\n", 0
	got, err = Driver{}.Layer(driver.Device{}, sh).ReadFile(ctx, "/stats/cpu", 1<<20)
	if err != nil || string(got) != "all 10.0 10.0 0.0 80.0\n" || !strings.Contains(sh.cmd, "sleep 1") || sh.runs != 1 {
		t.Errorf("cpu: %q, %v after %d commands (%q)", got, err, sh.runs, sh.cmd)
	}
	sh.out, sh.exit, sh.stderr = "", 3, "sysstat is not installed on the node (no sadf)\n"
	if _, err := (Driver{}).Layer(driver.Device{}, sh).ReadFile(ctx, "/stats/sar", 1<<20); err == nil || err.Error() != "sysstat is not installed on the node (no sadf)" {
		t.Errorf("sar without sysstat: %v", err)
	}
}

// shellNode answers every command with fixed output.
type shellNode struct {
	transport.Broken
	out, stderr, cmd string
	exit, runs       int
}

func (s *shellNode) Exec(_ context.Context, cmd string, _ []byte, _ int64) (transport.Output, error) {
	s.cmd = cmd
	s.runs++
	return transport.Output{Stdout: []byte(s.out), Stderr: []byte(s.stderr), Exit: s.exit}, nil
}
