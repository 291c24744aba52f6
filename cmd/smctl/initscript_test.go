package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// initScripts counts the init scripts this test binary installed, for
// their names.
var initScripts atomic.Int64

// initScriptPrefixRE is what initscript takes as a prefix.
var initScriptPrefixRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,30}$`)

// cmdInitScript is the testscript command "initscript PREFIX": it installs
// a real LSB init script /etc/init.d/NAME (NAME: PREFIX-PID-N, unique to
// this run) whose daemon is a sleep keeping its PID in /run/NAME.pid, and
// exports NAME as INITSCRIPT. When the script ends, the daemon is killed
// by the PID of its PID file (if that process is still the sleep), and the
// script, its PID file and any /etc/rc?.d links to it are removed. It
// needs root (/etc/init.d); nothing else of the machine changes.
func cmdInitScript(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 || !initScriptPrefixRE.MatchString(args[0]) {
		ts.Fatalf("usage: initscript PREFIX (lower-case letters, digits, '-')")
	}
	name := fmt.Sprintf("%s-%d-%d", args[0], os.Getpid(), initScripts.Add(1))
	script := filepath.Join("/etc/init.d", name)
	pidFile := "/run/" + name + ".pid"
	if _, err := os.Lstat(script); err == nil {
		ts.Fatalf("initscript: %s exists already", script)
	}
	ts.Defer(func() { removeInitScript(ts, name, script, pidFile) })
	ts.Check(os.WriteFile(script, []byte(strings.ReplaceAll(initScriptText, "@NAME@", name)), 0o755))
	ts.Setenv("INITSCRIPT", name)
}

// removeInitScript stops the daemon of the init script name by the PID of
// its PID file and removes the script, the PID file and its run-level
// links.
func removeInitScript(ts *testscript.TestScript, name, script, pidFile string) {
	if b, err := os.ReadFile(pidFile); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 1 && isSleep(pid) {
			_ = syscall.Kill(pid, syscall.SIGTERM)
			for i := 0; i < 100 && isSleep(pid); i++ {
				time.Sleep(20 * time.Millisecond)
			}
		}
	}
	// update-rc.d knows what it did (insserv may renumber other links
	// and keeps its own state); what it leaves is removed below.
	if _, err := exec.LookPath("update-rc.d"); err == nil {
		if out, err := exec.Command("update-rc.d", "-f", name, "remove").CombinedOutput(); err != nil {
			ts.Logf("initscript: update-rc.d -f %s remove: %v: %s", name, err, out)
		}
	}
	links, _ := filepath.Glob("/etc/rc?.d/[SK][0-9][0-9]" + name)
	for _, f := range append(links, script, pidFile) {
		if err := os.Remove(f); err != nil && !os.IsNotExist(err) {
			ts.Logf("initscript: %v", err)
		}
	}
}

// isSleep reports whether the process pid is (still) a sleep: a PID the
// daemon's file names is killed only while it is the daemon.
func isSleep(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	argv := strings.Split(string(b), "\x00")
	return filepath.Base(argv[0]) == "sleep"
}

// initScriptText is the init script initscript installs (@NAME@ its
// name): LSB actions and status codes, its daemon a sleep in a session of
// its own (so that the command that started it ending does not end it)
// that writes its own PID file.
const initScriptText = `#!/bin/sh
### BEGIN INIT INFO
# Provides:          @NAME@
# Required-Start:
# Required-Stop:
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: smctl's test service (a sleep)
### END INIT INFO
# Installed by smctl's testscripts (initscript), removed when the script ends.

NAME=@NAME@
PIDFILE=/run/$NAME.pid

running() {
	[ -r "$PIDFILE" ] && read -r pid < "$PIDFILE" && [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

case "$1" in
start)
	running && exit 0
	rm -f "$PIDFILE"
	setsid sh -c 'echo $$ > "$1"; exec sleep 1000' sh "$PIDFILE" < /dev/null > /dev/null 2>&1 &
	i=0
	while ! running && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
	running || { echo "$NAME: did not start" >&2; exit 1; }
	echo "Started $NAME."
	;;
stop)
	if running; then
		kill "$pid"
		i=0
		while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
	fi
	rm -f "$PIDFILE"
	echo "Stopped $NAME."
	;;
restart)
	"$0" stop && "$0" start
	;;
reload)
	running || { echo "$NAME: not running, nothing to reload" >&2; exit 7; }
	echo "Reloaded $NAME."
	;;
status)
	if running; then echo "$NAME is running"; exit 0; fi
	if [ -e "$PIDFILE" ]; then echo "$NAME is dead, its PID file left"; exit 1; fi
	echo "$NAME is not running"
	exit 3
	;;
*)
	echo "Usage: $0 {start|stop|restart|reload|status}" >&2
	exit 2
	;;
esac
`
