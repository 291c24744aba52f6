package testha

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// SampleTimeout bounds how long Running waits for a host's libvirtd; one
// that does not answer in time (hung, frozen) is judged by its QEMUs.
const SampleTimeout = 5 * time.Second

// Running samples where every VM runs: for each VM that runs somewhere,
// the names of the hosts it runs on, in host order. A host's word is its
// libvirtd's (active and not paused: a migration's paused destination
// does not run) plus any QEMU of it that its libvirtd does not know; a
// host whose libvirtd does not answer (crashed, frozen) runs the VMs
// whose QEMUs of that host are alive. The hosts are asked at once.
func (f *Farm) Running() map[string][]string {
	per := make([][]string, len(f.Hosts))
	var wg sync.WaitGroup
	for i, h := range f.Hosts {
		wg.Go(func() { per[i] = h.runningVMs() })
	}
	wg.Wait()
	m := map[string][]string{}
	for i, vms := range per {
		for _, vm := range vms {
			m[vm] = append(m[vm], f.Hosts[i].Name)
		}
	}
	return m
}

// RunningOn is the hosts where the VM named vm runs now (Running).
func (f *Farm) RunningOn(vm string) []string {
	return f.Running()[vm]
}

// runningVMs is what runs on the host (Running).
func (h *Host) runningVMs() []string {
	// QEMUs first: libvirt lists a VM before it starts its QEMU and
	// forgets it only after its QEMU has ended.
	before := h.QEMUs()
	ctx, cancel := context.WithTimeout(context.Background(), SampleTimeout)
	out, err := h.VirshContext(ctx, "list") // active VMs: ID NAME STATE
	cancel()
	var vms []string
	if err != nil {
		for vm := range h.QEMUs() {
			vms = append(vms, vm)
		}
		return vms
	}
	active := map[string]bool{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		active[f[1]] = true
		if st := strings.Join(f[2:], " "); st != "paused" && st != "pmsuspended" {
			vms = append(vms, f[1])
		}
	}
	// A QEMU alive before and after the answer that libvirtd does not
	// list runs all the same.
	for vm, pid := range h.QEMUs() {
		if !active[vm] && before[vm] == pid {
			vms = append(vms, vm)
		}
	}
	return vms
}

// sweepBMCs stops the ipmi_sims of HA farms whose test process died
// without Stop: listed in the pid files of farm directories in
// os.TempDir, checked against their command line, and orphans (their
// parent, the test process, is gone).
func sweepBMCs() {
	files, _ := filepath.Glob(filepath.Join(os.TempDir(), "smctl-lv-*", "bmc", "bmc[0-9]*", "pid"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 1 {
			continue
		}
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		cmd, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
		s := string(stat)
		j := strings.LastIndexByte(s, ')')
		if err != nil || j < 0 || !strings.Contains(string(cmd), filepath.Dir(f)) {
			continue
		}
		if fs := strings.Fields(s[j+1:]); len(fs) > 1 && fs[0] != "Z" && fs[1] == "1" && strings.Contains(s[:j], "(ipmi_sim") {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}
