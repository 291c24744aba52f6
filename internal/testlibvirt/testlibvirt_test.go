package testlibvirt

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/smctl/smctl/internal/testpriv"
)

// leftovers are the live processes whose command line or environment
// names dir: what a farm in dir started and did not stop.
func leftovers(t *testing.T, dir string) []int {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() || !alive(pid) {
			continue
		}
		for _, f := range []string{"cmdline", "environ"} {
			b, _ := os.ReadFile(filepath.Join("/proc", e.Name(), f))
			if strings.Contains(string(b), dir) {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}

// start starts a farm, stopped and checked for leftovers when the test
// ends.
func start(t *testing.T, opts Options) *Farm {
	t.Helper()
	t0 := time.Now()
	f, err := Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Start %d hosts x %d VMs (%s): %v", opts.Hosts, opts.VMs, f.Driver, time.Since(t0).Round(time.Millisecond))
	t.Cleanup(func() {
		var pids []int
		for _, h := range f.Hosts {
			pids = append(pids, h.PIDs()...)
		}
		t0 := time.Now()
		if err := f.Stop(); err != nil {
			t.Error(err)
		}
		t.Logf("Stop: %v", time.Since(t0).Round(time.Millisecond))
		for _, pid := range pids {
			if alive(pid) {
				t.Errorf("pid %d (%s) still alive after Stop", pid, cmdline(pid))
			}
		}
		if l := leftovers(t, f.Dir); len(l) > 0 {
			t.Errorf("processes naming %s left after Stop: %v", f.Dir, l)
		}
		if _, err := os.Stat(f.Dir); !os.IsNotExist(err) {
			t.Errorf("%s left after Stop: %v", f.Dir, err)
		}
	})
	return f
}

func cmdline(pid int) string {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	return strings.ReplaceAll(string(b), "\x00", " ")
}

func virsh(t *testing.T, h *Host, args ...string) string {
	t.Helper()
	out, err := h.Virsh(args...)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(out)
}

// checkStates fails t unless the host's VMs are exactly want.
func checkStates(t *testing.T, h *Host, want map[string]string) {
	t.Helper()
	got := map[string]string{}
	for _, line := range strings.Split(virsh(t, h, "list", "--all"), "\n") {
		if f := strings.Fields(line); len(f) >= 3 {
			got[f[1]] = strings.Join(f[2:], " ")
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s: VMs %v, want %v", h.Name, got, want)
	}
}

// checkHosts checks what every farm gets: sockets of the daemon user,
// distinct host UUIDs, the VMs, their UUIDs and states.
func checkHosts(t *testing.T, f *Farm, vms int) {
	t.Helper()
	for i, h := range f.Hosts {
		if want := fmt.Sprintf("h%d", i+1); h.Name != want || h.Dir != filepath.Join(f.Dir, want) {
			t.Errorf("host %d: name %s, dir %s", i, h.Name, h.Dir)
		}
		fi, err := os.Stat(h.Socket)
		if err != nil || fi.Mode().Type() != os.ModeSocket {
			t.Fatalf("%s: socket %s: %v", h.Name, h.Socket, err)
		}
		if os.Geteuid() == 0 {
			if uid := fi.Sys().(*syscall.Stat_t).Uid; uid == 0 {
				t.Errorf("%s: socket owned by root: libvirtd must run as %s", h.Name, DaemonUser)
			}
		}
		if !strings.HasSuffix(h.URI, "?socket="+h.Socket) {
			t.Errorf("%s: URI %s", h.Name, h.URI)
		}
		// (Distinct host UUIDs: the migration in TestQEMUDriver; virsh
		// capabilities would cost ~2 s a host, probing every QEMU binary.)
		want := map[string]string{}
		for j := 1; j <= vms; j++ {
			want[vmName(i+1, j)] = map[bool]string{true: "running", false: "shut off"}[j%2 == 1]
			if got := virsh(t, h, "domuuid", vmName(i+1, j)); got != vmUUID(i+1, j) {
				t.Errorf("%s: UUID %s, want %s", vmName(i+1, j), got, vmUUID(i+1, j))
			}
		}
		checkStates(t, h, want)
		if len(h.PIDs()) < 2 {
			t.Errorf("%s: PIDs %v: want libvirtd and the keeper at least", h.Name, h.PIDs())
		}
	}
}

func TestTestDriver(t *testing.T) {
	if !Available() {
		testpriv.Need(t, "libvirtd and virsh (apt-get install libvirt-daemon libvirt-clients)")
	}
	t.Parallel()
	f := start(t, Options{Hosts: 2, VMs: 3})
	checkHosts(t, f, 3)
	h1, h2 := f.Hosts[0], f.Hosts[1]

	// Changes made by one client outlive it (the keeper holds the state).
	virsh(t, h1, "start", "h1-vm2")
	virsh(t, h1, "destroy", "h1-vm1")
	checkStates(t, h1, map[string]string{"h1-vm1": "shut off", "h1-vm2": "running", "h1-vm3": "running"})
	if got := virsh(t, h1, "domstate", "--reason", "h1-vm1"); got != "shut off (destroyed)" {
		t.Errorf("h1-vm1: %q", got)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, _ := os.ReadFile(filepath.Join(h1.Dir, "events.log"))
		if strings.Contains(string(b), "h1-vm1") && strings.Contains(string(b), "Stopped") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("events.log has no Stopped event of h1-vm1: %q", b)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// A crash of h2 leaves h1 alone; Stop still cleans h2 up.
	pid := h2.LibvirtdPID
	if err := f.KillHost(1); err != nil {
		t.Fatal(err)
	}
	if alive(pid) {
		t.Errorf("h2's libvirtd %d alive after KillHost", pid)
	}
	if _, err := h2.Virsh("list"); err == nil {
		t.Errorf("h2 answers after KillHost")
	}
	virsh(t, h1, "list")
	if err := f.StopHost(1); err != nil {
		t.Error(err)
	}
	if len(h2.PIDs()) != 0 {
		t.Errorf("h2: %v alive after StopHost", h2.PIDs())
	}
}

func TestQEMUDriver(t *testing.T) {
	if !QEMUAvailable() {
		testpriv.Need(t, "libvirtd, virsh and qemu-system-x86_64 (apt-get install libvirt-daemon libvirt-clients qemu-system-x86)")
	}
	t.Parallel()
	f := start(t, Options{Hosts: 2, VMs: 2, Driver: DriverQEMU})
	checkHosts(t, f, 2)
	h1, h2 := f.Hosts[0], f.Hosts[1]
	if n := len(h1.qemuPIDs()); n != 1 {
		t.Fatalf("h1: %d QEMUs, want 1", n)
	}
	// Live migration there and back: the farm's hosts are distinct hosts
	// to libvirt, and the stream stays on loopback.
	loop := []string{"--migrateuri", "tcp://127.0.0.1", "--listen-address", "127.0.0.1"}
	t0 := time.Now()
	virsh(t, h1, append([]string{"migrate", "--live", "--persistent", "--undefinesource", "h1-vm1", h2.URI}, loop...)...)
	t.Logf("live migration h1 -> h2: %v", time.Since(t0).Round(time.Millisecond))
	checkStates(t, h1, map[string]string{"h1-vm2": "shut off"})
	checkStates(t, h2, map[string]string{"h1-vm1": "running", "h2-vm1": "running", "h2-vm2": "shut off"})
	if got := virsh(t, h2, "domstate", "--reason", "h1-vm1"); got != "running (migrated)" {
		t.Errorf("h1-vm1 on h2: %q", got)
	}
	if n := len(h2.qemuPIDs()); n != 2 {
		t.Errorf("h2: %d QEMUs, want 2", n)
	}
	t0 = time.Now()
	virsh(t, h2, append([]string{"migrate", "--live", "--p2p", "--persistent", "--undefinesource", "h1-vm1", h1.URI}, loop...)...)
	t.Logf("live migration h2 -> h1 (p2p): %v", time.Since(t0).Round(time.Millisecond))
	checkStates(t, h1, map[string]string{"h1-vm1": "running", "h1-vm2": "shut off"})
	checkStates(t, h2, map[string]string{"h2-vm1": "running", "h2-vm2": "shut off"})

	// A crash of h1's libvirtd leaves its QEMU running; Stop kills it.
	q := h1.qemuPIDs()
	if err := f.KillHost(0); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(h1.qemuPIDs(), q) || len(q) != 1 {
		t.Errorf("h1's QEMUs %v after KillHost, want %v", h1.qemuPIDs(), q)
	}
}

func TestCheckDir(t *testing.T) {
	long := "/tmp/" + strings.Repeat("x", 60)
	for _, tc := range []struct {
		name string
		dir  string
		opts Options
		bad  string
	}{
		{"short test", "/tmp/smctl-lv-1", Options{Hosts: 2, VMs: 3}, ""},
		{"short qemu", "/tmp/smctl-lv-1", Options{Hosts: 99, VMs: 999, Driver: DriverQEMU}, ""},
		{"long qemu", long, Options{Hosts: 2, VMs: 2, Driver: DriverQEMU}, "too long"},
		{"long test", long + strings.Repeat("y", 20), Options{Hosts: 2}, "too long"},
		{"long qemu no VMs", long, Options{Hosts: 2, Driver: DriverQEMU}, ""},
		{"bad driver", "/tmp/x", Options{Hosts: 1, Driver: "xen"}, "driver"},
		{"no hosts", "/tmp/x", Options{}, "hosts"},
		{"too many VMs", "/tmp/x", Options{Hosts: 1, VMs: 1000}, "VMs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckDir(tc.dir, tc.opts)
			if (err == nil) != (tc.bad == "") || err != nil && !strings.Contains(err.Error(), tc.bad) {
				t.Errorf("CheckDir(%s): %v, want %q", tc.dir, err, tc.bad)
			}
		})
	}
	t.Run("unsearchable", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("libvirtd runs as the caller unless root")
		}
		d, err := os.MkdirTemp("", "lv-")
		if err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(d)
		os.Chmod(d, 0o700)
		if err := CheckDir(filepath.Join(d, "f"), Options{Hosts: 1}); err == nil || !strings.Contains(err.Error(), "cannot search "+d) {
			t.Errorf("CheckDir under a 0700 directory: %v", err)
		}
	})
}

// TestStartFails: a daemon that does not answer is an error carrying
// the end of its log, and leaves nothing behind.
func TestStartFails(t *testing.T) {
	if !Available() {
		testpriv.Need(t, "libvirtd and virsh (apt-get install libvirt-daemon libvirt-clients)")
	}
	t.Parallel()
	for _, tc := range []struct {
		name    string
		timeout time.Duration
		prepare string // a directory made where the socket goes
		want    string
	}{
		{"exits", 0, "h1/run/libvirt/libvirt-sock", "libvirtd exited"},
		{"timeout", time.Nanosecond, "", "did not answer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, err := os.MkdirTemp("", "lv-")
			if err != nil {
				t.Fatal(err)
			}
			defer os.RemoveAll(dir)
			os.Chmod(dir, 0o755)
			if tc.prepare != "" {
				if err := os.MkdirAll(filepath.Join(dir, tc.prepare), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			f, err := Start(Options{Hosts: 1, Dir: dir, Timeout: tc.timeout})
			if err == nil {
				f.Stop()
				t.Fatalf("Start: no error")
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "libvirtd.log") {
				t.Errorf("Start: %v, want %q and the log", err, tc.want)
			}
			t.Log(err)
			if l := leftovers(t, dir); len(l) > 0 {
				t.Errorf("processes left: %v", l)
			}
		})
	}
}

// BenchmarkStartStop measures Start and Stop of small farms of each
// driver (go test -run '^$' -bench . -benchtime 3x ./internal/testlibvirt/):
// start-s and stop-s are seconds per farm.
func BenchmarkStartStop(b *testing.B) {
	for _, opts := range []Options{
		{Hosts: 2, VMs: 3, Driver: DriverTest},
		{Hosts: 10, VMs: 5, Driver: DriverTest},
		{Hosts: 2, VMs: 2, Driver: DriverQEMU},
	} {
		b.Run(fmt.Sprintf("%s-%dx%d", opts.Driver, opts.Hosts, opts.VMs), func(b *testing.B) {
			if opts.Driver == DriverQEMU && !QEMUAvailable() || !Available() {
				b.Skip("libvirt not installed")
			}
			var start, stop time.Duration
			for b.Loop() {
				t0 := time.Now()
				f, err := Start(opts)
				if err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				err = f.Stop()
				stop += time.Since(t1)
				start += t1.Sub(t0)
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(start.Seconds()/float64(b.N), "start-s")
			b.ReportMetric(stop.Seconds()/float64(b.N), "stop-s")
		})
	}
}

// TestSweepDead: a farm whose test process died without Stop is stopped
// and removed by the next Start's sweep; a live owner's farm is not.
func TestSweepDead(t *testing.T) {
	if !Available() {
		testpriv.Need(t, "libvirtd and virsh (apt-get install libvirt-daemon libvirt-clients)")
	}
	f, err := Start(Options{Hosts: 1, VMs: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Stop()
	sweepDead() // its owner (this process) is alive
	pids := f.Hosts[0].PIDs()
	if len(pids) != 2 {
		t.Fatalf("PIDs %v before the sweep: want libvirtd and the keeper", pids)
	}
	// a PID that is gone: a child that ended and was reaped
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	owner := fmt.Sprintf("%d 1\n", dead.Process.Pid)
	if err := os.WriteFile(filepath.Join(f.Dir, ownerFile), []byte(owner), 0o644); err != nil {
		t.Fatal(err)
	}
	sweepDead()
	for _, pid := range pids {
		if alive(pid) {
			t.Errorf("pid %d (%s) alive after the sweep", pid, cmdline(pid))
		}
	}
	if _, err := os.Stat(f.Dir); !os.IsNotExist(err) {
		t.Errorf("%s after the sweep: %v", f.Dir, err)
	}
	if err := f.Stop(); err != nil {
		t.Errorf("Stop after the sweep: %v", err)
	}
}
