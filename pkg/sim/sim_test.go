package sim

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestShell(t *testing.T) {
	n := newNode("n0007", 6, time.Now())
	ctx := context.Background()
	tests := []struct {
		cmd, out, errOut string
		exit             int
	}{
		{cmd: "hostname", out: "n0007\n"},
		{cmd: "echo 'a  b' \"c\"", out: "a  b c\n"},
		{cmd: "cat /proc/sys/kernel/hostname", out: "n0007\n"},
		{cmd: "cat -- '/proc/nope'", errOut: "cat: /proc/nope: No such file or directory\n", exit: 1},
		{cmd: "cat /proc", errOut: "cat: /proc: Is a directory\n", exit: 1},
		{cmd: "ls -1Ap -- /proc/sys", out: "kernel/\n"},
		{cmd: "ls -1Apd -- /proc/loadavg", out: "/proc/loadavg\n"},
		{cmd: "ls /nope", errOut: "ls: cannot access '/nope': No such file or directory\n", exit: 2},
		{cmd: "false", exit: 1},
		{cmd: "echo x; exit 3; echo y", out: "x\n", exit: 3},
		{cmd: "frob", errOut: "sh: 1: frob: not found\n", exit: 127},
		{cmd: "uname -r", out: "6.1.0-sim\n"},
		{cmd: "echo 'open", errOut: "sh: 1: Syntax error: unterminated quoted string\n", exit: 2},
	}
	for _, tt := range tests {
		out, errOut, exit := n.run(ctx, tt.cmd)
		if out != tt.out || errOut != tt.errOut || exit != tt.exit {
			t.Errorf("%q = %q, %q, %d; want %q, %q, %d", tt.cmd, out, errOut, exit, tt.out, tt.errOut, tt.exit)
		}
	}
	if out, _, _ := n.run(ctx, "vmstat 1 3"); strings.Count(out, "\n") != 5 {
		t.Errorf("vmstat 1 3 = %q", out)
	}
	other := newNode("n0008", 7, time.Now())
	a, _, _ := n.run(ctx, "cat /proc/loadavg")
	b, _, _ := other.run(ctx, "cat /proc/loadavg")
	if a == b {
		t.Errorf("two nodes report the same load: %q", a)
	}
}

func TestOptions(t *testing.T) {
	for _, o := range []Options{
		{N: 0, Dir: t.TempDir()},
		{N: 1},
		{N: 1, Dir: t.TempDir(), Addr: "10.0.0.1"},
		{N: 1, Dir: t.TempDir(), Refuse: 0.6, Hang: 0.6},
	} {
		if c, err := Start(o); err == nil {
			c.Close()
			t.Errorf("Start(%+v) succeeded", o)
		}
	}
	c, err := Start(Options{N: 100, Dir: t.TempDir(), Refuse: 0.05, Hang: 0.02, Fail: 0.03, Seed: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	count := map[Behaviour]int{}
	for _, n := range c.Nodes {
		count[n.Behaviour]++
	}
	if count[Refuse] != 5 || count[Hang] != 2 || count[Fail] != 3 || count[OK] != 90 {
		t.Errorf("behaviours = %v", count)
	}
}

// TestLinuxCommands: the commands of the linux driver's reads, answered
// as ps and systemd print them, differently per node.
func TestLinuxCommands(t *testing.T) {
	ctx := context.Background()
	n := newNode("n0007", 6, time.Now())
	tests := []struct {
		cmd, out string
		exit     int
	}{
		{cmd: "systemctl show --property=Id,ActiveState,SubState -- sshd", out: "Id=ssh.service\nActiveState=active\nSubState=running\n"},
		{cmd: "systemctl show -p LoadState,ActiveState nosuch.service", out: "LoadState=not-found\nActiveState=inactive\n"},
		{cmd: "systemctl show -p ActiveState,UnitFileState nfs-server", out: "ActiveState=inactive\nUnitFileState=disabled\n"},
		{cmd: "systemctl start sshd", exit: 1},
		{cmd: "systemctl list-units --type=service --all --plain --no-legend --no-pager; echo @@; systemctl list-unit-files --type=service --no-legend --no-pager",
			out: "chrony.service loaded active running simulated chrony\ncron.service loaded active running simulated cron\ngetty@tty1.service loaded active running simulated getty@tty1\n" +
				"nfs-server.service loaded inactive dead simulated nfs-server\nrsyslog.service loaded active running simulated rsyslog\nssh.service loaded active running simulated ssh\n" +
				"systemd-journald.service loaded active running simulated systemd-journald\nsystemd-logind.service loaded active running simulated systemd-logind\n@@\n" +
				"chrony.service enabled enabled\ncron.service enabled enabled\ngetty@tty1.service enabled enabled\nnfs-server.service disabled enabled\nrsyslog.service enabled enabled\n" +
				"ssh.service enabled enabled\nsystemd-journald.service enabled enabled\nsystemd-logind.service enabled enabled\n"},
		{cmd: "ps aux", exit: 1},
	}
	for _, tt := range tests {
		out, _, exit := n.run(ctx, tt.cmd)
		if exit != tt.exit || tt.exit == 0 && out != tt.out {
			t.Errorf("%q = %q, %d; want %q, %d", tt.cmd, out, exit, tt.out, tt.exit)
		}
	}
	if out, _, _ := newNode("n0098", 97, time.Now()).run(ctx, "systemctl show -p ActiveState cron"); out != "ActiveState=failed\n" {
		t.Errorf("cron on every 97th node: %q, want failed", out)
	}
	a, _, _ := n.run(ctx, "ps -eo pid=,user=,comm=")
	b, _, _ := newNode("n0008", 7, time.Now()).run(ctx, "ps -eo pid=,user=,comm=")
	if !strings.HasPrefix(a, "      1 root     systemd\n") || a == b || strings.Count(a, "\n") < 100 {
		t.Errorf("ps: %d lines, starting %q; the same on two nodes: %v", strings.Count(a, "\n"), a[:min(len(a), 40)], a == b)
	}
	l, _, exit := n.run(ctx, "lsblk -J -b -o NAME,SIZE,MODEL,TYPE,ROTA,MOUNTPOINT,LOG-SEC")
	if exit != 0 || !json.Valid([]byte(l)) || !strings.Contains(l, `"name": "sda2"`) {
		t.Errorf("lsblk: exit %d, %q", exit, l)
	}
}
