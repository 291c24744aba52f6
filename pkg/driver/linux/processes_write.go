package linux

import (
	"context"
	"fmt"
	"io/fs"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/smctl/smctl/pkg/transport"
)

// A process's writable files: nice (renice), limits/NAME (prlimit on the
// live process) and signal (kill).

// procMode is the mode of a process's file f.
func procMode(f string) fs.FileMode {
	switch f {
	case "limits":
		return fs.ModeDir | 0o555
	case "nice":
		return 0o644
	case "signal":
		return 0o200
	}
	return 0o444
}

// signals are the signals signal takes by name (with or without SIG).
var signals = []string{"HUP", "INT", "QUIT", "KILL", "USR1", "USR2", "TERM", "CONT", "STOP", "TSTP", "WINCH"}

func (processes) destructive(rest string) []string {
	if _, sub, ok := pidOf(rest); ok && sub == "signal" {
		return destructiveFiles[sub]
	}
	return nil
}

func (processes) writable(rest string) bool {
	_, sub, ok := pidOf(rest)
	name, lim, _ := strings.Cut(sub, "/")
	return ok && (sub == "nice" || sub == "signal" || name == "limits" && slices.Contains(slices.Collect(maps.Values(limitNames)), lim))
}

func (processes) write(ctx context.Context, tr transport.Transport, rest, value string) (string, error) {
	pid, sub, ok := pidOf(rest)
	if !ok {
		return "", &fs.PathError{Op: "write", Path: "/processes/" + rest, Err: transport.ErrNotWritable}
	}
	if _, err := tr.Stat(ctx, "/proc/"+pid); err != nil {
		return "", noProcess(pid, rest)
	}
	switch sub {
	case "nice":
		n, err := strconv.Atoi(value)
		if err != nil || n < -20 || n > 19 {
			return "", fmt.Errorf("%q: a nice value is a number from -20 to 19", value)
		}
		// The priority as a plain argument, an absolute value for util-linux
		// and busybox alike (-n is an increment for some); read back.
		out, err := run(ctx, tr, fmt.Sprintf("renice %d -p %s >/dev/null || exit; cat /proc/%s/stat", n, pid, pid), 64<<10)
		if err != nil {
			return "", notExistIf(rest, err)
		}
		now, err := statField(out, "nice")
		if err == nil && now != strconv.Itoa(n) {
			err = fmt.Errorf("renice %d: the nice value is %s", n, now)
		}
		return now, err
	case "signal":
		sig, err := signalArg(value)
		if err != nil {
			return "", err
		}
		if _, err := run(ctx, tr, "kill -s "+sig+" "+pid, 64<<10); err != nil {
			return "", err
		}
		return "", nil
	}
	if name, ok := strings.CutPrefix(sub, "limits/"); ok && slices.Contains(slices.Collect(maps.Values(limitNames)), name) {
		soft, hard, err := limitArg(value)
		if err != nil {
			return "", fmt.Errorf("limits/%s: %w", name, err)
		}
		if _, err := run(ctx, tr, fmt.Sprintf("prlimit --pid %s --%s=%s:%s", pid, name, soft, hard), 64<<10); err != nil {
			return "", err
		}
		return soft + " " + hard, nil
	}
	return "", &fs.PathError{Op: "write", Path: "/processes/" + rest, Err: transport.ErrNotWritable}
}

// signalNumRE is a signal's number as signal takes it: 0 to 64, without
// a sign or leading zeros (so that KILL's 9 is always written "9", which
// smctl write's confirmation recognises).
var signalNumRE = regexp.MustCompile(`^([0-9]|[1-5][0-9]|6[0-4])$`)

// signalArg is kill -s's argument for value: a signal's name (TERM,
// SIGTERM) or number.
func signalArg(value string) (string, error) {
	if signalNumRE.MatchString(value) {
		return value, nil
	}
	name := strings.TrimPrefix(strings.ToUpper(value), "SIG")
	if slices.Contains(signals, name) {
		return name, nil
	}
	return "", fmt.Errorf("%q is not a signal (%s, or a number)", value, strings.Join(signals, ", "))
}

// limitArg is the soft and hard limit of value: "SOFT HARD", or one
// value for both; each a number or unlimited.
func limitArg(value string) (soft, hard string, err error) {
	f := strings.Fields(value)
	if len(f) == 1 {
		f = append(f, f[0])
	}
	if len(f) != 2 {
		return "", "", fmt.Errorf("%q: write SOFT HARD, or one value for both", value)
	}
	for _, v := range f {
		if _, err := strconv.ParseUint(v, 10, 64); err != nil && v != "unlimited" {
			return "", "", fmt.Errorf("%q is not a number or unlimited", v)
		}
	}
	return f[0], f[1], nil
}
