package linux

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"

	"github.com/smctl/smctl/pkg/proc"
	"github.com/smctl/smctl/pkg/transport"
)

// services/ on a node without systemd: its SysV init scripts. A unit is a
// script of initDir, run as service(8) runs it where the node has
// service, else directly; these commands run on real nodes only (the
// simulator is systemd's), so they use the whole shell.
//
//	state    the script's status, by its LSB exit code (lsbStates); written,
//	         the script run with the verb, then its status read back
//	enabled  enabled when a start link of the script is in /etc/rc[2-5].d;
//	         written (enable, disable) through update-rc.d or chkconfig;
//	         mask and unmask are systemd's, refused
//	pids     the PID of /run/NAME.pid (or /var/run/NAME.pid) while that
//	         process lives, else none: a daemon that keeps its PID file
//	         under another name shows none

// initDir is where init scripts are.
const initDir = "/etc/init.d"

// notServices are the files of initDir that are not services (as
// service(8) and its --status-all skip them).
var notServices = []string{"README", "skeleton", "rc", "rcS", "single", "reboot", "halt", "killall",
	"functions", "bootclean.sh", "linuxconf", "kudzu"}

// isService reports whether the file name of initDir may be a service:
// a unit name, not a file of notServices nor one a package manager left
// (*.dpkg-*, *.rpmsave, ...).
func isService(name string) bool {
	return validUnitName(name) && !slices.Contains(notServices, name) && !strings.Contains(name, ".dpkg-") &&
		!strings.HasSuffix(name, ".rpmsave") && !strings.HasSuffix(name, ".rpmnew") && !strings.HasSuffix(name, ".rpmorig")
}

// hasScript says whether the node has the init script name, an
// executable file of initDir: nil, or an error wrapping fs.ErrNotExist
// for rest.
func hasScript(ctx context.Context, tr transport.Transport, name, rest string) error {
	if !isService(name) {
		return noUnit(rest)
	}
	out, err := tr.Exec(ctx, scriptTest(name), nil, 4096)
	switch {
	case err != nil:
		return err
	case out.Exit == 1:
		return noUnit(rest)
	case out.Exit != 0:
		return &exitError{name: "test", code: out.Exit, msg: proc.FirstLine(out.Stderr)}
	}
	return nil
}

// scriptTest exits 0 where the node has the init script name, 1 where not.
func scriptTest(name string) string {
	f := transport.Quote(initDir + "/" + name)
	return "test -f " + f + " && test -x " + f
}

// listScripts lists the executable files of initDir (links to them too),
// a name a line; nothing where the node has no initDir. (A command, not a
// ReadDir: not every transport tells executables from other files.)
const listScripts = "if [ -d " + initDir + " ]; then cd " + initDir + " && for f in *; do " +
	`if [ -f "$f" ] && [ -x "$f" ]; then echo "$f"; fi; done; fi`

// initScripts lists the services of initDir: the executables isService
// takes.
func initScripts(ctx context.Context, tr transport.Transport) ([]string, error) {
	out, err := run(ctx, tr, listScripts, 4<<20)
	if err != nil {
		return nil, err
	}
	var names []string
	for l := range strings.SplitSeq(out, "\n") {
		if isService(l) {
			names = append(names, l)
		}
	}
	slices.Sort(names)
	return names, nil
}

// initCommand runs the init script name with verb as service(8) does (in
// a clean environment, from /), or directly where the node has no
// service.
func initCommand(name, verb string) string {
	q := transport.Quote(name)
	return "cd / && if command -v service >/dev/null 2>&1; then exec service " + q + " " + verb +
		"; else exec " + initDir + "/" + q + " " + verb + "; fi"
}

// lsbStates words the exit codes of an init script's status (LSB): 0
// running, 1 dead with a PID file left, 2 dead with a lock file left, 3
// not running, 4 unknown.
var lsbStates = map[int]string{0: "active (running)", 1: "failed", 2: "failed", 3: "inactive (dead)", 4: "unknown"}

// initState is the state of the init script name, from its status.
func initState(ctx context.Context, tr transport.Transport, name string) (string, error) {
	out, err := tr.Exec(ctx, initCommand(name, "status"), nil, 1<<20)
	if err != nil {
		return "", err
	}
	if s, ok := lsbStates[out.Exit]; ok {
		return s, nil
	}
	return "", initFailure("service "+name+" status", out)
}

// initFailure is the error of what (service NAME VERB) exiting out.Exit,
// with its standard error's first line (or its output's, where init
// scripts print their complaints).
func initFailure(what string, out transport.Output) error {
	msg := proc.FirstLine(out.Stderr)
	if msg == "" {
		msg = proc.FirstLine(out.Stdout)
	}
	return &exitError{name: what, code: out.Exit, msg: msg}
}

// rcLinks lists the run-level directories whose start links say the
// script is enabled.
const rcLinks = "ls -1 /etc/rc2.d /etc/rc3.d /etc/rc4.d /etc/rc5.d"

// initEnabled is enabled when a start link of the script name (S20NAME)
// is in a multi-user run level's directory, else disabled.
func initEnabled(ctx context.Context, tr transport.Transport, name string) (string, error) {
	out, err := tr.Exec(ctx, rcLinks, nil, 4<<20) // a run level the node lacks makes ls fail, not the rest
	if err != nil {
		return "", err
	}
	if hasStartLink(string(out.Stdout), name) {
		return "enabled", nil
	}
	return "disabled", nil
}

// hasStartLink reports whether ls's listing has a start link of name:
// S, two digits, name.
func hasStartLink(listing, name string) bool {
	for l := range strings.SplitSeq(listing, "\n") {
		l = strings.TrimSpace(l)
		if len(l) == len(name)+3 && l[0] == 'S' && isDigit(l[1]) && isDigit(l[2]) && l[3:] == name {
			return true
		}
	}
	return false
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// pidFiles are where a daemon keeps its PID, by its script's name.
var pidFiles = []string{"/run/%s.pid", "/var/run/%s.pid"}

// initPids is the PID of the script's daemon: the first PID file's, while
// /proc has that process; none otherwise.
func initPids(ctx context.Context, tr transport.Transport, name string) (string, error) {
	for _, f := range pidFiles {
		b, err := tr.ReadFile(ctx, fmt.Sprintf(f, name), 4096)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		} else if err != nil {
			return "", err
		}
		fields := strings.Fields(string(b))
		if len(fields) == 0 {
			return "", nil
		}
		pid, err := strconv.Atoi(fields[0])
		if err != nil || pid <= 0 {
			return "", fmt.Errorf("%s: %q is not a PID", fmt.Sprintf(f, name), fields[0])
		}
		if _, err := tr.Stat(ctx, "/proc/"+strconv.Itoa(pid)); errors.Is(err, fs.ErrNotExist) {
			return "", nil // a PID file its daemon left behind
		} else if err != nil {
			return "", err
		}
		return strconv.Itoa(pid), nil
	}
	return "", nil
}

// readInit reads the file of p, whose init script the node has.
func readInit(ctx context.Context, tr transport.Transport, p unitPath) (string, error) {
	switch p.file {
	case "state":
		return initState(ctx, tr, p.script)
	case "enabled":
		return initEnabled(ctx, tr, p.script)
	}
	return initPids(ctx, tr, p.script)
}

// enableCommands enable and disable an init script: through update-rc.d
// (its links made first where it has none), or chkconfig.
var enableCommands = map[string]string{
	"enable": "if command -v update-rc.d >/dev/null 2>&1; then update-rc.d %[1]s defaults >/dev/null && update-rc.d %[1]s enable; " +
		"elif command -v chkconfig >/dev/null 2>&1; then chkconfig --add %[1]s && chkconfig %[1]s on; " +
		"else echo 'the node has neither update-rc.d nor chkconfig' >&2; exit 127; fi",
	"disable": "if command -v update-rc.d >/dev/null 2>&1; then update-rc.d %[1]s defaults-disabled >/dev/null && update-rc.d %[1]s disable; " +
		"elif command -v chkconfig >/dev/null 2>&1; then chkconfig %[1]s off; " +
		"else echo 'the node has neither update-rc.d nor chkconfig' >&2; exit 127; fi",
}

// errNoSystemd is the reason mask and unmask are refused without systemd.
var errNoSystemd = fmt.Errorf("mask and unmask are systemd's; the node runs init scripts: write enable or disable: %w", errors.ErrUnsupported)

// writeInit acts on verb written to the file of p, whose init script the
// node has, and returns the state or enabled it reads back.
func writeInit(ctx context.Context, tr transport.Transport, p unitPath, verb string) (string, error) {
	cmd, what := initCommand(p.script, verb), "service "+p.script+" "+verb
	if p.file == "enabled" {
		if enableCommands[verb] == "" {
			return "", errNoSystemd
		}
		cmd, what = fmt.Sprintf(enableCommands[verb], transport.Quote(p.script)), verb+" "+p.script
	}
	out, err := tr.Exec(ctx, cmd, nil, 1<<20)
	if err != nil {
		return "", err
	}
	if out.Exit != 0 {
		return "", initFailure(what, out)
	}
	if p.file == "enabled" {
		return initEnabled(ctx, tr, p.script)
	}
	return initState(ctx, tr, p.script)
}
