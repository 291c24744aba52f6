package main

// The vm suite (issue 13): on private libvirtd hosts (internal/testlibvirt),
// interleaved, -runs rounds:
//   - the state of 1000 VMs on 10 test-driver hypervisors: smctl cat of
//     every VM's state against virsh domstate of each VM, one host after
//     another (a loop) and the 10 hosts in parallel (xargs -P 10, a virsh
//     per host); target: faster than the parallel virsh;
//   - a live migration of a running TCG VM between two qemu-driver hosts:
//     smctl write of its host against virsh migrate --live --p2p of the
//     same VM (there and back in each round); target: within 1.2 x.

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/smctl/smctl/internal/testlibvirt"
)

// Targets of the vm suite.
const (
	vmStateTarget   = 1.0 // smctl / the parallel virsh
	vmMigrateTarget = 1.2 // smctl / virsh migrate
)

func vmRows(smctl, work string) string {
	var b strings.Builder
	host, _ := os.Hostname()
	fmt.Fprintf(&b, "\n### vm suite: virtual machines (issue 13), %s, %s, %d CPUs, %d rounds\n\n",
		time.Now().Format("2006-01-02"), host, runtime.NumCPU(), *runs)
	holds := func(ok bool) string {
		if ok {
			return "holds"
		}
		return "does NOT hold"
	}

	// The state of 1000 VMs on 10 hypervisors.
	farm, err := testlibvirt.Start(testlibvirt.Options{Hosts: 10, VMs: 100, Driver: testlibvirt.DriverTest})
	check(err)
	root := filepath.Join(work, "vmroot")
	mustRun(nil, smctl, "--root", root, "init")
	var loop, list strings.Builder
	for _, h := range farm.Hosts {
		mustRun(nil, smctl, "--root", root, "write", "/discover_master", "hypervisor "+h.Name+" transport=local uri="+h.URI)
		fmt.Fprintf(&list, "%s\n", h.URI)
		for j := 1; j <= 100; j++ {
			fmt.Fprintf(&loop, "virsh -c '%s' domstate %s-vm%d\n", h.URI, h.Name, j)
		}
	}
	script := filepath.Join(work, "vmloop.sh")
	check(os.WriteFile(script, []byte(loop.String()), 0o755))
	uris := filepath.Join(work, "vmuris.txt")
	check(os.WriteFile(uris, []byte(list.String()), 0o644))
	// One virsh per host, each asking its 100 VMs' states in one run.
	perHost := filepath.Join(work, "vmhost.sh")
	check(os.WriteFile(perHost, []byte(`#!/bin/sh
uri=$1; h=$(basename "$(dirname "$(dirname "$(dirname "${uri#*socket=}")")")")
cmds=""; for j in $(seq 1 100); do cmds="$cmds domstate $h-vm$j;"; done
exec virsh -q -c "$uri" "$cmds"
`), 0o755))
	cat := func() measurement {
		m := run(nil, smctl, "--root", root, "cat", "/systems/vms/*/state")
		m.ok = countNodes(m, `^/systems/vms/[^/]+/state:(running|shut off) \(`)
		return m
	}
	virshLoop := func() measurement {
		m := run(nil, "sh", script)
		m.ok = countNodes(m, `^(running|shut off)$`)
		return m
	}
	virshPar := func() measurement {
		m := run(uris, "xargs", "-P", "10", "-n", "1", perHost)
		m.ok = countNodes(m, `^(running|shut off)$`)
		return m
	}
	ms := interleaved(*runs, cat, virshLoop, virshPar)
	c, l, p := median(ms[0]), median(ms[1]), median(ms[2])
	check(farm.Stop())
	for _, m := range []measurement{c, l, p} {
		if m.ok != 1000 {
			check(fmt.Errorf("vm suite: %d of 1000 states read (smctl %d, virsh loop %d, parallel %d)", m.ok, c.ok, l.ok, p.ok))
		}
	}
	fmt.Fprintf(&b, "the state of 1000 VMs on 10 hypervisors of libvirt's test driver (private libvirtds); medians\n\n")
	b.WriteString("| run | wall | CPU | smctl / it |\n| --- | ---: | ---: | ---: |\n")
	fmt.Fprintf(&b, "| smctl cat '/systems/vms/*/state' | %.3f s | %.3f s | |\n", c.wall.Seconds(), c.cpu.Seconds())
	fmt.Fprintf(&b, "| virsh domstate, one VM after another | %.3f s | %.3f s | %.2f |\n", l.wall.Seconds(), l.cpu.Seconds(), c.wall.Seconds()/l.wall.Seconds())
	fmt.Fprintf(&b, "| virsh per host, 10 in parallel (xargs -P 10) | %.3f s | %.3f s | %.2f |\n", p.wall.Seconds(), p.cpu.Seconds(), c.wall.Seconds()/p.wall.Seconds())
	r := c.wall.Seconds() / p.wall.Seconds()
	fmt.Fprintf(&b, "\nsmctl / the parallel virsh: %.2f (target < %.1f: %s)\n", r, vmStateTarget, holds(r < vmStateTarget))

	// A live migration, there and back.
	if !testlibvirt.QEMUAvailable() {
		check(fmt.Errorf("vm suite: qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)"))
	}
	qf, err := testlibvirt.Start(testlibvirt.Options{Hosts: 2, VMs: 1, Driver: testlibvirt.DriverQEMU})
	check(err)
	defer qf.Stop()
	qroot := filepath.Join(work, "vmqroot")
	mustRun(nil, smctl, "--root", qroot, "init")
	for _, h := range qf.Hosts {
		mustRun(nil, smctl, "--root", qroot, "write", "/discover_master", "hypervisor "+h.Name+" transport=local uri="+h.URI)
	}
	h1, h2 := qf.Hosts[0], qf.Hosts[1]
	smctlMig := func() measurement {
		a := run(nil, smctl, "--root", qroot, "write", "/systems/vms/h1-vm1/host", "h2")
		z := run(nil, smctl, "--root", qroot, "write", "/systems/vms/h1-vm1/host", "h1")
		return measurement{wall: (a.wall + z.wall) / 2, cpu: (a.cpu + z.cpu) / 2}
	}
	virshMig := func() measurement {
		args := func(from, to *testlibvirt.Host) []string {
			return []string{"-c", from.URI, "migrate", "--live", "--p2p", "--persistent", "--undefinesource", "h1-vm1", to.URI,
				"--migrateuri", "tcp://127.0.0.1", "--listen-address", "127.0.0.1"}
		}
		a := run(nil, "virsh", args(h1, h2)...)
		z := run(nil, "virsh", args(h2, h1)...)
		return measurement{wall: (a.wall + z.wall) / 2, cpu: (a.cpu + z.cpu) / 2}
	}
	mm := interleaved(*runs, smctlMig, virshMig)
	if out, err := h1.Virsh("domstate", "h1-vm1"); err != nil || !strings.HasPrefix(out, "running") {
		check(fmt.Errorf("vm suite: after the migrations h1-vm1 is not running on h1: %q, %v", out, err))
	}
	sm, vm := median(mm[0]), median(mm[1])
	mr := sm.wall.Seconds() / vm.wall.Seconds()
	fmt.Fprintf(&b, "\nlive migration of a running TCG VM (32 MiB) between two qemu-driver libvirtds, stream on 127.0.0.1; the mean of there and back, medians\n\n")
	b.WriteString("| run | wall | CPU |\n| --- | ---: | ---: |\n")
	fmt.Fprintf(&b, "| smctl write /systems/vms/h1-vm1/host | %.3f s | %.3f s |\n", sm.wall.Seconds(), sm.cpu.Seconds())
	fmt.Fprintf(&b, "| virsh migrate --live --p2p | %.3f s | %.3f s |\n", vm.wall.Seconds(), vm.cpu.Seconds())
	fmt.Fprintf(&b, "\nsmctl / virsh: %.2f (target <= %.1f: %s)\n", mr, vmMigrateTarget, holds(mr <= vmMigrateTarget))
	fmt.Fprintf(&b, "load average at the end: %s\n", loadavg())
	return b.String()
}
