package linux

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/smctl/smctl/pkg/transport"
)

// processes/ is the node's processes, listed on demand, one round trip
// each:
//
//	processes/index            PID USER COMMAND, a line each
//	processes/PID/cmdline      its command line, arguments separated by spaces
//	processes/PID/user         the user it runs as
//	processes/PID/state        "S (sleeping)", "R (running)", ...
//	processes/PID/nice         its nice value
//	processes/PID/service      the systemd unit it belongs to (from its cgroup), or "-"
//	processes/PID/limits/NAME  "SOFT HARD" (nofile, nproc, stack, core, as, memlock, ...)
//	processes/PID/signal       write-only: TERM, KILL, HUP, ... or a number
//
// nice and limits/NAME are written too (see processes.write).
type processes struct{}

// procFiles are a process's files (limits is a directory).
var procFiles = []string{"cmdline", "limits", "nice", "service", "signal", "state", "user"}

// limitNames are the names of /proc/PID/limits' lines.
var limitNames = map[string]string{
	"Max cpu time": "cpu", "Max file size": "fsize", "Max data size": "data", "Max stack size": "stack",
	"Max core file size": "core", "Max resident set": "rss", "Max processes": "nproc", "Max open files": "nofile",
	"Max locked memory": "memlock", "Max address space": "as", "Max file locks": "locks",
	"Max pending signals": "sigpending", "Max msgqueue size": "msgqueue", "Max nice priority": "nice",
	"Max realtime priority": "rtprio", "Max realtime timeout": "rttime",
}

// pidOf splits "PID/rest": the PID, if the first element is one.
func pidOf(rest string) (pid, sub string, ok bool) {
	pid, sub, _ = strings.Cut(rest, "/")
	n, err := strconv.Atoi(pid)
	return pid, sub, err == nil && n > 0
}

func notExist(name string) error {
	return &fs.PathError{Op: "open", Path: "/processes/" + name, Err: fs.ErrNotExist}
}

// noProcess is the error of a path below processes/PID/ where the node
// has no process PID (any more).
func noProcess(pid, name string) error {
	return &fs.PathError{Op: "open", Path: "/processes/" + name, Err: fmt.Errorf("no process %s on the node: %w", pid, fs.ErrNotExist)}
}

func (processes) readDir(ctx context.Context, tr transport.Transport, rest string) ([]transport.Entry, error) {
	if rest == "" {
		es, err := tr.ReadDir(ctx, "/proc")
		if err != nil {
			return nil, err
		}
		out := []transport.Entry{{Name: "index", Mode: 0o444}}
		for _, e := range es {
			if _, _, ok := pidOf(e.Name); ok && e.Mode.IsDir() {
				out = append(out, transport.Entry{Name: e.Name, Mode: fs.ModeDir | 0o555})
			}
		}
		return out, nil
	}
	pid, sub, ok := pidOf(rest)
	switch {
	case !ok:
		return nil, notExist(rest)
	case sub == "":
		if _, err := tr.Stat(ctx, "/proc/"+pid); err != nil {
			return nil, noProcess(pid, rest)
		}
		var out []transport.Entry
		for _, f := range procFiles {
			out = append(out, transport.Entry{Name: f, Mode: procMode(f)})
		}
		return out, nil
	case sub == "limits":
		lim, err := limits(ctx, tr, pid)
		if err != nil {
			return nil, err
		}
		var out []transport.Entry
		for _, n := range slices.Sorted(maps.Keys(lim)) {
			out = append(out, transport.Entry{Name: n, Mode: 0o644})
		}
		return out, nil
	}
	return nil, &fs.PathError{Op: "readdir", Path: "/processes/" + rest, Err: fmt.Errorf("not a directory")}
}

func (processes) stat(ctx context.Context, tr transport.Transport, rest string) (transport.Entry, error) {
	if rest == "" {
		return transport.Entry{Name: "processes", Mode: fs.ModeDir | 0o555}, nil
	}
	if rest == "index" {
		return transport.Entry{Name: rest, Mode: 0o444}, nil
	}
	pid, sub, ok := pidOf(rest)
	if !ok {
		return transport.Entry{}, notExist(rest)
	}
	if _, err := tr.Stat(ctx, "/proc/"+pid); err != nil {
		return transport.Entry{}, noProcess(pid, rest)
	}
	name, lim, _ := strings.Cut(sub, "/")
	switch {
	case sub == "":
		return transport.Entry{Name: pid, Mode: fs.ModeDir | 0o555}, nil
	case sub == "limits":
		return transport.Entry{Name: sub, Mode: fs.ModeDir | 0o555}, nil
	case name == "limits" && !strings.Contains(lim, "/") && slices.Contains(slices.Collect(maps.Values(limitNames)), lim):
		return transport.Entry{Name: lim, Mode: 0o644}, nil
	case slices.Contains(procFiles, sub):
		return transport.Entry{Name: sub, Mode: procMode(sub)}, nil
	}
	return transport.Entry{}, notExist(rest)
}

func (processes) read(ctx context.Context, tr transport.Transport, rest string) (string, error) {
	if rest == "index" {
		out, err := run(ctx, tr, "ps -eo pid=,user=,comm=", 16<<20)
		if err != nil {
			return "", err
		}
		var lines []string
		for l := range strings.SplitSeq(out, "\n") {
			if f := strings.Fields(l); len(f) >= 3 {
				lines = append(lines, f[0]+" "+f[1]+" "+strings.Join(f[2:], " "))
			}
		}
		return strings.Join(lines, "\n"), nil
	}
	pid, sub, ok := pidOf(rest)
	if !ok {
		return "", notExist(rest)
	}
	switch sub {
	case "cmdline":
		b, err := tr.ReadFile(ctx, "/proc/"+pid+"/cmdline", 1<<20)
		if err != nil {
			return "", notExistIf(rest, err)
		}
		return strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " ")), nil
	case "user":
		out, err := tr.Exec(ctx, "ps -o user= -p "+pid, nil, 4096)
		if err != nil {
			return "", err
		}
		if out.Exit != 0 { // ps exits 1 for a PID it does not find
			return "", notExist(rest)
		}
		return strings.TrimSpace(string(out.Stdout)), nil
	case "state", "nice":
		b, err := tr.ReadFile(ctx, "/proc/"+pid+"/stat", 4096)
		if err != nil {
			return "", notExistIf(rest, err)
		}
		return statField(string(b), sub)
	case "service":
		b, err := tr.ReadFile(ctx, "/proc/"+pid+"/cgroup", 64<<10)
		if err != nil {
			return "", notExistIf(rest, err)
		}
		return unitOf(string(b)), nil
	case "limits":
		return "", &fs.PathError{Op: "read", Path: "/processes/" + rest, Err: fmt.Errorf("is a directory")}
	case "signal":
		return "", &fs.PathError{Op: "read", Path: "/processes/" + rest, Err: fmt.Errorf("write-only: %w", fs.ErrPermission)}
	}
	if name, ok := strings.CutPrefix(sub, "limits/"); ok {
		lim, err := limits(ctx, tr, pid)
		if err != nil {
			return "", notExistIf(rest, err)
		}
		if v, ok := lim[name]; ok {
			return v, nil
		}
	}
	return "", notExist(rest)
}

// notExistIf says the process is gone when the node says its file is
// (the transports wrap fs.ErrNotExist).
func notExistIf(rest string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		pid, _, _ := strings.Cut(rest, "/")
		return noProcess(pid, rest)
	}
	return err
}

// statStates are the words of /proc/PID/stat's state letters.
var statStates = map[string]string{"R": "running", "S": "sleeping", "D": "disk sleep", "Z": "zombie", "T": "stopped",
	"t": "tracing stop", "X": "dead", "I": "idle", "P": "parked", "W": "waking"}

// statField is the state ("S (sleeping)") or nice value of a
// /proc/PID/stat line: after the command in parentheses come state, ppid,
// ..., priority (15th), nice (16th).
func statField(line, which string) (string, error) {
	i := strings.LastIndexByte(line, ')')
	f := strings.Fields(line[i+1:])
	if i < 0 || len(f) < 17 {
		return "", fmt.Errorf("/proc/PID/stat: %q is not a process's status", strings.TrimSpace(line))
	}
	if which == "nice" {
		return f[16], nil
	}
	if w, ok := statStates[f[0]]; ok {
		return f[0] + " (" + w + ")", nil
	}
	return f[0], nil
}

// unitOf is the systemd unit (a .service or .scope) of a /proc/PID/cgroup,
// or "-".
func unitOf(cgroup string) string {
	for l := range strings.SplitSeq(cgroup, "\n") {
		_, p, ok := strings.Cut(l, "::")
		if !ok {
			if parts := strings.SplitN(l, ":", 3); len(parts) == 3 {
				p, ok = parts[2], true
			}
		}
		if !ok {
			continue
		}
		els := strings.Split(p, "/")
		for i := len(els) - 1; i >= 0; i-- {
			if strings.HasSuffix(els[i], ".service") || strings.HasSuffix(els[i], ".scope") {
				return els[i]
			}
		}
	}
	return "-"
}

// limits reads /proc/PID/limits: name -> "SOFT HARD".
func limits(ctx context.Context, tr transport.Transport, pid string) (map[string]string, error) {
	b, err := tr.ReadFile(ctx, "/proc/"+pid+"/limits", 64<<10)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for l := range strings.SplitSeq(string(b), "\n") {
		for label, name := range limitNames {
			rest, ok := strings.CutPrefix(l, label)
			if !ok || rest == "" || rest[0] != ' ' {
				continue
			}
			if f := strings.Fields(rest); len(f) >= 2 {
				out[name] = f[0] + " " + f[1]
			}
		}
	}
	return out, nil
}
