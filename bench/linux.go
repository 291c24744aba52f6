package main

// The linux suite (issue 12): files of the linux driver read on -nodes
// simulated nodes (smctl sim) against smctl write of the equivalent single
// shell command to every node's command file, interleaved, -runs rounds:
// a live read must cost about what running its command costs (target:
// within linuxTarget). Rows: stats/cpu (a 1 s sample on every node, at
// fan-out -linux-sample-fanout, as the sample's sleep bounds it),
// services/sshd/state and processes/index (at -fanout).

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// linuxTarget bounds a live read's time over its equivalent command's.
const linuxTarget = 1.3

var linuxSampleFanout = flag.Int("linux-sample-fanout", 1000, "linux suite: fan-out of the stats/cpu rows (a 1 s sample per node)")

// linuxCase is one row: the file read, the command that computes it, and
// what a node's answer to the read looks like.
type linuxCase struct {
	file, command, answer string
	fanout                int
}

func linuxRows(smctl, work string) string {
	dir := filepath.Join(work, "linuxsim")
	stop := startSim(smctl, dir, *nodes, "")
	defer stop()
	root := filepath.Join(work, "linuxroot")
	discoverSim(smctl, root, dir)
	cases := []linuxCase{
		{"stats/cpu", "cat /proc/uptime /proc/stat; sleep 1; echo @@; cat /proc/uptime /proc/stat", `^/systems/servers/[^/]+/stats/cpu:all `, *linuxSampleFanout},
		{"services/sshd/state", linuxServiceCommand, `^/systems/servers/[^/]+/services/sshd/state:active \(running\)$`, *fanout},
		{"processes/index", "ps -eo pid=,user=,comm=", `^/systems/servers/[^/]+/processes/index:1 root systemd$`, *fanout},
	}
	host, _ := os.Hostname()
	var b strings.Builder
	fmt.Fprintf(&b, "\n### linux suite: live files against their commands (issue 12), %s, %s, %d CPUs, %d rounds\n\n",
		time.Now().Format("2006-01-02"), host, runtime.NumCPU(), *runs)
	fmt.Fprintf(&b, "%d nodes of smctl sim; medians of the rounds, interleaved\n\n", *nodes)
	b.WriteString("| file | fan-out | smctl cat (live) | smctl write command | cat / write | target | |\n| --- | ---: | ---: | ---: | ---: | ---: | --- |\n")
	for _, c := range cases {
		fo := fmt.Sprint(c.fanout)
		glob := "/systems/servers/*/" + c.file
		cat := func() measurement {
			m := run(nil, smctl, "--root", root, "--fanout", fo, "cat", glob)
			m.ok = countNodes(m, c.answer)
			return m
		}
		write := func() measurement {
			m := run(nil, smctl, "--root", root, "--fanout", fo, "write", "/systems/servers/*/command", c.command)
			m.ok = statusOK(root)
			return m
		}
		ms := interleaved(*runs, cat, write)
		cm, wm := median(ms[0]), median(ms[1])
		if cm.ok != *nodes || wm.ok != *nodes {
			check(fmt.Errorf("linux suite: %s: %d nodes answered the read and %d the command, of %d", c.file, cm.ok, wm.ok, *nodes))
		}
		r := cm.wall.Seconds() / wm.wall.Seconds()
		verdict := "holds"
		if r > linuxTarget {
			verdict = "does NOT hold"
		}
		fmt.Fprintf(&b, "| %s | %s | %.2f s | %.2f s | %.2f | <= %.1f | %s |\n", c.file, fo, cm.wall.Seconds(), wm.wall.Seconds(), r, linuxTarget, verdict)
	}
	fmt.Fprintf(&b, "\nload average at the end: %s\n", loadavg())
	return b.String()
}

// linuxServiceCommand is the one command a read of services/UNIT/state
// runs on a systemd node (pkg/driver/linux), for sshd.
const linuxServiceCommand = "systemctl show --property=Id,LoadState,ActiveState,SubState,UnitFileState,MainPID,ControlGroup -- 'sshd.service'"
