package linux

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/smctl/smctl/pkg/proc"
	"github.com/smctl/smctl/pkg/transport"
)

// The OS's writable files: proc/sys/... (a kernel parameter, as sysctl -w
// sets it), os/hostname, os/sysctl.conf (persistent parameters), and the
// write-only os/reboot and os/shutdown.

// osFiles are the files of os/, and how each is read and written.
var osFiles = map[string]file{
	"release":     {read: release},
	"kernel":      {read: procLine("/proc/sys/kernel/osrelease")},
	"hostname":    {read: procLine("/proc/sys/kernel/hostname"), write: setHostname},
	"loadavg":     {read: loadavg},
	"uptime":      {read: uptime},
	"users":       {read: users},
	"reboot":      {write: powerDown("reboot")},
	"shutdown":    {write: powerDown("poweroff")},
	"sysctl.conf": {read: readSysctlConf, write: writeSysctlConf},
}

// sysctlConf is the file os/sysctl.conf shows and installs on the node.
const sysctlConf = "/etc/sysctl.d/90-smctl.conf"

// sysctlKey is the parameter of a path in the node's proc/sys
// ("net/ipv4/ip_forward"): at least two names of sysctlElemRE (sysctl
// reads a key without a slash as dotted, and splits key=value at the
// first '=').
func sysctlKey(name string) (string, bool) {
	key, ok := strings.CutPrefix(name, "/proc/sys/")
	els := strings.Split(key, "/")
	if !ok || len(els) < 2 {
		return "", false
	}
	for _, el := range els {
		if !sysctlElemRE.MatchString(el) {
			return "", false
		}
	}
	return key, true
}

// sysctlElemRE is a name of a kernel parameter's path.
var sysctlElemRE = regexp.MustCompile(`^[A-Za-z0-9_:@+-][A-Za-z0-9_.:@+-]*$`)

// writeSysctl sets the parameter key to value, as sysctl -w does, and
// returns the value now in effect (nothing for a write-only one, such as
// vm/drop_caches), in one command. sysctl exits 0 for some refusals (a
// read-only key): anything on its standard error fails the write.
func writeSysctl(ctx context.Context, tr transport.Transport, key, value string) (string, error) {
	if strings.ContainsAny(value, "\n\x00") {
		return "", fmt.Errorf("%s: a value of one line", key)
	}
	cmd := fmt.Sprintf(`sysctl -w -- %s >/dev/null; echo "@@$?"; cat -- %s 2>/dev/null`, transport.Quote(key+"="+value), transport.Quote("/proc/sys/"+key))
	out, err := tr.Exec(ctx, cmd, nil, 1<<20)
	if err != nil {
		return "", err
	}
	code, now, _ := strings.Cut(strings.TrimPrefix(string(out.Stdout), "@@"), "\n")
	if msg := proc.FirstLine(out.Stderr); msg != "" {
		return "", errors.New(msg) // sysctl: ...
	} else if rc, err := strconv.Atoi(code); err != nil || rc != 0 {
		return "", &exitError{name: "sysctl", code: rc, msg: code}
	}
	return strings.TrimSpace(now), nil
}

// hostnameRE is a host name: RFC 1123 labels, at most 64 bytes (the
// kernel's limit).
var hostnameRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$`)

// setHostname sets the node's running host name (the kernel's, as
// hostname(1) does; /etc/hostname is the distribution's, left alone) and
// returns it as the node reads it back.
func setHostname(ctx context.Context, tr transport.Transport, value string) (string, error) {
	if len(value) > 64 || !hostnameRE.MatchString(value) {
		return "", fmt.Errorf("%q is not a host name (letters, digits, '-' and '.', at most 64)", value)
	}
	return writeSysctl(ctx, tr, "kernel/hostname", value)
}

// whenRE is when a reboot or shutdown happens: now, or in +MINUTES.
var whenRE = regexp.MustCompile(`^(now|\+[0-9]{1,5})$`)

// powerDown reboots or powers off the node (how: reboot, poweroff) now or
// in +MINUTES, through shutdown(8).
func powerDown(how string) writer {
	flag := map[string]string{"reboot": "-r", "poweroff": "-P"}[how]
	return func(ctx context.Context, tr transport.Transport, value string) (string, error) {
		if !whenRE.MatchString(value) {
			return "", fmt.Errorf("%q: write now or +MINUTES", value)
		}
		if _, err := run(ctx, tr, "shutdown "+flag+" "+value, 64<<10); err != nil {
			return "", err
		}
		return how + " " + value, nil
	}
}

// readSysctlConf is the node's persistent parameters file, empty when it
// has none.
func readSysctlConf(ctx context.Context, tr transport.Transport) (string, error) {
	out, err := run(ctx, tr, "if [ -e "+sysctlConf+" ]; then cat "+sysctlConf+"; fi", 1<<20)
	return strings.TrimRight(out, "\n"), err
}

// sysctlLineRE is a line of a sysctl.d file: key = value, a comment, or
// nothing.
var sysctlLineRE = regexp.MustCompile(`^\s*(([#;].*)|(-?[A-Za-z0-9_][A-Za-z0-9_./*-]*\s*=.*))?$`)

// writeSysctlConf installs value (key = value lines) as the node's
// persistent parameters file, replacing it at once (a temporary file
// renamed), and applies it with sysctl -p: its errors (an unknown or
// read-only key) fail the write, with the file installed. The empty value
// removes the file.
func writeSysctlConf(ctx context.Context, tr transport.Transport, value string) (string, error) {
	if value == "" {
		_, err := run(ctx, tr, "rm -f "+sysctlConf, 64<<10)
		return "", err
	}
	for i, l := range strings.Split(value, "\n") {
		if !sysctlLineRE.MatchString(l) {
			return "", fmt.Errorf("line %d: %q is not key = value", i+1, l)
		}
	}
	cmd := "umask 022; mkdir -p /etc/sysctl.d && cat > " + sysctlConf + ".smctl-new && mv -f " + sysctlConf + ".smctl-new " + sysctlConf + " && sysctl -p " + sysctlConf
	out, err := tr.Exec(ctx, cmd, []byte(value+"\n"), 1<<20)
	if err != nil {
		return "", err
	}
	if msg := proc.FirstLine(out.Stderr); strings.HasPrefix(msg, "sysctl") {
		return "", fmt.Errorf("installed %s; applying it: %s", sysctlConf, msg)
	} else if msg != "" {
		return "", errors.New(msg)
	} else if out.Exit != 0 {
		return "", &exitError{name: "sysctl -p", code: out.Exit}
	}
	return strings.TrimRight(string(out.Stdout), "\n"), nil
}
