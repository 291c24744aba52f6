package testha

import (
	"context"
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

	"github.com/smctl/smctl/internal/testbmc"
	"github.com/smctl/smctl/internal/testlibvirt"
	"github.com/smctl/smctl/internal/testpriv"
)

// alive reports whether pid has not ended (a zombie has).
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] != 'Z'
}

// leftovers are the live processes whose command line or environment
// names dir.
func leftovers(t testing.TB, dir string) []int {
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

func need(t testing.TB, driver string) {
	t.Helper()
	if driver == testlibvirt.DriverQEMU && !QEMUAvailable() || !Available() {
		testpriv.Need(t, "libvirtd, virsh, qemu-system-x86_64 and ipmi_sim (apt-get install libvirt-daemon libvirt-clients qemu-system-x86 openipmi)")
	}
	if _, err := exec.LookPath("ipmitool"); err != nil {
		testpriv.Need(t, "ipmitool (apt-get install ipmitool)")
	}
}

// start starts a farm, stopped when the test ends (also when it fails
// midway), and checks that Stop leaves no process behind.
func start(t testing.TB, opts Options) *Farm {
	t.Helper()
	t0 := time.Now()
	f, err := Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Start %d hosts x %d VMs: %v", opts.Hosts, opts.VMs, time.Since(t0).Round(time.Millisecond))
	t.Cleanup(func() {
		var pids []int
		for _, h := range f.Hosts {
			pids = append(pids, h.PIDs()...)
			b, _ := os.ReadFile(filepath.Join(h.BMC.Dir, "pid"))
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				pids = append(pids, pid)
			}
		}
		if err := f.Stop(); err != nil {
			t.Error(err)
		}
		for _, pid := range pids {
			if alive(pid) {
				t.Errorf("pid %d still alive after Stop", pid)
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

// ipmitool runs ipmitool lanplus against the BMC (-C 3: ipmi_sim has no
// Get Channel Cipher Suites) with extra options first.
func ipmitool(b *testbmc.BMC, args ...string) (string, error) {
	a := []string{"-I", "lanplus", "-C", "3", "-H", "127.0.0.1", "-p", strconv.Itoa(b.Port), "-U", testbmc.User, "-P", testbmc.Password}
	out, err := exec.Command("ipmitool", append(a, args...)...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func powerStatus(t *testing.T, h *Host) string {
	t.Helper()
	out, err := ipmitool(h.BMC, "chassis", "power", "status")
	if err != nil {
		t.Fatalf("%s: chassis power status: %v: %s", h.Name, err, out)
	}
	return out
}

func virsh(t *testing.T, h *Host, args ...string) string {
	t.Helper()
	out, err := h.Virsh(args...)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(out)
}

func checkRunning(t *testing.T, f *Farm, want map[string][]string) {
	t.Helper()
	if got := f.Running(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("running %v, want %v", got, want)
	}
}

func waitUp(t *testing.T, f *Farm, i int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	t0 := time.Now()
	if err := f.WaitUp(ctx, i); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s up again after %v", f.Hosts[i].Name, time.Since(t0).Round(time.Millisecond))
}

// TestFence: a crashed host's QEMU runs on until its BMC powers it off;
// then nothing of it runs, and a power on brings back its libvirtd with
// its definitions and no VM running. A silent BMC times out.
func TestFence(t *testing.T) {
	need(t, testlibvirt.DriverQEMU)
	t.Parallel()
	f := start(t, Options{Hosts: 2, VMs: 1})
	h1, h2 := f.Hosts[0], f.Hosts[1]
	if got := virsh(t, h1, "domstate", "h1-vm1"); got != "running" {
		t.Fatalf("h1-vm1: %q", got)
	}
	checkRunning(t, f, map[string][]string{"h1-vm1": {"h1"}, "h2-vm1": {"h2"}})
	if got := powerStatus(t, h1); got != "Chassis Power is on" {
		t.Errorf("h1: %q", got)
	}

	// Crash: libvirtd gone, the QEMU still runs (and counts).
	q, d := h1.QEMUs()["h1-vm1"], h1.LibvirtdPID
	if q == 0 || !alive(q) || !alive(d) {
		t.Fatalf("h1: QEMU %d, libvirtd %d", q, d)
	}
	if err := f.Crash(0); err != nil {
		t.Fatal(err)
	}
	if alive(d) || !alive(q) {
		t.Fatalf("after Crash: libvirtd %d alive %v, QEMU %d alive %v", d, alive(d), q, alive(q))
	}
	if _, err := h1.Virsh("list"); err == nil {
		t.Errorf("h1 answers after Crash")
	}
	checkRunning(t, f, map[string][]string{"h1-vm1": {"h1"}, "h2-vm1": {"h2"}})

	// The BMC's power off fences: once it answers, the QEMU has ended.
	t0 := time.Now()
	if out, err := ipmitool(h1.BMC, "chassis", "power", "off"); err != nil {
		t.Fatalf("power off: %v: %s", err, out)
	}
	t.Logf("ipmitool chassis power off: %v", time.Since(t0).Round(time.Millisecond))
	if alive(q) {
		t.Errorf("h1's QEMU %d alive after the power off", q)
	}
	if got := powerStatus(t, h1); got != "Chassis Power is off" {
		t.Errorf("h1: %q", got)
	}
	if !h1.Fenced() {
		t.Errorf("h1 not marked fenced")
	}
	checkRunning(t, f, map[string][]string{"h2-vm1": {"h2"}})
	log, _ := os.ReadFile(filepath.Join(h1.Dir, "fence.log"))
	t.Logf("fence.log: %s", log)
	if !strings.Contains(string(log), "off: killed libvirtd - qemu/virtlogd "+strconv.Itoa(q)+" in") {
		t.Errorf("fence.log: %q, want QEMU %d killed", log, q)
	}

	// Power on: libvirtd back, the VM defined and not running.
	if out, err := ipmitool(h1.BMC, "chassis", "power", "on"); err != nil {
		t.Fatalf("power on: %v: %s", err, out)
	}
	waitUp(t, f, 0)
	if got := virsh(t, h1, "list", "--all", "--name"); got != "h1-vm1" {
		t.Errorf("h1 after power on: VMs %q", got)
	}
	if got := virsh(t, h1, "domstate", "h1-vm1"); got != "shut off" {
		t.Errorf("h1-vm1 after power on: %q", got)
	}
	checkRunning(t, f, map[string][]string{"h2-vm1": {"h2"}})

	// Crash and Recover: libvirtd takes the running QEMU back.
	q2 := h2.QEMUs()["h2-vm1"]
	if err := f.Crash(1); err != nil {
		t.Fatal(err)
	}
	if err := f.Recover(1); err != nil {
		t.Fatal(err)
	}
	if got := virsh(t, h2, "domstate", "h2-vm1"); got != "running" || h2.QEMUs()["h2-vm1"] != q2 {
		t.Errorf("h2-vm1 after Recover: %q, QEMU %v (was %d)", got, h2.QEMUs(), q2)
	}

	// A silent BMC: requests time out; the host runs on. Restored, it
	// answers with the power state it had.
	if err := f.SilenceBMC(1); err != nil {
		t.Fatal(err)
	}
	t0 = time.Now()
	out, err := ipmitool(h2.BMC, "-N", "1", "-R", "1", "chassis", "power", "status")
	if err == nil {
		t.Errorf("silent BMC answered: %s", out)
	}
	t.Logf("silent BMC: %v after %v: %s", err, time.Since(t0).Round(time.Millisecond), out)
	checkRunning(t, f, map[string][]string{"h2-vm1": {"h2"}})
	if err := f.RestoreBMC(1); err != nil {
		t.Fatal(err)
	}
	if got := powerStatus(t, h2); got != "Chassis Power is on" {
		t.Errorf("h2 after RestoreBMC: %q", got)
	}

	// A power cycle of a host whose libvirtd runs: fenced, then booted.
	// Without its pid file (a QEMU forked as libvirtd died), the QEMU
	// is found by its command line, which names the host's directory.
	d2 := h2.LibvirtdPID
	if err := os.Remove(filepath.Join(h2.Dir, "run/libvirt/qemu/run/h2-vm1.pid")); err != nil {
		t.Fatal(err)
	}
	if out, err := ipmitool(h2.BMC, "chassis", "power", "cycle"); err != nil {
		t.Fatalf("power cycle: %v: %s", err, out)
	}
	if alive(q2) || alive(d2) {
		t.Errorf("after the power cycle: QEMU %d alive %v, libvirtd %d alive %v", q2, alive(q2), d2, alive(d2))
	}
	waitUp(t, f, 1)
	if got := virsh(t, h2, "domstate", "h2-vm1"); got != "shut off" {
		t.Errorf("h2-vm1 after the power cycle: %q", got)
	}
	checkRunning(t, f, map[string][]string{})
	if err := f.Recover(1); err == nil {
		t.Errorf("Recover of a running host: no error")
	}
}

// TestTestDriver: the test driver's hosts are fenced too (no QEMU) and
// come back empty; Power works without an IPMI client.
func TestTestDriver(t *testing.T) {
	need(t, testlibvirt.DriverTest)
	t.Parallel()
	f := start(t, Options{Hosts: 1, VMs: 2, Driver: testlibvirt.DriverTest})
	h := f.Hosts[0]
	checkRunning(t, f, map[string][]string{"h1-vm1": {"h1"}})
	d := h.LibvirtdPID
	if err := f.Power(0, false); err != nil {
		t.Fatal(err)
	}
	if alive(d) || h.BMC.Power() || !h.Fenced() {
		t.Errorf("after power off: libvirtd alive %v, power %v, fenced %v", alive(d), h.BMC.Power(), h.Fenced())
	}
	if got := powerStatus(t, h); got != "Chassis Power is off" {
		t.Errorf("h1: %q", got)
	}
	checkRunning(t, f, map[string][]string{})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := f.WaitUp(ctx, 0); err == nil || !strings.Contains(err.Error(), "powered off") {
		t.Errorf("WaitUp of a powered-off host: %v", err)
	}
	if err := f.Recover(0); err == nil {
		t.Errorf("Recover of a fenced host: no error")
	}
	if err := f.Power(0, true); err != nil {
		t.Fatal(err)
	}
	waitUp(t, f, 0)
	if got := virsh(t, h, "list", "--all", "--name"); got != "" {
		t.Errorf("after power on: VMs %q, want none", got)
	}
	if _, err := f.Index("h2"); err == nil {
		t.Errorf("Index(h2) of a 1-host farm: no error")
	}
}

// BenchmarkPowerOff measures how long a power off through the BMC
// takes until the host is dead (go test -run '^$' -bench PowerOff
// -benchtime 7x ./internal/testha/): ms is the median of ipmitool's
// whole call (its RMCP+ session included), which returns once the fence
// has ended; fence-ms the median of the fence script's own time.
func BenchmarkPowerOff(b *testing.B) {
	need(b, testlibvirt.DriverQEMU)
	f := start(b, Options{Hosts: 1, VMs: 1})
	h := f.Hosts[0]
	var calls, fences []time.Duration
	for b.Loop() {
		b.StopTimer()
		if h.Fenced() { // not in the first round: the VM runs since Start
			if err := f.Power(0, true); err != nil {
				b.Fatal(err)
			}
			if err := f.WaitUp(context.Background(), 0); err != nil {
				b.Fatal(err)
			}
			if _, err := h.Virsh("start", "h1-vm1"); err != nil {
				b.Fatal(err)
			}
		}
		q := h.QEMUs()["h1-vm1"]
		b.StartTimer()
		t0 := time.Now()
		if out, err := ipmitool(h.BMC, "chassis", "power", "off"); err != nil {
			b.Fatalf("power off: %v: %s", err, out)
		}
		calls = append(calls, time.Since(t0))
		if q == 0 || alive(q) {
			b.Fatalf("QEMU %d alive after the power off", q)
		}
		log, _ := os.ReadFile(filepath.Join(h.Dir, "fence.log"))
		lines := strings.Split(strings.TrimSpace(string(log)), "\n")
		last := lines[len(lines)-1]
		var ms int
		if _, err := fmt.Sscanf(last[strings.LastIndex(last, " in ")+4:], "%d ms", &ms); err != nil {
			b.Fatalf("fence.log: %q: %v", last, err)
		}
		fences = append(fences, time.Duration(ms)*time.Millisecond)
	}
	b.Logf("ipmitool power off: %v; fence: %v", calls, fences)
	b.ReportMetric(median(calls), "ms")
	b.ReportMetric(median(fences), "fence-ms")
	b.ReportMetric(0, "ns/op")
}

// median of ds in milliseconds.
func median(ds []time.Duration) float64 {
	s := slices.Clone(ds)
	slices.Sort(s)
	return float64(s[len(s)/2].Microseconds()) / 1000
}

// TestSweepBMCs: the next Start stops the BMCs of a farm whose test
// process died (their parent is gone), not those of a live one.
func TestSweepBMCs(t *testing.T) {
	need(t, testlibvirt.DriverTest)
	dir, err := os.MkdirTemp("", testlibvirt.TempPrefix)
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	bf, err := testbmc.StartWith(testbmc.Options{BMCs: 2, Dir: filepath.Join(dir, "bmc")})
	if err != nil {
		t.Fatal(err)
	}
	defer bf.Stop()
	// BMC 1 again, as a farm of a dead process leaves it: an orphan.
	b := bf.BMCs[0]
	b.Kill()
	sh := `setsid ipmi_sim -n -c "$1/lan.conf" -f "$1/bmc.emu" -s "$1/persist" > /dev/null 2>&1 < /dev/null & echo $! > "$1/pid"`
	if out, err := exec.Command("sh", "-c", sh, "sh", b.Dir).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	pid := func(b *testbmc.BMC) int {
		s, _ := os.ReadFile(filepath.Join(b.Dir, "pid"))
		n, _ := strconv.Atoi(strings.TrimSpace(string(s)))
		return n
	}
	orphan, live := pid(b), pid(bf.BMCs[1])
	// until setsid has become ipmi_sim (the sweep checks the command)
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if st, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", orphan)); strings.Contains(string(st), "(ipmi_sim)") {
			break
		}
	}
	if !alive(orphan) || !alive(live) {
		t.Fatalf("orphan %d alive %v, live %d alive %v", orphan, alive(orphan), live, alive(live))
	}
	sweepBMCs()
	for end := time.Now().Add(5 * time.Second); alive(orphan) && time.Now().Before(end); {
		time.Sleep(10 * time.Millisecond)
	}
	if alive(orphan) {
		syscall.Kill(orphan, syscall.SIGKILL)
		t.Errorf("the orphaned ipmi_sim %d is alive after the sweep", orphan)
	}
	if !alive(live) {
		t.Errorf("the sweep killed ipmi_sim %d, whose parent is alive", live)
	}
}
