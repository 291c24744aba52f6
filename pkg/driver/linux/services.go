package linux

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/smctl/smctl/pkg/proc"
	"github.com/smctl/smctl/pkg/transport"
)

// services/ is the node's system services, asked on demand:
//
//	services/UNIT/state    "active (running)", "inactive (dead)", "failed", ...;
//	                       written: start, stop, restart or reload
//	services/UNIT/enabled  enabled, disabled, static, masked, ...;
//	                       written: enable, disable, mask or unmask
//	services/UNIT/pids     the PIDs of its processes, one a line
//
// UNIT is a service unit's name without ".service" (sshd); UNIT.service
// names the same. On a node whose init is systemd every read of state or
// enabled is one command, systemctl show (showCommand); pids needs a
// second, reading the unit's control group (see cgroupPids); listing is
// one command (listCommand). A write asks systemctl show first (is there
// systemd, is there such a unit), then acts (systemctl VERB), then reads
// the state back: what it returns is the state now in effect.
//
// A node without systemd (systemctl missing, or not the init) says so to
// the first command; then UNIT is an init script of /etc/init.d, run the
// way service(8) runs it (see services_init.go): each access is that first
// command and then the script's.
type services struct{}

func init() { dirs["services"] = services{} }

// serviceFiles are a unit's files and their modes.
var serviceFiles = map[string]fs.FileMode{"enabled": 0o644, "pids": 0o444, "state": 0o644}

// stateVerbs and enabledVerbs are what state and enabled take.
var (
	stateVerbs   = []string{"start", "stop", "restart", "reload"}
	enabledVerbs = []string{"enable", "disable", "mask", "unmask"}
)

// showProperties are the properties a read asks systemctl show for.
const showProperties = "Id,LoadState,ActiveState,SubState,UnitFileState,MainPID,ControlGroup"

// showCommand is the one command a read of a unit runs on a systemd node:
// a simple command, which the simulator's shell runs too.
func showCommand(unit string) string {
	return "systemctl show --property=" + showProperties + " -- " + transport.Quote(unit)
}

// listCommand lists the service units systemd has loaded (running or not,
// not-found ones included, which list skips) and those it has files for.
const listCommand = "systemctl list-units --type=service --all --plain --no-legend --no-pager; echo @@; " +
	"systemctl list-unit-files --type=service --no-legend --no-pager"

// unitNameRE is a unit name as services/ takes it: letters, digits and
// "@._:-", not starting with '-' or '.' (systemd's escapes, "\x2d", are
// not taken: no backslash reaches a shell).
var unitNameRE = regexp.MustCompile(`^[A-Za-z0-9@_:][A-Za-z0-9@._:-]*$`)

// unitPath is a path below services/: the unit as named, the systemd unit
// (NAME.service), the init script's name (NAME) and the file ("" for the
// unit's directory).
type unitPath struct {
	name, unit, script, file string
}

// parseUnitPath splits rest ("sshd/state"); ok is false for what cannot
// be a unit's path (a bad name, too deep).
func parseUnitPath(rest string) (p unitPath, ok bool) {
	name, file, _ := strings.Cut(rest, "/")
	if strings.Contains(file, "/") {
		return p, false
	}
	p = unitPath{name: name, file: file, unit: name, script: strings.TrimSuffix(name, ".service")}
	if !strings.HasSuffix(name, ".service") {
		p.unit = name + ".service"
	}
	return p, validUnitName(p.unit) && p.script != ""
}

// validUnitName reports whether a unit name may reach a shell: unitNameRE,
// at most 255 bytes (systemd's limit).
func validUnitName(unit string) bool {
	return len(unit) <= 255 && unitNameRE.MatchString(unit)
}

// noUnit is the error of a path below services/ that names no unit.
func noUnit(rest string) error {
	name, _, _ := strings.Cut(rest, "/")
	return &fs.PathError{Op: "open", Path: "/services/" + rest, Err: fmt.Errorf("no service %q on the node: %w", name, fs.ErrNotExist)}
}

// unitState is what systemctl show says of a unit.
type unitState struct {
	id, load, active, sub, fileState, cgroup string
	mainPID                                  int
}

// parseShow reads systemctl show's KEY=VALUE lines (in systemd's order,
// which is not the order asked; older versions leave empty ones out).
func parseShow(out string) unitState {
	var u unitState
	for l := range strings.SplitSeq(out, "\n") {
		k, v, ok := strings.Cut(strings.TrimRight(l, "\r"), "=")
		if !ok {
			continue
		}
		switch k {
		case "Id":
			u.id = v
		case "LoadState":
			u.load = v
		case "ActiveState":
			u.active = v
		case "SubState":
			u.sub = v
		case "UnitFileState":
			u.fileState = v
		case "ControlGroup":
			u.cgroup = v
		case "MainPID":
			u.mainPID, _ = strconv.Atoi(v)
		}
	}
	return u
}

// exists reports whether systemd has the unit: it has a file for it, or
// runs it still (a unit whose file went away while it ran is not-found
// and active).
func (u unitState) exists() bool {
	return u.load != "not-found" || (u.active != "inactive" && u.active != "")
}

// state is the unit's state as systemctl status words it: "active
// (running)", "inactive (dead)", "failed" (a sub-state that repeats the
// state is left out).
func (u unitState) state() string {
	if u.sub == "" || u.sub == u.active {
		return u.active
	}
	return u.active + " (" + u.sub + ")"
}

// enabled is the unit file's state: enabled, disabled, static, masked,
// ...; "-" for a unit with none (a transient one).
func (u unitState) enabled() string {
	switch {
	case u.fileState != "":
		return u.fileState
	case u.load == "masked":
		return "masked"
	}
	return "-"
}

// noSystemd reports whether out is a node's answer that it has no systemd
// to ask: systemctl missing (exit 127, "not found"), or systemd not its
// init ("System has not been booted with systemd as init system", "Failed
// to connect to bus"). systemctl says so in words only: there is no code
// to tell it by.
func noSystemd(out transport.Output) bool {
	if out.Exit == 127 {
		return true
	}
	msg := string(out.Stderr)
	for _, s := range []string{"has not been booted with systemd", "Failed to connect to bus", "systemctl: not found", "systemctl: command not found"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// ask asks the node about the unit of p: one systemctl show, whose answer
// it returns; on a node without systemd, nil once the node has the init
// script. A unit the node does not have is an error wrapping
// fs.ErrNotExist.
func ask(ctx context.Context, tr transport.Transport, p unitPath, rest string) (*unitState, error) {
	out, err := tr.Exec(ctx, showCommand(p.unit), nil, 1<<20)
	if err != nil {
		return nil, err
	}
	if noSystemd(out) {
		return nil, hasScript(ctx, tr, p.script, rest)
	}
	if out.Exit != 0 {
		return nil, &exitError{name: "systemctl show", code: out.Exit, msg: proc.FirstLine(out.Stderr)}
	}
	u := parseShow(string(out.Stdout))
	if u.load == "" {
		return nil, fmt.Errorf("systemctl show %s: no LoadState in its answer", p.unit)
	}
	if !u.exists() {
		return nil, noUnit(rest)
	}
	return &u, nil
}

func (services) readDir(ctx context.Context, tr transport.Transport, rest string) ([]transport.Entry, error) {
	if rest == "" {
		names, err := listUnits(ctx, tr)
		if err != nil {
			return nil, err
		}
		out := make([]transport.Entry, 0, len(names))
		for _, n := range names {
			out = append(out, transport.Entry{Name: n, Mode: fs.ModeDir | 0o555})
		}
		return out, nil
	}
	p, ok := parseUnitPath(rest)
	if !ok || (p.file != "" && serviceFiles[p.file] == 0) {
		return nil, noUnit(rest)
	}
	if _, err := ask(ctx, tr, p, rest); err != nil {
		return nil, err
	}
	if p.file != "" {
		return nil, &fs.PathError{Op: "readdir", Path: "/services/" + rest, Err: fmt.Errorf("not a directory")}
	}
	var out []transport.Entry
	for _, f := range slices.Sorted(maps.Keys(serviceFiles)) {
		out = append(out, transport.Entry{Name: f, Mode: serviceFiles[f]})
	}
	return out, nil
}

func (services) stat(ctx context.Context, tr transport.Transport, rest string) (transport.Entry, error) {
	if rest == "" {
		return transport.Entry{Name: "services", Mode: fs.ModeDir | 0o555}, nil
	}
	p, ok := parseUnitPath(rest)
	if !ok || (p.file != "" && serviceFiles[p.file] == 0) {
		return transport.Entry{}, noUnit(rest)
	}
	if _, err := ask(ctx, tr, p, rest); err != nil {
		return transport.Entry{}, err
	}
	if p.file == "" {
		return transport.Entry{Name: p.name, Mode: fs.ModeDir | 0o555}, nil
	}
	return transport.Entry{Name: p.file, Mode: serviceFiles[p.file]}, nil
}

func (services) read(ctx context.Context, tr transport.Transport, rest string) (string, error) {
	if rest == "" {
		return "", &fs.PathError{Op: "read", Path: "/services", Err: fmt.Errorf("is a directory")}
	}
	p, ok := parseUnitPath(rest)
	if !ok || (p.file != "" && serviceFiles[p.file] == 0) {
		return "", noUnit(rest)
	}
	u, err := ask(ctx, tr, p, rest)
	if err != nil {
		return "", err
	}
	switch {
	case p.file == "":
		return "", &fs.PathError{Op: "read", Path: "/services/" + rest, Err: fmt.Errorf("is a directory")}
	case u == nil:
		return readInit(ctx, tr, p)
	case p.file == "state":
		return u.state(), nil
	case p.file == "enabled":
		return u.enabled(), nil
	}
	return cgroupPids(ctx, tr, *u)
}

func (services) destructive(rest string) []string {
	if p, ok := parseUnitPath(rest); ok && p.file == "state" {
		return destructiveFiles[p.file]
	}
	return nil
}

// write starts, stops, restarts or reloads the unit (state), or enables,
// disables, masks or unmasks it (enabled), and returns the state or
// enabled now in effect, as the node reads it back.
func (services) writable(rest string) bool {
	p, ok := parseUnitPath(rest)
	return ok && (p.file == "state" || p.file == "enabled")
}

func (services) write(ctx context.Context, tr transport.Transport, rest, value string) (string, error) {
	p, ok := parseUnitPath(rest)
	verbs := map[string][]string{"state": stateVerbs, "enabled": enabledVerbs}[p.file]
	if !ok || verbs == nil {
		return "", &fs.PathError{Op: "write", Path: "/services/" + rest, Err: transport.ErrNotWritable}
	}
	verb := strings.TrimSpace(value)
	if !slices.Contains(verbs, verb) {
		return "", fmt.Errorf("%q: write %s", value, strings.Join(verbs, ", "))
	}
	sd, err := ask(ctx, tr, p, rest)
	if err != nil {
		return "", err
	}
	if sd == nil {
		return writeInit(ctx, tr, p, verb)
	}
	if _, err := run(ctx, tr, "systemctl "+verb+" -- "+transport.Quote(p.unit), 1<<20); err != nil {
		var ee *exitError
		if errors.As(err, &ee) {
			ee.name = "systemctl " + verb
		}
		return "", err
	}
	out, err := run(ctx, tr, showCommand(p.unit), 1<<20)
	if err != nil {
		return "", err
	}
	u := parseShow(out)
	if p.file == "state" {
		return u.state(), nil
	}
	return u.enabled(), nil
}

// listUnits is the node's services: systemd's service units without
// ".service" (templates, aliases and units it knows of only by name left
// out), or without systemd its init scripts. Names services/ would not
// take are left out too.
func listUnits(ctx context.Context, tr transport.Transport) ([]string, error) {
	out, err := tr.Exec(ctx, listCommand, nil, 16<<20)
	if err != nil {
		return nil, err
	}
	if noSystemd(out) {
		return initScripts(ctx, tr)
	}
	if out.Exit != 0 {
		return nil, &exitError{name: "systemctl list-units, list-unit-files", code: out.Exit, msg: proc.FirstLine(out.Stderr)}
	}
	loaded, files, _ := strings.Cut(string(out.Stdout), "@@\n")
	return parseUnitLists(loaded, files), nil
}

// parseUnitLists reads systemctl list-units (UNIT LOAD ACTIVE SUB
// DESCRIPTION) and list-unit-files (UNIT STATE [PRESET]); lines that are
// not a unit's (a legend, a count) are skipped.
func parseUnitLists(loaded, files string) []string {
	seen := map[string]bool{}
	add := func(text string, skip func(state string) bool) {
		for l := range strings.SplitSeq(text, "\n") {
			f := strings.Fields(l)
			if len(f) > 0 && (f[0] == "●" || f[0] == "*") { // list-units' mark of a unit not loaded well
				f = f[1:]
			}
			if len(f) < 2 || skip(f[1]) {
				continue
			}
			name, ok := strings.CutSuffix(f[0], ".service")
			if ok && !strings.HasSuffix(name, "@") && validUnitName(f[0]) {
				seen[name] = true
			}
		}
	}
	add(loaded, func(load string) bool { return load == "not-found" })
	add(files, func(state string) bool { return state == "alias" })
	return slices.Sorted(maps.Keys(seen))
}

// cgroupPids is the PIDs of the unit's processes: those of its control
// group and the groups below it (a unit that delegates has its processes
// there), read in a second command, after the show that named the group:
//
//	find /sys/fs/cgroup/CG /sys/fs/cgroup/systemd/CG -name cgroup.procs -exec cat -- {} +
//
// (cgroup v2, then v1's systemd hierarchy). Where neither can be read,
// the unit's main PID, if it has one.
func cgroupPids(ctx context.Context, tr transport.Transport, u unitState) (string, error) {
	if cg := u.cgroup; strings.HasPrefix(cg, "/") && path.Clean(cg) == cg && !strings.Contains(cg, "/..") {
		cmd := "find " + transport.Quote("/sys/fs/cgroup"+cg) + " " + transport.Quote("/sys/fs/cgroup/systemd"+cg) +
			" -name cgroup.procs -exec cat -- {} +"
		out, err := tr.Exec(ctx, cmd, nil, 16<<20)
		if err != nil {
			return "", err
		}
		if pids := parsePids(string(out.Stdout)); len(pids) > 0 || out.Exit == 0 {
			return strings.Join(pids, "\n"), nil
		}
	}
	if u.mainPID > 0 {
		return strconv.Itoa(u.mainPID), nil
	}
	return "", nil
}

// parsePids is the PIDs of cgroup.procs files, sorted, each once.
func parsePids(text string) []string {
	var ns []int
	for _, f := range strings.Fields(text) {
		if n, err := strconv.Atoi(f); err == nil && n > 0 {
			ns = append(ns, n)
		}
	}
	slices.Sort(ns)
	ns = slices.Compact(ns)
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = strconv.Itoa(n)
	}
	return out
}
