package sim

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// The commands the linux driver runs (pkg/driver/linux), answered with
// plausible values that differ per node: ps for processes/index,
// systemctl show for services/UNIT/..., who for os/users, lsblk for
// disks/ and the attributes of its disks.

// simProcs are the simulated processes of every node, after init: PID
// offset, user, command.
var simProcs = []struct {
	user, comm string
}{
	{"root", "kthreadd"}, {"root", "rcu_gp"}, {"root", "ksoftirqd/0"}, {"root", "migration/0"},
	{"root", "kworker/0:1-events"}, {"root", "ksoftirqd/1"}, {"root", "migration/1"}, {"root", "kcompactd0"},
	{"root", "systemd-journald"}, {"root", "systemd-udevd"}, {"systemd+", "systemd-timesyncd"},
	{"root", "cron"}, {"message+", "dbus-daemon"}, {"root", "rsyslogd"}, {"root", "systemd-logind"},
	{"root", "agetty"}, {"root", "sshd"}, {"_chrony", "chronyd"}, {"root", "sshd"}, {"sim", "bash"},
}

// ps answers "ps -eo pid=,user=,comm=": init, then the node's processes
// (a count that differs per node), PIDs spread as on a machine up for
// days.
func (n *node) ps(args []string) (string, string, int) {
	if strings.Join(args, " ") != "-eo pid=,user=,comm=" {
		return "", "ps: the simulator answers only ps -eo pid=,user=,comm=\n", 1
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%7d %-8s %s\n", 1, "root", "systemd")
	pid := 2
	for i := 0; i < 100+n.index%80; i++ {
		p := simProcs[i%len(simProcs)]
		fmt.Fprintf(&b, "%7d %-8s %s\n", pid, p.user, p.comm)
		pid += 1 + (i*7+n.index)%40
	}
	return b.String(), "", 0
}

// lsblk answers the linux driver's "lsblk -J -b -o
// NAME,SIZE,MODEL,TYPE,ROTA,MOUNTPOINT,LOG-SEC" (disks/ listed, a disk's
// size, model, type and rotational): one disk, its size differing per
// node, a root and a data partition.
func (n *node) lsblk(args []string) (string, string, int) {
	if strings.Join(args, " ") != "-J -b -o NAME,SIZE,MODEL,TYPE,ROTA,MOUNTPOINT,LOG-SEC" {
		return "", "lsblk: the simulator answers only the linux driver's lsblk -J -b -o ...\n", 1
	}
	size := int64(480+n.index%4*480) << 30
	q := func(s string) string {
		if s == "" {
			return "null"
		}
		return `"` + s + `"`
	}
	dev := func(name string, size int64, model, typ, mount, children string) string {
		return fmt.Sprintf(`{"name": %q, "size": %d, "model": %s, "type": %q, "rota": false, "mountpoint": %s, "log-sec": 512%s}`,
			name, size, q(model), typ, q(mount), children)
	}
	parts := `, "children": [` + dev("sda1", 64<<30, "", "part", "/", "") + ", " + dev("sda2", size-(64<<30)-(1<<20), "", "part", "/data", "") + "]"
	return `{"blockdevices": [` + dev("sda", size, "SIM SSD", "disk", "", parts) + "]}\n", "", 0
}

// who answers who(1): an administrator logged in on every tenth node.
func (n *node) who() (string, string, int) {
	if n.index%10 != 0 {
		return "", "", 0
	}
	login := n.boot.Add(time.Hour).Format("2006-01-02 15:04")
	return fmt.Sprintf("root     pts/0        %s (10.0.%d.%d)\n", login, n.index/250%250, 1+n.index%250), "", 0
}

// simUnits are the service units every simulated node has; state is what
// they are on most nodes (cron has failed on every 97th).
var simUnits = map[string]string{"ssh": "running", "cron": "running", "rsyslog": "running", "chrony": "running",
	"systemd-journald": "running", "systemd-logind": "running", "getty@tty1": "running", "nfs-server": "dead"}

// unitList answers systemctl list-units or list-unit-files (--plain
// --no-legend): the node's service units, their states.
func (n *node) unitList(which string) string {
	var b strings.Builder
	for _, name := range slices.Sorted(maps.Keys(simUnits)) {
		sub := simUnits[name]
		if name == "cron" && n.index%97 == 0 {
			sub = "failed"
		}
		active, enabled := "active", "enabled"
		switch sub {
		case "dead":
			active, enabled = "inactive", "disabled"
		case "failed":
			active = "failed"
		}
		if which == "list-units" {
			fmt.Fprintf(&b, "%s.service loaded %s %s simulated %s\n", name, active, sub, name)
		} else {
			fmt.Fprintf(&b, "%s.service %s enabled\n", name, enabled)
		}
	}
	return b.String()
}

// systemctl answers "systemctl show [--property=A,B|-p A,B]... [--] UNIT",
// as systemd prints the properties asked for (every one it knows without
// them); a unit the node does not have is not-found, as systemd says.
func (n *node) systemctl(args []string) (string, string, int) {
	if len(args) > 0 && (args[0] == "list-units" || args[0] == "list-unit-files") {
		return n.unitList(args[0]), "", 0
	}
	if len(args) == 0 || args[0] != "show" {
		return "", "systemctl: the simulator answers only systemctl show, list-units and list-unit-files\n", 1
	}
	var props []string
	unit := ""
	for i := 1; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-p" || a == "--property":
			if i+1 < len(args) {
				i++
				props = append(props, strings.Split(args[i], ",")...)
			}
		case strings.HasPrefix(a, "--property="):
			props = append(props, strings.Split(strings.TrimPrefix(a, "--property="), ",")...)
		case strings.HasPrefix(a, "-p") && len(a) > 2:
			props = append(props, strings.Split(a[2:], ",")...)
		case a == "--" || strings.HasPrefix(a, "-"):
		default:
			unit = a
		}
	}
	name := strings.TrimSuffix(unit, ".service")
	if name == "sshd" {
		name = "ssh" // Debian's unit, sshd its alias
	}
	sub, ok := simUnits[name]
	if name == "cron" && n.index%97 == 0 {
		sub = "failed"
	}
	vals := map[string]string{"Id": name + ".service", "Names": name + ".service", "LoadState": "loaded",
		"UnitFileState": "enabled", "ControlGroup": "/system.slice/" + name + ".service",
		"MainPID": fmt.Sprint(400 + n.index%300 + len(name)), "ExecMainPID": fmt.Sprint(400 + n.index%300 + len(name)),
		"Description": "simulated " + name, "ActiveState": "active", "SubState": sub}
	switch {
	case !ok:
		vals = map[string]string{"Id": unit, "Names": unit, "LoadState": "not-found", "ActiveState": "inactive", "SubState": "dead",
			"UnitFileState": "", "ControlGroup": "", "MainPID": "0", "ExecMainPID": "0", "Description": unit}
	case sub == "dead":
		vals["ActiveState"], vals["UnitFileState"], vals["MainPID"], vals["ExecMainPID"] = "inactive", "disabled", "0", "0"
	case sub == "failed":
		vals["ActiveState"], vals["MainPID"], vals["ExecMainPID"] = "failed", "0", "0"
	}
	if len(props) == 0 {
		props = []string{"Id", "Names", "Description", "LoadState", "ActiveState", "SubState", "UnitFileState", "MainPID", "ExecMainPID", "ControlGroup"}
	}
	var b strings.Builder
	for _, p := range props {
		if v, known := vals[p]; known {
			fmt.Fprintf(&b, "%s=%s\n", p, v)
		}
	}
	return b.String(), "", 0
}
