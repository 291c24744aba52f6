package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/smctl/smctl/internal/testbmc"
)

// ipmiRows measures reading the power state of -bmcs ipmi_sim BMCs: smctl
// (find | cat over the power files) against FreeIPMI's ipmipower, with an
// ipmitool loop for reference; then again with -bmcs-down of them stopped.
func ipmiRows(smctl, work string) []row {
	if !testbmc.Available() {
		return []row{{scenario: "ipmi", tool: "smctl", note: "skipped: no ipmi_sim (apt-get install openipmi)"}}
	}
	farm, err := testbmc.Start(*bmcs)
	check(err)
	defer farm.Stop()
	root := filepath.Join(work, "ipmiroot")
	mustRun(nil, smctl, "--root", root, "init")
	mustRun(nil, smctl, "--root", root, "write", "/discover_master", "remove server localhost")
	var stmts strings.Builder
	var hosts []string
	for i, b := range farm.BMCs {
		fmt.Fprintf(&stmts, "server b%03d bmc=%s\n", i+1, b.Addr)
		hosts = append(hosts, b.Addr)
	}
	mustRun(strings.NewReader(stmts.String()), smctl, "--root", root, "write", "/discover_master")
	mustRun(nil, smctl, "--root", root, "write", "/systems/servers/ids", testbmc.User+":"+testbmc.Password)
	paths := filepath.Join(work, "power.txt")
	var b strings.Builder
	for i := range farm.BMCs {
		fmt.Fprintf(&b, "/systems/servers/b%03d/power\n", i+1)
	}
	check(os.WriteFile(paths, []byte(b.String()), 0o644))
	const agentTimeout = 2 * time.Second
	smctlRun := func() measurement {
		m := run(paths, smctl, "--root", root, "--fanout", fmt.Sprint(*fanout), "--timeout", agentTimeout.String(), "cat")
		m.ok = strings.Count(lastOutput, ":on\n")
		return m
	}
	ipmipower, _ := exec.LookPath("ipmipower")
	ipmipowerRun := func() measurement {
		m := run(nil, ipmipower, "-D", "LAN_2_0", "-W", "opensesspriv", "-u", testbmc.User, "-p", testbmc.Password,
			"-h", strings.Join(hosts, ","), "--stat", "--session-timeout", fmt.Sprint(agentTimeout.Milliseconds()))
		m.ok = strings.Count(lastOutput, ": on\n")
		return m
	}
	var rows []row
	ref := med(*runs, ipmipowerRun)
	if ipmipower == "" {
		rows = append(rows, row{scenario: "ipmi", tool: "ipmipower", note: "not installed (apt-get install freeipmi-tools)"})
	} else {
		rows = append(rows, row{"ipmi, power status", "ipmipower (FreeIPMI)", *bmcs, ref, 1, "the reference (ratio 1)"})
	}
	sm := med(*runs, smctlRun)
	rows = append(rows, row{"ipmi, power status", "smctl", *bmcs, sm, ratio(sm, ref), "native IPMI client, results stored"})
	if it, err := exec.LookPath("ipmitool"); err == nil {
		script := "for hp in " + strings.Join(hosts, " ") + "; do " + it +
			" -I lanplus -C 3 -H ${hp%:*} -p ${hp##*:} -U " + testbmc.User + " -E chassis power status; done"
		m := runEnv([]string{"IPMI_PASSWORD=" + testbmc.Password}, nil, "sh", "-c", script)
		m.ok = strings.Count(lastOutput, "Chassis Power is on")
		rows = append(rows, row{"ipmi, power status", "ipmitool, one BMC after another", *bmcs, m, ratio(m, ref), "1 run, for reference"})
	}
	// Some BMCs go dead (no answer at all): each costs one timeout, in
	// parallel.
	for _, bm := range farm.BMCs[:*bmcsDown] {
		check(bm.Blackhole())
	}
	syscall.Sync()
	down := med(*runs, smctlRun)
	bound := sm.wall + agentTimeout
	verdict := "within"
	if down.wall > bound {
		verdict = "OVER"
	}
	rows = append(rows, row{fmt.Sprintf("ipmi, %d of %d BMCs down", *bmcsDown, *bmcs), "smctl", *bmcs, down, ratio(down, ref),
		fmt.Sprintf("%s clean + one %s timeout (%.1fs)", verdict, agentTimeout, bound.Seconds())})
	if ipmipower != "" {
		dref := med(*runs, ipmipowerRun)
		rows = append(rows, row{fmt.Sprintf("ipmi, %d of %d BMCs down", *bmcsDown, *bmcs), "ipmipower (FreeIPMI)", *bmcs, dref, ratio(dref, ref), ""})
	}
	return rows
}
