package linux

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/smctl/smctl/pkg/driver"
	"github.com/smctl/smctl/pkg/transport"
)

// svcNode answers the commands services/ runs from lists of answers (the
// last one of a list answers again), and its files; it records what ran.
type svcNode struct {
	transport.Broken
	answers map[string][]transport.Output
	files   map[string]string
	dirs    map[string][]transport.Entry
	cmds    []string
}

func (n *svcNode) Exec(_ context.Context, cmd string, _ []byte, _ int64) (transport.Output, error) {
	n.cmds = append(n.cmds, cmd)
	as := n.answers[cmd]
	if len(as) == 0 {
		return transport.Output{Exit: 99, Stderr: []byte("svcNode: no answer to " + cmd + "\n")}, nil
	}
	if len(as) > 1 {
		n.answers[cmd] = as[1:]
	}
	return as[0], nil
}

func (n *svcNode) ReadFile(_ context.Context, name string, _ int64) ([]byte, error) {
	if v, ok := n.files[name]; ok {
		return []byte(v), nil
	}
	return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
}

func (n *svcNode) Stat(_ context.Context, name string) (transport.Entry, error) {
	if _, ok := n.files[name]; ok {
		return transport.Entry{Name: filepath.Base(name), Mode: 0o755}, nil
	}
	if _, ok := n.dirs[name]; ok {
		return transport.Entry{Name: filepath.Base(name), Mode: fs.ModeDir | 0o755}, nil
	}
	return transport.Entry{}, &fs.PathError{Op: "stat", Path: name, Err: fs.ErrNotExist}
}

func (n *svcNode) ReadDir(_ context.Context, name string) ([]transport.Entry, error) {
	if es, ok := n.dirs[name]; ok {
		return es, nil
	}
	return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
}

// svcRecorded is a file of testdata/systemctl (see its README: real output,
// whose sources it names).
func svcRecorded(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "systemctl", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func svcOut(stdout string) []transport.Output { return []transport.Output{{Stdout: []byte(stdout)}} }

// Constructed answers of systemctl show for the states no recording of
// testdata/systemctl has (see its README): the properties showCommand asks
// for, with the values systemd documents for such units. Not recordings.
const (
	constructedNotFound = "Id=nosuch.service\nLoadState=not-found\nActiveState=inactive\nSubState=dead\nUnitFileState=\nMainPID=0\nControlGroup=\n"
	constructedMasked   = "Id=cups.service\nLoadState=masked\nActiveState=inactive\nSubState=dead\nUnitFileState=masked\nMainPID=0\nControlGroup=\n"
	constructedInactive = "Id=nfs-server.service\nLoadState=loaded\nActiveState=inactive\nSubState=dead\nUnitFileState=disabled\nMainPID=0\nControlGroup=\n"
	// A unit whose file went away while it ran: not-found, yet active.
	constructedOrphan = "Id=gone.service\nLoadState=not-found\nActiveState=active\nSubState=running\nUnitFileState=\nMainPID=77\nControlGroup=/system.slice/gone.service\n"
)

// noSystemdOutput is this machine's systemctl (systemd 252, not PID 1)
// answering systemctl show, recorded here.
var noSystemdOutput = transport.Output{Exit: 1, Stderr: []byte("System has not been booted with systemd as init system (PID 1). Can't operate.\nFailed to connect to bus: Host is down\n")}

// TestParseShow: state, enabled and the processes' whereabouts of real
// systemctl show output, and of the constructed states.
func TestParseShow(t *testing.T) {
	tests := []struct {
		name, out, state, enabled, cgroup string
		pid                               int
		exists                            bool
	}{
		{"running", svcRecorded(t, "show-nginx-running.txt"), "active (running)", "enabled", "/system.slice/nginx.service", 1129, true},
		{"running, older systemd", svcRecorded(t, "show-nginx-running-2021.txt"), "active (running)", "enabled", "/system.slice/nginx.service", 1228, true},
		{"failed, systemd 219", svcRecorded(t, "show-redis-failed.txt"), "failed", "disabled", "", 0, true},
		{"inactive (constructed)", constructedInactive, "inactive (dead)", "disabled", "", 0, true},
		{"masked (constructed)", constructedMasked, "inactive (dead)", "masked", "", 0, true},
		{"not-found (constructed)", constructedNotFound, "inactive (dead)", "-", "", 0, false},
		{"orphan (constructed)", constructedOrphan, "active (running)", "-", "/system.slice/gone.service", 77, true},
		{"masked, no file state", "LoadState=masked\nActiveState=inactive\n", "inactive", "masked", "", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := parseShow(tt.out)
			if u.state() != tt.state || u.enabled() != tt.enabled || u.cgroup != tt.cgroup || u.mainPID != tt.pid || u.exists() != tt.exists {
				t.Errorf("state %q enabled %q cgroup %q pid %d exists %v; want %q %q %q %d %v",
					u.state(), u.enabled(), u.cgroup, u.mainPID, u.exists(), tt.state, tt.enabled, tt.cgroup, tt.pid, tt.exists)
			}
		})
	}
}

// TestServicesSystemd: each read of state and enabled is one systemctl
// show; pids a second command; a unit systemd does not have does not
// exist.
func TestServicesSystemd(t *testing.T) {
	ctx := context.Background()
	node := &svcNode{answers: map[string][]transport.Output{
		showCommand("nginx.service"):  svcOut(svcRecorded(t, "show-nginx-running.txt")),
		showCommand("redis.service"):  svcOut(svcRecorded(t, "show-redis-failed.txt")),
		showCommand("cups.service"):   svcOut(constructedMasked),
		showCommand("nosuch.service"): svcOut(constructedNotFound),
		// cgroup.procs of nginx's group (constructed: a master and its workers).
		"find '/sys/fs/cgroup/system.slice/nginx.service' '/sys/fs/cgroup/systemd/system.slice/nginx.service' -name cgroup.procs -exec cat -- {} +": {
			{Stdout: []byte("1131\n1129\n1130\n"), Stderr: []byte("find: '/sys/fs/cgroup/systemd/system.slice/nginx.service': No such file or directory\n"), Exit: 1}},
	}}
	tr := Driver{}.Layer(driver.Device{}, node)
	for _, tt := range []struct{ path, want string }{
		{"/services/nginx/state", "active (running)\n"},
		{"/services/nginx.service/state", "active (running)\n"},
		{"/services/nginx/enabled", "enabled\n"},
		{"/services/redis/state", "failed\n"},
		{"/services/redis/enabled", "disabled\n"},
		{"/services/redis/pids", ""}, // no control group, no main PID
		{"/services/cups/enabled", "masked\n"},
		{"/services/cups/state", "inactive (dead)\n"},
	} {
		node.cmds = nil
		got, err := tr.ReadFile(ctx, tt.path, 1<<20)
		if err != nil || string(got) != tt.want {
			t.Errorf("%s: %q, %v; want %q", tt.path, got, err, tt.want)
		}
		unit := strings.Split(tt.path, "/")[2]
		if want := []string{showCommand(strings.TrimSuffix(unit, ".service") + ".service")}; !slices.Equal(node.cmds, want) {
			t.Errorf("%s ran %q, want one round trip: %q", tt.path, node.cmds, want)
		}
	}
	node.cmds = nil
	if got, err := tr.ReadFile(ctx, "/services/nginx/pids", 1<<20); err != nil || string(got) != "1129\n1130\n1131\n" || len(node.cmds) != 2 {
		t.Errorf("pids: %q, %v after %q", got, err, node.cmds)
	}
	for _, p := range []string{"/services/nosuch/state", "/services/nosuch", "/services/nginx/nothere", "/services/nginx/state/x"} {
		if _, err := tr.ReadFile(ctx, p, 1<<20); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("ReadFile %s: %v", p, err)
		}
		if _, err := tr.Stat(ctx, p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Stat %s: %v", p, err)
		}
	}
	if _, err := tr.ReadDir(ctx, "/services/nosuch"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadDir of a unit systemd does not have: %v", err)
	}
	es, err := tr.ReadDir(ctx, "/services/nginx")
	if got := svcNames(es); err != nil || got != "enabled pids state" {
		t.Errorf("ReadDir /services/nginx: %q, %v", got, err)
	}
	for p, mode := range map[string]fs.FileMode{"/services/nginx": fs.ModeDir | 0o555, "/services/nginx/state": 0o644,
		"/services/nginx/enabled": 0o644, "/services/nginx/pids": 0o444, "/services": fs.ModeDir | 0o555} {
		if e, err := tr.Stat(ctx, p); err != nil || e.Mode != mode {
			t.Errorf("Stat %s: %v, %v; want %v", p, e.Mode, err, mode)
		}
	}
}

func svcNames(es []transport.Entry) string {
	var out []string
	for _, e := range es {
		out = append(out, e.Name)
	}
	return strings.Join(out, " ")
}

// TestCgroupPids: the PIDs of the unit's groups, or its main PID where
// they cannot be read.
func TestCgroupPids(t *testing.T) {
	ctx := context.Background()
	u := parseShow(svcRecorded(t, "show-nginx-running.txt"))
	find := "find '/sys/fs/cgroup/system.slice/nginx.service' '/sys/fs/cgroup/systemd/system.slice/nginx.service' -name cgroup.procs -exec cat -- {} +"
	for _, tt := range []struct {
		name string
		out  transport.Output
		want string
	}{
		{"v2", transport.Output{Stdout: []byte("1129\n1130\n"), Exit: 1}, "1129\n1130"},
		{"v1 and v2 (hybrid): each once", transport.Output{Stdout: []byte("1129\n1130\n1130\n1129\n")}, "1129\n1130"},
		{"none readable: the main PID", transport.Output{Stderr: []byte("find: ...: No such file or directory\n"), Exit: 1}, "1129"},
		{"an empty group", transport.Output{}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			node := &svcNode{answers: map[string][]transport.Output{find: {tt.out}}}
			if got, err := cgroupPids(ctx, node, u); err != nil || got != tt.want {
				t.Errorf("%q, %v; want %q", got, err, tt.want)
			}
		})
	}
	// A group path that would leave /sys/fs/cgroup is not read.
	node := &svcNode{}
	if got, err := cgroupPids(ctx, node, unitState{cgroup: "/../../etc", mainPID: 5}); got != "5" || err != nil || len(node.cmds) != 0 {
		t.Errorf("/../../etc: %q, %v after %q", got, err, node.cmds)
	}
}

// TestListUnits: systemd's service units from real listings (with their
// legends, which the driver asks systemd to leave out), templates,
// aliases and not-found units left out.
func TestListUnits(t *testing.T) {
	got := parseUnitLists(svcRecorded(t, "list-units-centos7.txt"), svcRecorded(t, "list-unit-files-puppet.txt"))
	if len(got) != 41 || !slices.Contains(got, "getty@tty1") || !slices.Contains(got, "lvm2-pvscan@8:2") ||
		!slices.Contains(got, "brandbot") || slices.Contains(got, "autovt@") || slices.Contains(got, "autovt") || slices.Contains(got, "LOAD") {
		t.Errorf("%d units: %q", len(got), got)
	}
	// Constructed lines: the states list skips.
	got = parseUnitLists("auditd.service not-found inactive dead auditd.service\n● x.service loaded failed failed X\n",
		"sshd.service alias -\nssh.service enabled enabled\nbad\\x2dname.service enabled\n")
	if strings.Join(got, " ") != "ssh x" {
		t.Errorf("got %q", got)
	}
	node := &svcNode{answers: map[string][]transport.Output{listCommand: svcOut(svcRecorded(t, "list-units-centos7.txt") + "@@\n")}}
	es, err := Driver{}.Layer(driver.Device{}, node).ReadDir(context.Background(), "/services")
	if err != nil || len(es) != 37 || !es[0].Mode.IsDir() || len(node.cmds) != 1 {
		t.Errorf("ReadDir /services: %d entries, %v after %q", len(es), err, node.cmds)
	}
}

// TestServicesWriteSystemd: a write asks, acts and reads back; what is
// not a verb, a file that is not written, a unit that is not there do
// nothing.
func TestServicesWriteSystemd(t *testing.T) {
	ctx := context.Background()
	failedThenRunning := []transport.Output{{Stdout: []byte(svcRecorded(t, "show-redis-failed.txt"))},
		{Stdout: []byte("Id=redis.service\nLoadState=loaded\nActiveState=active\nSubState=running\nUnitFileState=disabled\nMainPID=4072\nControlGroup=/system.slice/redis.service\n")}}
	tests := []struct {
		name, path, value, want, err string
		answers                      map[string][]transport.Output
		cmds                         []string
	}{
		{name: "start", path: "/services/redis/state", value: " start\n", want: "active (running)\n",
			answers: map[string][]transport.Output{showCommand("redis.service"): failedThenRunning, "systemctl start -- 'redis.service'": svcOut("")},
			cmds:    []string{showCommand("redis.service"), "systemctl start -- 'redis.service'", showCommand("redis.service")}},
		{name: "enable", path: "/services/redis.service/enabled", value: "enable", want: "enabled\n",
			answers: map[string][]transport.Output{showCommand("redis.service"): {failedThenRunning[0], {Stdout: []byte("LoadState=loaded\nUnitFileState=enabled\n")}},
				"systemctl enable -- 'redis.service'": {{Stderr: []byte("Created symlink /etc/systemd/system/multi-user.target.wants/redis.service → /usr/lib/systemd/system/redis.service.\n")}}},
			cmds: []string{showCommand("redis.service"), "systemctl enable -- 'redis.service'", showCommand("redis.service")}},
		{name: "a failing start", path: "/services/redis/state", value: "start",
			err: `systemctl start: exit 1: Job for redis.service failed because the control process exited with error code.`,
			answers: map[string][]transport.Output{showCommand("redis.service"): failedThenRunning,
				"systemctl start -- 'redis.service'": {{Exit: 1, Stderr: []byte("Job for redis.service failed because the control process exited with error code.\nSee \"systemctl status redis.service\" and \"journalctl -xe\" for details.\n")}}},
			cmds: []string{showCommand("redis.service"), "systemctl start -- 'redis.service'"}},
		{name: "not a verb", path: "/services/redis/state", value: "bounce", err: `"bounce": write start, stop, restart, reload`},
		{name: "not an enabled verb", path: "/services/redis/enabled", value: "start", err: `"start": write enable, disable, mask, unmask`},
		{name: "pids", path: "/services/redis/pids", value: "1", err: "not writable"},
		{name: "the unit's directory", path: "/services/redis", value: "start", err: "not writable"},
		{name: "the directory", path: "/services", value: "start", err: "not writable"},
		{name: "a bad name", path: "/services/a;b/state", value: "start", err: "not writable"},
		{name: "a unit systemd does not have", path: "/services/nosuch/state", value: "start", err: "file does not exist",
			answers: map[string][]transport.Output{showCommand("nosuch.service"): svcOut(constructedNotFound)},
			cmds:    []string{showCommand("nosuch.service")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			node := &svcNode{answers: tt.answers}
			got, err := Driver{}.Layer(driver.Device{}, node).(transport.Writer).WriteFile(ctx, tt.path, []byte(tt.value))
			if tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) || tt.err == "" && (err != nil || string(got) != tt.want) {
				t.Errorf("%q, %v; want %q, error %q", got, err, tt.want, tt.err)
			}
			if !slices.Equal(node.cmds, tt.cmds) {
				t.Errorf("ran %q, want %q", node.cmds, tt.cmds)
			}
		})
	}
}

// TestServicesDestructive: stopping and restarting a service are
// destructive, nothing else; state and enabled are writable, pids not.
func TestServicesDestructive(t *testing.T) {
	tr := Driver{}.Layer(driver.Device{}, &svcNode{}).(transport.Writer)
	for p, want := range map[string]string{
		"/services/sshd/state": "stop restart", "/services/sshd.service/state": "stop restart", "/services/sshd/enabled": "",
		"/services/sshd/pids": "", "/services/sshd": "", "/services": "", "/services/-x/state": "",
	} {
		if got := strings.Join(tr.Destructive(p), " "); got != want {
			t.Errorf("Destructive(%s) = %q, want %q", p, got, want)
		}
	}
	for p, want := range map[string]bool{"/services/sshd/state": true, "/services/sshd.service/enabled": true,
		"/services/sshd/pids": false, "/services/sshd": false, "/services/-x/state": false} {
		if got := tr.Writable(p); got != want {
			t.Errorf("Writable(%s) = %v, want %v", p, got, want)
		}
	}
}

// TestUnitNames: names that reach a shell are unit names; anything else
// names no unit and runs nothing.
func TestUnitNames(t *testing.T) {
	for _, name := range []string{"sshd", "sshd.service", "getty@tty1", "lvm2-pvscan@8:2", "a_b.c-d", "hwclock.sh", strings.Repeat("a", 247)} {
		if p, ok := parseUnitPath(name + "/state"); !ok || p.file != "state" {
			t.Errorf("%q: not taken", name)
		}
	}
	ctx := context.Background()
	for _, name := range []string{"-x", ".x", "..x", "a b", "a;b", "a'b", "$(reboot)", "`x`", "a\\x2db", "a|b", "a\nb", strings.Repeat("a", 248), "ü"} {
		node := &svcNode{}
		tr := Driver{}.Layer(driver.Device{}, node)
		if _, err := tr.ReadFile(ctx, "/services/"+name+"/state", 100); !errors.Is(err, fs.ErrNotExist) || len(node.cmds) != 0 {
			t.Errorf("%q: %v after %q", name, err, node.cmds)
		}
	}
}

// TestNoSystemd: the answers that say a node has no systemd, and one that
// does not.
func TestNoSystemd(t *testing.T) {
	for _, tt := range []struct {
		out  transport.Output
		want bool
	}{
		{noSystemdOutput, true},
		{transport.Output{Exit: 1, Stderr: []byte("System has not been booted with systemd as init system (PID 1). Can't operate.\n")}, true},
		{transport.Output{Exit: 127, Stderr: []byte("sh: 1: systemctl: not found\n")}, true},
		{transport.Output{Exit: 127, Stderr: []byte("bash: line 1: systemctl: command not found\n")}, true},
		{transport.Output{Exit: 1, Stderr: []byte("Failed to connect to bus: No such file or directory\n")}, true},
		{transport.Output{Exit: 1, Stderr: []byte("Unit nosuch.service not found.\n")}, false},
		{transport.Output{Stdout: []byte("LoadState=loaded\n")}, false},
	} {
		if got := noSystemd(tt.out); got != tt.want {
			t.Errorf("noSystemd(%q) = %v", tt.out.Stderr, got)
		}
	}
}

// svcInitNode is a node without systemd with the init script foo.
func svcInitNode(extra map[string][]transport.Output) *svcNode {
	n := &svcNode{
		answers: map[string][]transport.Output{showCommand("foo.service"): {noSystemdOutput}, scriptTest("foo"): {{}}},
		files:   map[string]string{},
	}
	for c, a := range extra {
		n.answers[c] = a
	}
	return n
}

// TestServicesInit: without systemd, the init script's status by its LSB
// code, its start links, its PID file.
func TestServicesInit(t *testing.T) {
	ctx := context.Background()
	status := initCommand("foo", "status")
	for _, tt := range []struct {
		out  transport.Output
		want string
	}{
		{transport.Output{Stdout: []byte("foo is running\n")}, "active (running)\n"},
		{transport.Output{Exit: 1}, "failed\n"},
		{transport.Output{Exit: 2}, "failed\n"},
		{transport.Output{Exit: 3, Stdout: []byte("foo is not running\n")}, "inactive (dead)\n"},
		{transport.Output{Exit: 4}, "unknown\n"},
		{transport.Output{Exit: 127, Stderr: []byte("/etc/init.d/foo: 3: nosuch: not found\n")}, "error service foo status: exit 127: /etc/init.d/foo: 3: nosuch: not found"},
	} {
		node := svcInitNode(map[string][]transport.Output{status: {tt.out}})
		got, err := Driver{}.Layer(driver.Device{}, node).ReadFile(ctx, "/services/foo/state", 1<<20)
		if string(got)+svcErr(err) != tt.want || !slices.Equal(node.cmds, []string{showCommand("foo.service"), scriptTest("foo"), status}) {
			t.Errorf("exit %d: %q, %v after %q; want %q", tt.out.Exit, got, err, node.cmds, tt.want)
		}
	}
	for _, tt := range []struct{ listing, want string }{
		{"/etc/rc2.d:\nK01foo\nS01foobar\n\n/etc/rc3.d:\nS02foo\n", "enabled\n"},
		{"/etc/rc2.d:\nK01foo\nS01foobar\nS01xfoo\n", "disabled\n"},
		{"", "disabled\n"},
	} {
		node := svcInitNode(map[string][]transport.Output{rcLinks: {{Stdout: []byte(tt.listing), Exit: 2}}})
		if got, err := (Driver{}).Layer(driver.Device{}, node).ReadFile(ctx, "/services/foo.service/enabled", 1<<20); err != nil || string(got) != tt.want {
			t.Errorf("enabled of %q: %q, %v; want %q", tt.listing, got, err, tt.want)
		}
	}
	for _, tt := range []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"running", map[string]string{"/run/foo.pid": "4242\n", "/proc/4242": ""}, "4242\n"},
		{"in /var/run", map[string]string{"/var/run/foo.pid": "4242\n", "/proc/4242": ""}, "4242\n"},
		{"a PID file left behind", map[string]string{"/run/foo.pid": "4242\n"}, ""},
		{"no PID file", nil, ""},
		{"not a PID", map[string]string{"/run/foo.pid": "x\n"}, `error /run/foo.pid: "x" is not a PID`},
	} {
		node := svcInitNode(nil)
		for f, v := range tt.files {
			node.files[f] = v
		}
		got, err := Driver{}.Layer(driver.Device{}, node).ReadFile(ctx, "/services/foo/pids", 1<<20)
		if string(got)+svcErr(err) != tt.want {
			t.Errorf("pids, %s: %q, %v; want %q", tt.name, got, err, tt.want)
		}
	}
	// No such script; no systemctl at all.
	node := svcInitNode(map[string][]transport.Output{showCommand("bar.service"): {{Exit: 127, Stderr: []byte("sh: 1: systemctl: not found\n")}},
		scriptTest("bar"): {{Exit: 1}}})
	if _, err := (Driver{}).Layer(driver.Device{}, node).Stat(ctx, "/services/bar"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat of a script the node has not: %v", err)
	}
	if e, err := (Driver{}).Layer(driver.Device{}, node).Stat(ctx, "/services/foo/state"); err != nil || e.Mode != 0o644 {
		t.Errorf("Stat of the script's state: %v, %v", e, err)
	}
}

func svcErr(err error) string {
	if err != nil {
		return "error " + err.Error()
	}
	return ""
}

// TestServicesInitList: the services of /etc/init.d, not its other files.
func TestServicesInitList(t *testing.T) {
	node := &svcNode{answers: map[string][]transport.Output{
		// list-unit-files answers without systemd running (as here): its
		// files are not the services of the node.
		listCommand: {{Exit: 0, Stdout: []byte("@@\nssh.service enabled enabled\n"), Stderr: noSystemdOutput.Stderr}},
		// The executables of /etc/init.d (constructed).
		listScripts: svcOut("README\nbar.dpkg-old\nfoo\nhwclock.sh\nrc\nrcS\nskeleton\nx y\n.x\n"),
	}}
	es, err := Driver{}.Layer(driver.Device{}, node).ReadDir(context.Background(), "/services")
	if got := svcNames(es); err != nil || got != "foo hwclock.sh" {
		t.Errorf("ReadDir /services: %q, %v", got, err)
	}
}

// TestServicesWriteInit: writes run the script (or update-rc.d) and read
// back; mask is systemd's.
func TestServicesWriteInit(t *testing.T) {
	ctx := context.Background()
	start, status := initCommand("foo", "start"), initCommand("foo", "status")
	enable := "if command -v update-rc.d >/dev/null 2>&1; then update-rc.d 'foo' defaults >/dev/null && update-rc.d 'foo' enable; " +
		"elif command -v chkconfig >/dev/null 2>&1; then chkconfig --add 'foo' && chkconfig 'foo' on; " +
		"else echo 'the node has neither update-rc.d nor chkconfig' >&2; exit 127; fi"
	tests := []struct {
		name, path, value, want string
		answers                 map[string][]transport.Output
		cmds                    []string
	}{
		{"start", "/services/foo/state", "start", "active (running)\n",
			map[string][]transport.Output{start: {{Stdout: []byte("Starting foo.\n")}}, status: {{}}},
			[]string{showCommand("foo.service"), scriptTest("foo"), start, status}},
		{"a failing start", "/services/foo/state", "start", "error service foo start: exit 1: foo: cannot start",
			map[string][]transport.Output{start: {{Exit: 1, Stdout: []byte("foo: cannot start\n")}}},
			[]string{showCommand("foo.service"), scriptTest("foo"), start}},
		{"enable", "/services/foo/enabled", "enable", "enabled\n",
			map[string][]transport.Output{enable: {{}}, rcLinks: {{Stdout: []byte("S01foo\n")}}},
			[]string{showCommand("foo.service"), scriptTest("foo"), enable, rcLinks}},
		{"mask", "/services/foo/enabled", "mask", "error mask and unmask are systemd's; the node runs init scripts: write enable or disable: unsupported operation",
			nil, []string{showCommand("foo.service"), scriptTest("foo")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			node := svcInitNode(tt.answers)
			got, err := Driver{}.Layer(driver.Device{}, node).(transport.Writer).WriteFile(ctx, tt.path, []byte(tt.value))
			if string(got)+svcErr(err) != tt.want || !slices.Equal(node.cmds, tt.cmds) {
				t.Errorf("%q, %v after %q; want %q after %q", got, err, node.cmds, tt.want, tt.cmds)
			}
		})
	}
	_, err := Driver{}.Layer(driver.Device{}, svcInitNode(nil)).(transport.Writer).WriteFile(ctx, "/services/foo/enabled", []byte("unmask"))
	if !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("unmask without systemd: %v", err)
	}
}

// TestHasStartLink: S, two digits, the name exactly.
func TestHasStartLink(t *testing.T) {
	for _, tt := range []struct {
		listing string
		want    bool
	}{
		{"S01foo\n", true}, {"  S99foo  \n", true}, {"K01foo\n", false}, {"S1foo\n", false}, {"S01foo.sh\n", false},
		{"SX1foo\n", false}, {"S01fo\n", false}, {"/etc/rc2.d:\nREADME\n", false},
	} {
		if got := hasStartLink(tt.listing, "foo"); got != tt.want {
			t.Errorf("hasStartLink(%q) = %v", tt.listing, got)
		}
	}
}
