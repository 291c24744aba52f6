package linux

// Tests that pin the boundaries and branches a mutation run of this
// package (mutate/run.sh pkg/driver/linux) found untested; see
// mutate/reviewed-linux.txt for the mutants each one kills and those left.

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"testing"

	"github.com/smctl/smctl/pkg/driver"
	"github.com/smctl/smctl/pkg/status"
	"github.com/smctl/smctl/pkg/transport"
)

// execNode answers commands from a map (an unknown one exits 127, as a
// shell does) and records each command with its standard input.
type execNode struct {
	transport.Broken
	answers map[string]transport.Output
	cmds    []string
	stdin   []string
}

func (n *execNode) Exec(_ context.Context, cmd string, stdin []byte, _ int64) (transport.Output, error) {
	n.cmds = append(n.cmds, cmd)
	n.stdin = append(n.stdin, string(stdin))
	if out, ok := n.answers[cmd]; ok {
		return out, nil
	}
	return transport.Output{Exit: 127, Stderr: []byte("sh: unknown: " + cmd + "\n")}, nil
}

// procListNode is procNode listing /proc as given.
type procListNode struct {
	procNode
	entries []transport.Entry
}

func (p *procListNode) ReadDir(context.Context, string) ([]transport.Entry, error) {
	return p.entries, nil
}

// TestMutOSModes: a flat directory's files have the modes of what they
// do, and a read of what is not read says why.
func TestMutOSModes(t *testing.T) {
	ctx := context.Background()
	tr := Driver{}.Layer(driver.Device{}, &fakeNode{})
	for _, tt := range []struct {
		path string
		mode fs.FileMode
	}{
		{"/os/reboot", 0o200},      // write-only: mode 0200, no read bit
		{"/os/shutdown", 0o200},    // write-only too
		{"/os/kernel", 0o444},      // read-only: no write bit
		{"/os/hostname", 0o644},    // read and written
		{"/os/sysctl.conf", 0o644}, // read and written
		{"/stats/cpu", 0o444},      // stats/ is read-only
	} {
		if e, err := tr.Stat(ctx, tt.path); err != nil || e.Mode != tt.mode {
			t.Errorf("Stat %s: %v, %v; want %v", tt.path, e.Mode, err, tt.mode)
		}
	}
	for _, tt := range []struct {
		path string
		err  error  // wrapped, if not nil
		msg  string // in the error
	}{
		{"/os/reboot", fs.ErrPermission, "write-only"}, // write-only: not read
		{"/os", nil, "is a directory"},                 // the directory itself
		{"/os/nothere", fs.ErrNotExist, ""},
	} {
		_, err := tr.ReadFile(ctx, tt.path, 1<<20)
		if err == nil || tt.err != nil && !errors.Is(err, tt.err) || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("ReadFile %s: %v; want %v %q", tt.path, err, tt.err, tt.msg)
		}
	}
}

// TestMutReadFileMax: a file of the driver's of exactly max bytes (its
// final newline counted) is read; one byte more is too large.
func TestMutReadFileMax(t *testing.T) {
	tr := Driver{}.Layer(driver.Device{}, &fakeNode{files: map[string]string{"/proc/sys/kernel/osrelease": "6.12.0"}})
	for _, tt := range []struct {
		max     int64
		tooLong bool
	}{
		{7, false}, // "6.12.0\n": exactly max bytes
		{6, true},  // one more than max
	} {
		got, err := tr.ReadFile(context.Background(), "/os/kernel", tt.max)
		if tt.tooLong && !errors.Is(err, transport.ErrTooLarge) || !tt.tooLong && (err != nil || string(got) != "6.12.0\n") {
			t.Errorf("max %d: %q, %v", tt.max, got, err)
		}
	}
}

// TestMutLoadUptime: LoadAverages takes a line of exactly the fields it
// needs, and an uptime of 0 seconds (the first second after boot).
func TestMutLoadUptime(t *testing.T) {
	for _, tt := range []struct {
		in   string
		n    int
		want string // "" for an error
	}{
		{"0.15 0.10 0.05", 3, "0.15 0.10 0.05"},             // exactly n fields
		{"0.15 0.10", 3, ""},                                // one fewer
		{"0.15 0.10 0.05 2/123", 4, "0.15 0.10 0.05 2/123"}, // stats/load's four
	} {
		got, err := LoadAverages([]byte(tt.in), tt.n)
		if got != tt.want || (err != nil) != (tt.want == "") {
			t.Errorf("LoadAverages(%q, %d) = %q, %v; want %q", tt.in, tt.n, got, err, tt.want)
		}
	}
	// 0 seconds is an uptime; only a negative one is refused (TestFormatUptime).
	if got, err := formatUptime([]byte("0 0")); err != nil || got != "0 0d 00:00" {
		t.Errorf("formatUptime(0) = %q, %v", got, err)
	}
}

// TestMutOSWrites: proc/sys and os/'s writable files, each one command
// (none for a value refused), what the node says of a failure an error,
// the value now in effect returned.
func TestMutOSWrites(t *testing.T) {
	sysctl := func(key, value string) string {
		return `sysctl -w -- '` + key + `=` + value + `' >/dev/null; echo "@@$?"; cat -- '/proc/sys/` + key + `' 2>/dev/null`
	}
	install := "umask 022; mkdir -p /etc/sysctl.d && cat > /etc/sysctl.d/90-smctl.conf.smctl-new && mv -f /etc/sysctl.d/90-smctl.conf.smctl-new /etc/sysctl.d/90-smctl.conf && sysctl -p /etc/sysctl.d/90-smctl.conf"
	host64 := strings.Repeat("a", 31) + "." + strings.Repeat("b", 32) // 64 bytes, the kernel's limit
	host65 := "a" + host64
	ok := func(stdout string) transport.Output { return transport.Output{Stdout: []byte(stdout)} }
	for _, tt := range []struct {
		name, path, value string
		cmd               string // the one command run ("" none)
		answer            transport.Output
		stdin             string
		want, err         string // what WriteFile returns; a part of its error
		errIs             error
	}{
		{name: "a parameter", path: "/proc/sys/net/ipv4/ip_forward", value: "1\n",
			cmd: sysctl("net/ipv4/ip_forward", "1"), answer: ok("@@0\n1\n"), want: "1\n"},
		// a key of exactly two names is a parameter (sysctlKey's least)
		{name: "a key of two names", path: "/proc/sys/vm/swappiness", value: "10",
			cmd: sysctl("vm/swappiness", "10"), answer: ok("@@0\n10\n"), want: "10\n"},
		{name: "a write-only parameter", path: "/proc/sys/vm/drop_caches", value: "3",
			cmd: sysctl("vm/drop_caches", "3"), answer: ok("@@0\n"), want: ""},
		// sysctl exits 0 for some refusals: its standard error fails the write
		{name: "a refusal on stderr", path: "/proc/sys/kernel/osrelease", value: "x", cmd: sysctl("kernel/osrelease", "x"),
			answer: transport.Output{Stdout: []byte("@@0\n6.12.0\n"), Stderr: []byte("sysctl: setting key \"kernel.osrelease\": Read-only file system\n")},
			err:    `sysctl: setting key "kernel.osrelease": Read-only file system`},
		// a status other than 0 without a word fails it too
		{name: "a silent failure", path: "/proc/sys/vm/swappiness", value: "x", cmd: sysctl("vm/swappiness", "x"),
			answer: ok("@@255\n"), err: "sysctl: exit 255"},
		{name: "two lines", path: "/proc/sys/vm/swappiness", value: "1\n2", err: "a value of one line"},
		{name: "a host name", path: "/os/hostname", value: "n2", cmd: sysctl("kernel/hostname", "n2"), answer: ok("@@0\nn2\n"), want: "n2\n"},
		// a host name of exactly 64 bytes is taken, 65 refused
		{name: "a host name of 64 bytes", path: "/os/hostname", value: host64,
			cmd: sysctl("kernel/hostname", host64), answer: ok("@@0\n" + host64 + "\n"), want: host64 + "\n"},
		{name: "a host name of 65 bytes", path: "/os/hostname", value: host65, err: "is not a host name"},
		{name: "not a host name", path: "/os/hostname", value: "a;b", err: "is not a host name"},
		{name: "reboot", path: "/os/reboot", value: "now", cmd: "shutdown -r now", answer: ok(""), want: "reboot now\n"},
		{name: "shutdown", path: "/os/shutdown", value: "+5", cmd: "shutdown -P +5", answer: ok(""), want: "poweroff +5\n"},
		{name: "a reboot refused", path: "/os/reboot", value: "now", cmd: "shutdown -r now",
			answer: transport.Output{Exit: 1, Stderr: []byte("Call to Reboot failed: Access denied\n")}, err: "shutdown: exit 1: Call to Reboot failed: Access denied"},
		{name: "not a time", path: "/os/reboot", value: "later", err: "write now or +MINUTES"},
		{name: "sysctl.conf", path: "/os/sysctl.conf", value: "net.ipv4.ip_forward = 1\n# routed\n", cmd: install,
			stdin: "net.ipv4.ip_forward = 1\n# routed\n", answer: ok("net.ipv4.ip_forward = 1\n"), want: "net.ipv4.ip_forward = 1\n"},
		{name: "sysctl.conf removed", path: "/os/sysctl.conf", value: "\n", cmd: "rm -f /etc/sysctl.d/90-smctl.conf", answer: ok(""), want: ""},
		// the line refused is named by its number, from 1
		{name: "sysctl.conf, a bad second line", path: "/os/sysctl.conf", value: "a = 1\nnot a line", err: `line 2: "not a line" is not key = value`},
		{name: "sysctl.conf, an unknown key", path: "/os/sysctl.conf", value: "net.nosuch = 1", cmd: install, stdin: "net.nosuch = 1\n",
			answer: transport.Output{Exit: 255, Stderr: []byte("sysctl: cannot stat /proc/sys/net/nosuch: No such file or directory\n")},
			err:    "installed /etc/sysctl.d/90-smctl.conf; applying it: sysctl: cannot stat /proc/sys/net/nosuch: No such file or directory"},
		{name: "sysctl.conf, not installed", path: "/os/sysctl.conf", value: "a = 1", cmd: install, stdin: "a = 1\n",
			answer: transport.Output{Exit: 1, Stderr: []byte("mkdir: cannot create directory '/etc/sysctl.d': Read-only file system\n")},
			err:    "mkdir: cannot create directory '/etc/sysctl.d': Read-only file system"},
		{name: "sysctl.conf, a silent failure", path: "/os/sysctl.conf", value: "a = 1", cmd: install, stdin: "a = 1\n",
			answer: transport.Output{Exit: 1}, err: "sysctl -p: exit 1"},
		// read-only and missing files, and the node's own files, are not written
		{name: "a read-only file", path: "/os/kernel", value: "x", errIs: transport.ErrNotWritable},
		{name: "no such file", path: "/os/nothere", value: "x", errIs: transport.ErrNotWritable},
		{name: "a file of the node", path: "/etc/hostname", value: "x", errIs: transport.ErrNotWritable},
	} {
		t.Run(tt.name, func(t *testing.T) {
			node := &execNode{answers: map[string]transport.Output{}}
			if tt.cmd != "" {
				node.answers[tt.cmd] = tt.answer
			}
			got, err := Driver{}.Layer(driver.Device{}, node).(transport.Writer).WriteFile(context.Background(), tt.path, []byte(tt.value))
			wantErr := tt.err != "" || tt.errIs != nil
			if string(got) != tt.want || (err != nil) != wantErr || err != nil && !strings.Contains(err.Error(), tt.err) ||
				tt.errIs != nil && !errors.Is(err, tt.errIs) {
				t.Errorf("%q, %v; want %q, error %q %v", got, err, tt.want, tt.err, tt.errIs)
			}
			var want []string
			if tt.cmd != "" {
				want = []string{tt.cmd}
			}
			if !slices.Equal(node.cmds, want) {
				t.Errorf("ran %q, want %q", node.cmds, want)
			} else if tt.cmd != "" && node.stdin[0] != tt.stdin {
				t.Errorf("stdin %q, want %q", node.stdin[0], tt.stdin)
			}
		})
	}
	// os/sysctl.conf reads the file it installs, in one command.
	read := "if [ -e /etc/sysctl.d/90-smctl.conf ]; then cat /etc/sysctl.d/90-smctl.conf; fi"
	node := &execNode{answers: map[string]transport.Output{read: {Stdout: []byte("a = 1\n\n")}}}
	if got, err := (Driver{}).Layer(driver.Device{}, node).ReadFile(context.Background(), "/os/sysctl.conf", 1<<20); err != nil || string(got) != "a = 1\n" {
		t.Errorf("read sysctl.conf: %q, %v after %q", got, err, node.cmds)
	}
}

// TestMutPIDs: a PID is a positive number: 0 and negative numbers are
// not processes, 1 is; only a process's signal is destructive.
func TestMutPIDs(t *testing.T) {
	w := Driver{}.Layer(driver.Device{}, &procNode{}).(transport.Writer)
	for p, want := range map[string]bool{
		"/processes/1/nice":  true,  // the least PID
		"/processes/0/nice":  false, // a PID of 0 is not a process
		"/processes/-1/nice": false, // nor a negative one
		"/processes/x/nice":  false,
	} {
		if got := w.Writable(p); got != want {
			t.Errorf("Writable(%s) = %v, want %v", p, got, want)
		}
	}
	for p, want := range map[string]string{
		"/processes/7/signal": "KILL SIGKILL 9",
		"/processes/0/signal": "", // no process
		"/processes/x/signal": "", // not a PID: not a process's signal
		"/processes/7/nice":   "", // a renice destroys nothing
	} {
		if got := strings.Join(w.Destructive(p), " "); got != want {
			t.Errorf("Destructive(%s) = %q, want %q", p, got, want)
		}
	}
}

// TestMutProcessList: processes/ lists the directories of /proc named by
// a PID: not its other directories, not a file named by a number.
func TestMutProcessList(t *testing.T) {
	node := &procListNode{entries: []transport.Entry{
		{Name: "1", Mode: fs.ModeDir | 0o555},
		{Name: "sys", Mode: fs.ModeDir | 0o555}, // a directory, not a process
		{Name: "42", Mode: 0o444},               // a number, not a directory
		{Name: "self", Mode: fs.ModeSymlink | 0o777},
		{Name: "4242", Mode: fs.ModeDir | 0o555},
	}}
	es, err := Driver{}.Layer(driver.Device{}, node).ReadDir(context.Background(), "/processes")
	if got := svcNames(es); err != nil || got != "index 1 4242" {
		t.Errorf("ReadDir /processes: %q, %v", got, err)
	}
}

// TestMutProcessReads: index (PID USER COMMAND, a line of fewer fields
// skipped), user (ps), state and nice (/proc/PID/stat).
func TestMutProcessReads(t *testing.T) {
	node := &scriptNode{
		procNode: procNode{fakeNode{files: map[string]string{"/proc/7/stat": "7 (sleep) S 1 7 7 0 -1 4194304 90 0 0 0 0 0 0 0 20 5 1 0 100 1000 50\n"}}},
		answers: map[string]transport.Output{
			// a line of exactly three fields is a process's; one of two is not
			"ps -eo pid=,user=,comm=": {Stdout: []byte("    1 root     systemd\n 4242 www-data nginx: worker\n   77 root\n")},
			"ps -o user= -p 7":        {Stdout: []byte("root\n")},
			"ps -o user= -p 8":        {Exit: 1},
		},
	}
	tr := Driver{}.Layer(driver.Device{}, node)
	ctx := context.Background()
	for p, want := range map[string]string{
		"/processes/index":   "1 root systemd\n4242 www-data nginx: worker\n",
		"/processes/7/user":  "root\n",
		"/processes/7/state": "S (sleeping)\n",
		"/processes/7/nice":  "5\n",
	} {
		if got, err := tr.ReadFile(ctx, p, 1<<20); err != nil || string(got) != want {
			t.Errorf("%s: %q, %v; want %q", p, got, err, want)
		}
	}
	// ps exits 1 for a PID it does not find; /proc/8/stat is not there.
	for _, p := range []string{"/processes/8/user", "/processes/8/state"} {
		if _, err := tr.ReadFile(ctx, p, 1<<20); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: %v", p, err)
		}
	}
}

// TestMutStatField: the fields after the command's last ')': the nice
// value is the 17th, so 17 are enough and 16 too few; a line without a
// ')' is not a status, however many fields it has.
func TestMutStatField(t *testing.T) {
	f17 := "S 1 7 7 0 -1 4194304 90 0 0 0 0 0 0 0 20 5" // state ... priority nice
	for _, tt := range []struct {
		name, line, which, want string // want "" for an error
	}{
		{"17 fields: nice the last", "7 (sleep) " + f17, "nice", "5"},
		{"16 fields: no nice", "7 (sleep) " + strings.TrimSuffix(f17, " 5"), "nice", ""},
		{"no ')'", "7 sleep " + f17 + " 1 0 100", "state", ""},
		// only what follows the last ')' is read, even when it is the first byte
		{"')' first", ") " + f17, "state", "S (sleeping)"},
	} {
		got, err := statField(tt.line, tt.which)
		if got != tt.want || (err != nil) != (tt.want == "") {
			t.Errorf("%s: %q, %v; want %q", tt.name, got, err, tt.want)
		}
	}
}

// TestMutUnitOf: a line that is not a cgroup's is skipped, not the end;
// every element of a path is looked at, the first too.
func TestMutUnitOf(t *testing.T) {
	for in, want := range map[string]string{
		"garbage\n0::/system.slice/ssh.service\n": "ssh.service",
		"0::ssh.service\n":                        "ssh.service",
		"0::/\n":                                  "-",
	} {
		if got := unitOf(in); got != want {
			t.Errorf("unitOf(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestMutLimits: a line of /proc/PID/limits with its two values and no
// unit (Max nice priority has none) is a limit; a line of a limit's name
// alone is not.
func TestMutLimits(t *testing.T) {
	node := &procNode{fakeNode{files: map[string]string{"/proc/7/limits": "Limit                     Soft Limit           Hard Limit           Units     \n" +
		"Max open files\n" +
		"Max processes             63459                63459                processes \n" +
		"Max nice priority         0                    0                    \n"}}}
	tr := Driver{}.Layer(driver.Device{}, node)
	ctx := context.Background()
	es, err := tr.ReadDir(ctx, "/processes/7/limits")
	if got := svcNames(es); err != nil || got != "nice nproc" {
		t.Errorf("ReadDir limits: %q, %v", got, err)
	}
	if got, err := tr.ReadFile(ctx, "/processes/7/limits/nice", 100); err != nil || string(got) != "0 0\n" {
		t.Errorf("limits/nice: %q, %v", got, err)
	}
	if _, err := tr.ReadFile(ctx, "/processes/7/limits/nofile", 100); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("limits/nofile of a line without values: %v", err)
	}
	// A limit's name is a file below limits/ only, not below another file.
	for _, p := range []string{"/processes/7/cmdline/nofile", "/processes/7/x/nofile"} {
		if _, err := tr.Stat(ctx, p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Stat %s: %v", p, err)
		}
	}
}

// TestMutProcessWrites: nice -20 and 19 are taken, -21, 20 and what is
// not a number refused without a command; a kill the node refuses fails
// the write; limits/NAME only for a limit's name.
func TestMutProcessWrites(t *testing.T) {
	stat := func(nice string) transport.Output {
		return transport.Output{Stdout: []byte("7 (sleep) S 1 7 7 0 -1 4194304 90 0 0 0 0 0 0 0 20 " + nice + " 1 0 100 1000 50\n")}
	}
	renice := func(n string) string { return "renice " + n + " -p 7 >/dev/null || exit; cat /proc/7/stat" }
	for _, tt := range []struct {
		path, value string
		answers     map[string]transport.Output
		want, err   string
		cmds        int
	}{
		{"/processes/7/nice", "-20", map[string]transport.Output{renice("-20"): stat("-20")}, "-20\n", "", 1}, // the least
		{"/processes/7/nice", "19", map[string]transport.Output{renice("19"): stat("19")}, "19\n", "", 1},     // the most
		{"/processes/7/nice", "-21", nil, "", "from -20 to 19", 0},
		{"/processes/7/nice", "20", nil, "", "from -20 to 19", 0},
		{"/processes/7/nice", "x", nil, "", "from -20 to 19", 0},
		{"/processes/7/signal", "TERM", map[string]transport.Output{"kill -s TERM 7": {Exit: 1, Stderr: []byte("kill: (7) - No such process\n")}},
			"", "kill: exit 1: kill: (7) - No such process", 1},
		{"/processes/7/limits/nosuch", "1", nil, "", "not writable", 0},
		{"/processes/7/nofile", "1", nil, "", "not writable", 0}, // a limit's name, not below limits/
	} {
		node := &scriptNode{answers: tt.answers}
		w := Driver{}.Layer(driver.Device{}, node).(transport.Writer)
		got, err := w.WriteFile(context.Background(), tt.path, []byte(tt.value+"\n"))
		if string(got) != tt.want || (err == nil) != (tt.err == "") || err != nil && !strings.Contains(err.Error(), tt.err) || len(node.cmds) != tt.cmds {
			t.Errorf("%s %q: %q, %v, ran %q; want %q, %q, %d commands", tt.path, tt.value, got, err, node.cmds, tt.want, tt.err, tt.cmds)
		}
	}
}

// TestMutParseShow: a line without '=' (the blank line systemctl show
// puts between units) is skipped, not the end of the answer.
func TestMutParseShow(t *testing.T) {
	u := parseShow("\nId=ssh.service\nLoadState=loaded\nActiveState=active\nSubState=running\n")
	if u.load != "loaded" || u.state() != "active (running)" {
		t.Errorf("%+v", u)
	}
}

// TestMutServicePaths: a listing of a bad unit name or of a file a unit
// does not have asks nothing; of a unit's file it asks, and is not a
// directory.
func TestMutServicePaths(t *testing.T) {
	for _, tt := range []struct {
		path string
		err  string // in the error
		cmds int
	}{
		{"/services/a;b", "file does not exist", 0},
		{"/services/nginx/nothere", "file does not exist", 0},
		{"/services/nginx/state", "not a directory", 1},
	} {
		node := &svcNode{answers: map[string][]transport.Output{showCommand("nginx.service"): svcOut(svcRecorded(t, "show-nginx-running.txt"))}}
		_, err := Driver{}.Layer(driver.Device{}, node).ReadDir(context.Background(), tt.path)
		if err == nil || !strings.Contains(err.Error(), tt.err) || len(node.cmds) != tt.cmds {
			t.Errorf("ReadDir %s: %v after %q; want %q after %d commands", tt.path, err, node.cmds, tt.err, tt.cmds)
		}
	}
}

// TestMutCgroupPids: a control group that is not an absolute path is not
// read (the main PID stands); a PID of 0 in cgroup.procs (a process of
// another PID namespace) is not a PID.
func TestMutCgroupPids(t *testing.T) {
	ctx := context.Background()
	node := &svcNode{}
	if got, err := cgroupPids(ctx, node, unitState{cgroup: "system.slice/x.service", mainPID: 5}); got != "5" || err != nil || len(node.cmds) != 0 {
		t.Errorf("a relative group: %q, %v after %q", got, err, node.cmds)
	}
	find := "find '/sys/fs/cgroup/system.slice/nginx.service' '/sys/fs/cgroup/systemd/system.slice/nginx.service' -name cgroup.procs -exec cat -- {} +"
	node = &svcNode{answers: map[string][]transport.Output{find: svcOut("0\n1129\n")}}
	if got, err := cgroupPids(ctx, node, parseShow(svcRecorded(t, "show-nginx-running.txt"))); got != "1129" || err != nil {
		t.Errorf("PID 0: %q, %v", got, err)
	}
}

// TestMutInitPids: a PID file of 0 or a negative number does not name a
// process: an error, not a look in /proc.
func TestMutInitPids(t *testing.T) {
	for _, pid := range []string{"0", "-7"} {
		node := svcInitNode(nil)
		node.files["/run/foo.pid"] = pid + "\n"
		got, err := Driver{}.Layer(driver.Device{}, node).ReadFile(context.Background(), "/services/foo/pids", 1<<20)
		if want := `error /run/foo.pid: "` + pid + `" is not a PID`; string(got)+svcErr(err) != want {
			t.Errorf("PID file %q: %q, %v; want %q", pid, got, err, want)
		}
	}
}

// TestMutFormatPartitions: the sector size is sfdisk's when it gives one,
// else lsblk's, else 512; a partition's number is positive.
func TestMutFormatPartitions(t *testing.T) {
	table := func(sectorsize, node string) string {
		return `{"partitiontable": {"device": "/dev/sda", ` + sectorsize + `"partitions": [{"node": "` + node + `", "start": 2048, "size": 2048, "type": "83"}]}}`
	}
	for _, tt := range []struct {
		name, logSec, out, want string // want "" for an error
	}{
		{"sfdisk's over lsblk's", "512", table(`"sectorsize": 4096, `, "/dev/sda1"), "1 2048 4095 8388608 linux"},
		{"lsblk's where sfdisk gives none", "4096", table("", "/dev/sda1"), "1 2048 4095 8388608 linux"},
		{"512 where neither does", "", table("", "/dev/sda1"), "1 2048 4095 1048576 linux"},
		{"partition 0", "512", table("", "/dev/sda0"), ""},
		{"a number past int", "512", table("", "/dev/sda99999999999999999999"), ""},
	} {
		got, err := formatPartitions(blockDev{Name: "sda", LogSec: jsonText(tt.logSec)}, tt.out)
		if got != tt.want || (err != nil) != (tt.want == "") {
			t.Errorf("%s: %q, %v; want %q", tt.name, got, err, tt.want)
		}
	}
	nvme := `{"partitiontable": {"device": "/dev/nvme0n1", "partitions": [{"node": "/dev/nvme0n1p2", "start": 2048, "size": 2048, "type": "83"}]}}`
	if got, err := formatPartitions(blockDev{}, nvme); err != nil || got != "2 2048 4095 1048576 linux" {
		t.Errorf("nvme0n1p2: %q, %v", got, err)
	}
}

// TestMutBlkidTags: the blank line between devices is skipped, not the
// end; a backslash escapes the next byte, and one at the end is kept.
func TestMutBlkidTags(t *testing.T) {
	tags := blkidTags("DEVNAME=/dev/sda1\n\nTYPE=ext4\nLABEL=my\\ data\\\n")
	if tags["TYPE"] != "ext4" || tags["LABEL"] != `my data\` {
		t.Errorf("%q", tags)
	}
}

// TestMutPartitionOp: a partition whose END equals its START is one
// sector; START or END not a number is refused, whichever it is; remove
// takes one word after it, and no other verb is read as remove.
func TestMutPartitionOp(t *testing.T) {
	op, err := parsePartitionOp("add 2048 2048")
	if cmd, _ := op.cmd("sda", "gpt"); err != nil || !strings.Contains(cmd, "'2048,1,linux'") {
		t.Errorf("add 2048 2048: %+v, %v: %q", op, err, cmd)
	}
	for _, v := range []string{"add x 4095", "add 2048 x", "add 4096 4095",
		"add 2048", "resize 1", "remove 1 2", ""} {
		if _, err := parsePartitionOp(v); !errors.Is(err, status.ErrUsage) {
			t.Errorf("%q: %v", v, err)
		}
	}
}

// TestMutDisksWrite: a disk whose sector size lsblk does not give gets
// no bound check (and no division by it); a mount point with a space is
// taken, one with DEL or another control byte refused; mkfs takes TYPE
// [LABEL] and a label of exactly the tool's maximum length, one more
// refused.
func TestMutDisksWrite(t *testing.T) {
	sdb := `{"blockdevices": [{"name": "sdb", "size": 1073741824, "model": "QEMU HARDDISK", "type": "disk", "rota": false, "mountpoint": null}]}`
	sdbTable := `{"partitiontable": {"label": "gpt", "device": "/dev/sdb", "unit": "sectors", "partitions": [{"node": "/dev/sdb1", "start": 2048, "size": 2048, "type": "0FC63DAF-8483-4772-8E79-3D69D8477DE4"}]}}`
	mkfs := func(tool, pkg, args string) string {
		return need(tool, pkg) + busyGuard("loop0p2", false) + tool + args + " -- '/dev/loop0p2' >/dev/null"
	}
	mount := func(dir string) string {
		q := transport.Quote(dir)
		return "if mountpoint -q -- " + q + "; then printf '%s is a mount point already: mount it on another directory\\n' " + q +
			" >&2; exit 1; fi; mount -- '/dev/loop0p2' " + q + " && findmnt -n -o TARGET --source '/dev/loop0p2'"
	}
	for _, tc := range []struct {
		name, lsblk, path, value string
		act                      string // the action's command ("" none)
		answer                   answer
		out                      string
		err                      error
		cmds                     int
	}{
		{name: "no sector size", lsblk: sdb, path: "/disks/sdb/partitions", value: "add 2048 4095",
			act: need("sfdisk", "fdisk") + need("partx", "util-linux") + busyGuard("sdb", true) +
				"printf 'label: gpt\\n' | sfdisk -q -- '/dev/sdb' >/dev/null && printf '%s\\n' '2048,2048,linux' | sfdisk -q --append -- '/dev/sdb' >/dev/null && partx -u -- '/dev/sdb' && sfdisk -J -- '/dev/sdb'",
			answer: answer{out: sdbTable}, out: "1 2048 4095 1048576 linux\n", cmds: 2},
		{name: "a space", path: "/disks/loop0/loop0p2/mountpoint", value: "/mnt/my disk", act: mount("/mnt/my disk"),
			answer: answer{out: "/mnt/my disk\n"}, out: "/mnt/my disk\n", cmds: 2},
		{name: "DEL", path: "/disks/loop0/loop0p2/mountpoint", value: "/mnt/a\x7fb", err: status.ErrUsage},
		{name: "a control byte", path: "/disks/loop0/loop0p2/mountpoint", value: "/mnt/a\x1fb", err: status.ErrUsage},
		{name: "mkfs, three words", path: "/disks/loop0/loop0p2/mkfs", value: "ext4 a b", err: status.ErrUsage},
		{name: "mkfs, nothing", path: "/disks/loop0/loop0p2/mkfs", value: "", err: status.ErrUsage},
		{name: "vfat, 11 bytes", path: "/disks/loop0/loop0p2/mkfs", value: "vfat ABCDEFGHIJK", act: mkfs("mkfs.vfat", "dosfstools", " -n 'ABCDEFGHIJK'"), cmds: 2},
		{name: "ext4, 16 bytes", path: "/disks/loop0/loop0p2/mkfs", value: "ext4 abcdefghijklmnop", act: mkfs("mkfs.ext4", "e2fsprogs", " -F -q -L 'abcdefghijklmnop'"), cmds: 2},
		{name: "ext4, 17 bytes", path: "/disks/loop0/loop0p2/mkfs", value: "ext4 abcdefghijklmnopq", err: status.ErrUsage},
		{name: "xfs, 12 bytes", path: "/disks/loop0/loop0p2/mkfs", value: "xfs abcdefghijkl", act: mkfs("mkfs.xfs", "xfsprogs", " -f -q -L 'abcdefghijkl'"), cmds: 2},
		{name: "xfs, 13 bytes", path: "/disks/loop0/loop0p2/mkfs", value: "xfs abcdefghijklm", err: status.ErrUsage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			node := newDiskNode(t)
			if tc.lsblk != "" {
				node.lsblk = tc.lsblk
				node.extras[blkidCmd("sdb")] = answer{code: 2}
			}
			if tc.act != "" {
				node.actions[tc.act] = tc.answer
			}
			got, err := Driver{}.Layer(driver.Device{}, node).(transport.Writer).WriteFile(context.Background(), tc.path, []byte(tc.value+"\n"))
			if string(got) != tc.out || tc.err == nil && err != nil || tc.err != nil && !errors.Is(err, tc.err) {
				t.Errorf("%q, %v; want %q, %v", got, err, tc.out, tc.err)
			}
			if len(node.cmds) != tc.cmds {
				t.Errorf("ran %q, want %d commands", node.cmds, tc.cmds)
			} else if tc.act != "" && node.cmds[len(node.cmds)-1] != tc.act {
				t.Errorf("acted with %q, want %q", node.cmds[len(node.cmds)-1], tc.act)
			}
		})
	}
}

// TestMutSampledStats: io and network are rates over the seconds between
// the two samples (the node's uptimes); a clock that did not move is an
// error, not a division by zero.
func TestMutSampledStats(t *testing.T) {
	ioA := "   8  0 sda 100 0 2000 0 50 0 4000 0 0 100 0\n"
	ioB := "   8  0 sda 300 0 6000 0 150 0 8000 0 0 600 0\n"
	head := "Inter-|   Receive |  Transmit\n face |bytes packets|bytes packets\n"
	netA := head + "  eth0: 1024 10 0 0 0 0 0 0 2048 20 0 0 0 0 0 0\n"
	netB := head + "  eth0: 3072 30 0 0 0 0 0 0 6144 60 0 0 0 0 0 0\n"
	samples := func(t0, a, t1, b string) string { return t0 + " 1\n" + a + "@@\n" + t1 + " 1\n" + b }
	for _, tt := range []struct {
		name, path, out, want string // want "" for an error
	}{
		{"io over 2 s", "/stats/io", samples("100.00", ioA, "102.00", ioB), "sda 100.0 50.0 1000.0 1000.0 25.0\n"},
		{"network over 2 s", "/stats/network", samples("100.00", netA, "102.00", netB), "eth0 1.0 2.0 10.0 20.0\n"},
		{"io, the clock still", "/stats/io", samples("100.00", ioA, "100.00", ioB), ""},
	} {
		sh := &shellNode{out: tt.out}
		got, err := Driver{}.Layer(driver.Device{}, sh).ReadFile(context.Background(), tt.path, 1<<20)
		if string(got) != tt.want || (err != nil) != (tt.want == "") || tt.want == "" && !strings.Contains(err.Error(), "did not move") {
			t.Errorf("%s: %q, %v; want %q", tt.name, got, err, tt.want)
		}
	}
}

// TestMutFieldsOf: a line of fewer than two fields is skipped, not the
// end; a line's numbers stop at the first field that is not one.
func TestMutFieldsOf(t *testing.T) {
	m, order := fieldsOf([]byte("a 1 2 kB 3\n\nc\nb 4\n"), "")
	if strings.Join(order, " ") != "a b" || !slices.Equal(m["a"], []float64{1, 2}) || !slices.Equal(m["b"], []float64{4}) {
		t.Errorf("%v %v", m, order)
	}
}

// TestMutFormatCPU: the lines formatCPU takes: a cpu line of at least
// five numbers (user nice system idle iowait), in both samples; every
// other line skipped, not the end.
func TestMutFormatCPU(t *testing.T) {
	for _, tt := range []struct{ name, a, b, want string }{
		{"a line before the cpu lines", "intr 1 2\ncpu 100 0 50 800 50 0 0 0\n", "intr 3 4\ncpu 200 0 100 1500 100 0 0 0\n",
			"all 11.1 5.6 5.6 77.8"},
		{"exactly five numbers", "cpu 0 0 0 0 0\n", "cpu 10 0 10 70 10\n", "all 10.0 10.0 10.0 70.0"},
		{"four numbers: skipped, the next line read", "cpu 1 2 3 4\ncpu0 0 0 0 0 0\n", "cpu 2 3 4 5\ncpu0 10 0 10 70 10\n",
			"cpu0 10.0 10.0 10.0 70.0"},
		{"fewer numbers in the second sample: skipped", "cpu0 1 2 3 4 5 6 7 8\ncpu1 0 0 0 0 0\n", "cpu0 1 2 3 4 5\ncpu1 10 0 10 70 10\n",
			"cpu1 10.0 10.0 10.0 70.0"},
		// no time passed: every share 0, not 0/0
		{"the same sample twice", "cpu 1 2 3 4 5 6 7 8\n", "cpu 1 2 3 4 5 6 7 8\n", "all 0.0 0.0 0.0 0.0"},
	} {
		if got, err := formatCPU([]byte(tt.a), []byte(tt.b)); err != nil || got != tt.want {
			t.Errorf("%s: %q, %v; want %q", tt.name, got, err, tt.want)
		}
	}
}

// TestMutMemory: a figure without a number is left out, the others
// shown.
func TestMutMemory(t *testing.T) {
	node := &fakeNode{files: map[string]string{"/proc/meminfo": "MemTotal:       kB\nMemFree: 200 kB\n"}}
	if got, err := (Driver{}).Layer(driver.Device{}, node).ReadFile(context.Background(), "/stats/memory", 1<<20); err != nil || string(got) != "free 200\n" {
		t.Errorf("%q, %v", got, err)
	}
}

// TestMutFormatIO: a line that is not a disk's, and an idle disk, are
// skipped, not the end; a disk with as many reads as writes did I/O.
func TestMutFormatIO(t *testing.T) {
	idle := "   7 0 loop0 0 0 0 0 0 0 0 0 0 0 0\n"
	a := "   8  0 sda 100 0 2000 0 100 0 4000 0 0 100 0\n"
	b := "   8  0 sda 300 0 6000 0 300 0 8000 0 0 600 0\n"
	const want = "sda 100.0 100.0 1000.0 1000.0 25.0"
	for _, tt := range []struct{ name, a, b string }{
		{"as many reads as writes", a, b},
		{"an idle disk first", idle + a, idle + b},
		{"a short line first", "garbage\n" + a, "garbage\n" + b},
	} {
		if got := formatIO([]byte(tt.a), []byte(tt.b), 2); got != want {
			t.Errorf("%s: %q, want %q", tt.name, got, want)
		}
	}
}

// TestMutFormatNet: a line of exactly ten numbers (up to the transmitted
// packets) is an interface's, one of nine is not; an interface gone by
// the second sample is skipped, not the end.
func TestMutFormatNet(t *testing.T) {
	head := "Inter-|   Receive |  Transmit\n face |bytes packets|bytes packets\n"
	for _, tt := range []struct{ name, a, b, want string }{
		{"ten numbers", head + "  eth0: 1024 10 0 0 0 0 0 0 2048 20\n", head + "  eth0: 3072 30 0 0 0 0 0 0 6144 60\n", "eth0 1.0 2.0 10.0 20.0"},
		{"nine numbers", head + "  eth0: 1024 10 0 0 0 0 0 0 2048\n", head + "  eth0: 3072 30 0 0 0 0 0 0 6144\n", ""},
		{"an interface gone", head + "  veth1: 1 2 3 4 5 6 7 8 9 10\n  eth0: 1024 10 0 0 0 0 0 0 2048 20\n",
			head + "  eth0: 3072 30 0 0 0 0 0 0 6144 60\n", "eth0 1.0 2.0 10.0 20.0"},
	} {
		if got := formatNet([]byte(tt.a), []byte(tt.b), 2); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}

// TestMutProcessStats: a figure /proc/stat lacks is "?"; /proc/loadavg's
// RUNNABLE/TOTAL is its fourth field, so four fields are enough.
func TestMutProcessStats(t *testing.T) {
	sh := &shellNode{out: "cpu 1 2 3\nprocesses 999\nprocs_running 3\n0.1 0.2 0.3 3/321\n"}
	got, err := Driver{}.Layer(driver.Device{}, sh).ReadFile(context.Background(), "/stats/processes", 1<<20)
	if want := "running 3\nblocked ?\ntotal 321\nforks 999\n"; err != nil || string(got) != want {
		t.Errorf("%q, %v; want %q", got, err, want)
	}
}

// TestMutSar: sadf's output as it prints it; no history of today says
// how to have one; another failure is sadf's own.
func TestMutSar(t *testing.T) {
	for _, tt := range []struct {
		name   string
		sh     shellNode
		want   string
		errHas []string // in the error, if not nil
		errNot string   // not in the error
	}{
		{name: "history", sh: shellNode{out: "{\"sysstat\": {\"hosts\": []}}\n"}, want: "{\"sysstat\": {\"hosts\": []}}\n"},
		{name: "none today", sh: shellNode{exit: 2, stderr: "Cannot open /var/log/sysstat/sa22: No such file or directory\n"},
			errHas: []string{"sadf: Cannot open /var/log/sysstat/sa22: No such file or directory: sysstat keeps no history of today"}},
		{name: "another failure", sh: shellNode{exit: 1, stderr: "Invalid system activity file: /var/log/sysstat/sa22\n"},
			errHas: []string{"exit 1", "Invalid system activity file"}, errNot: "history"},
	} {
		got, err := Driver{}.Layer(driver.Device{}, &tt.sh).ReadFile(context.Background(), "/stats/sar", 1<<20)
		bad := string(got) != tt.want || (err != nil) != (tt.errHas != nil)
		for _, s := range tt.errHas {
			bad = bad || err == nil || !strings.Contains(err.Error(), s)
		}
		if bad || tt.errNot != "" && err != nil && strings.Contains(err.Error(), tt.errNot) {
			t.Errorf("%s: %q, %v", tt.name, got, err)
		}
	}
}

// TestMutRelease: os/release falls back to /usr/lib/os-release where the
// node has no /etc/os-release (os-release(5)); with neither it is an
// error.
func TestMutRelease(t *testing.T) {
	for _, tt := range []struct {
		name  string
		files map[string]string
		want  string // "" for an error
	}{
		{"the fallback", map[string]string{"/usr/lib/os-release": "PRETTY_NAME=\"Alpine Linux v3.20\"\n"}, "Alpine Linux v3.20\n"},
		{"neither", nil, ""},
	} {
		got, err := Driver{}.Layer(driver.Device{}, &fakeNode{files: tt.files}).ReadFile(context.Background(), "/os/release", 1<<20)
		if string(got) != tt.want || (err != nil) != (tt.want == "") || err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: %q, %v; want %q", tt.name, got, err, tt.want)
		}
	}
}

// TestMutNetPipeName: an interface whose name has a '|' (Linux allows it)
// is in stats/network; the header lines, which have no ':', are not.
func TestMutNetPipeName(t *testing.T) {
	dev := func(n int) []byte {
		return fmt.Appendf(nil, "Inter-|   Receive |  Transmit\n face |bytes packets|bytes packets\n  a|b: %d %d 0 0 0 0 0 0 %d %d 0 0 0 0 0 0\n", 1024*n, n, 2048*n, n)
	}
	out := formatNet(dev(1), dev(2), 1)
	if !strings.Contains(out, "a|b ") || strings.Contains(out, "face") || strings.Contains(out, "Inter") {
		t.Errorf("formatNet: %q", out)
	}
}
