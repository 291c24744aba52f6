// Package linux is the driver of a Linux node's resources as files (seed
// 003): beside the node's proc and sys, the live directories it presents
// through the node's own transport, computed on demand, each read one
// round trip to the node:
//
//	os/release      the distribution (PRETTY_NAME of /etc/os-release)
//	os/kernel       the kernel release (uname -r)
//	os/hostname     the host name; written: sets it
//	os/loadavg      the 1, 5 and 15 minute load averages: "0.12 0.08 0.01"
//	os/uptime       seconds since boot, then days and hours: "273906 3d 04:05"
//	os/users        who is logged in, as who(1) prints it, a line each
//	os/sysctl.conf  the persistent parameters; written: installed, applied
//	os/reboot       write-only: now or +MINUTES (os/shutdown too)
//	stats/...       system statistics (see statsFiles)
//	processes/...   the node's processes (see processes)
//	services/...    its system services (see services)
//	disks/...       its disks and partitions (see disks)
//
// and proc/sys/... written as sysctl -w writes a parameter. Writes are
// the transport's (transport.Writer): the tree lets a user write a live
// file when they may write the device's directory; the values that
// destroy (a reboot, a SIGKILL, a partition removed) are declared per
// file (dirFS.destructive) for smctl write's confirmation.
//
// It is a transport layer (driver.Layer): the device's transport (local,
// ssh) runs the commands and reads the files, with its connections,
// credentials and host keys; this package turns paths under its
// directories into them, and passes every other path through. smctl.yaml's
// live_dirs lists which live directories devices show (os, stats,
// processes, services and disks by default).
package linux

import (
	"context"
	"fmt"
	"io/fs"
	"maps"
	"net"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/smctl/smctl/pkg/driver"
	"github.com/smctl/smctl/pkg/proc"
	"github.com/smctl/smctl/pkg/transport"
)

// Name is the driver's name.
const Name = "linux"

// Factory registers the driver.
var Factory = driver.Factory{Name: Name, New: func(driver.Env) driver.Driver { return Driver{} }}

// Driver presents a node's OS resources as files.
type Driver struct{}

var _ driver.Layer = Driver{}

// Name implements driver.Driver.
func (Driver) Name() string { return Name }

// Layer implements driver.Layer: tr, with the driver's directories.
func (Driver) Layer(_ driver.Device, tr transport.Transport) transport.Transport {
	return &node{Transport: tr}
}

// node is a node's transport with the driver's directories on top.
type node struct {
	transport.Transport
}

// reader reads one file of the driver from the node; writer acts on a
// value written to one (trimmed of surrounding space) and returns what to
// show: the value now in effect, or "".
type (
	reader = func(ctx context.Context, tr transport.Transport) (string, error)
	writer = func(ctx context.Context, tr transport.Transport, value string) (string, error)
)

// dirFS is one of the driver's directories: paths below it (rest, ""
// for the directory itself) listed, described, read and written through
// the node's transport.
type dirFS interface {
	readDir(ctx context.Context, tr transport.Transport, rest string) ([]transport.Entry, error)
	stat(ctx context.Context, tr transport.Transport, rest string) (transport.Entry, error)
	read(ctx context.Context, tr transport.Transport, rest string) (string, error)
	// write acts on value written to rest; a path it does not write
	// gives an error wrapping transport.ErrNotWritable, having done
	// nothing.
	write(ctx context.Context, tr transport.Transport, rest, value string) (string, error)
	// destructive lists the values (their first word; "*" any) whose
	// write to rest destroys or interrupts something.
	destructive(rest string) []string
	// writable reports whether write acts on rest (from its name alone:
	// a file that may not exist on the node is writable if it would be).
	writable(rest string) bool
}

// dirs are the driver's directories. A directory in its own file adds
// itself here (init).
var dirs = map[string]dirFS{"os": flatDir(osFiles), "stats": flatDir(statsFiles), "processes": processes{}}

// file is a file of a flat directory: how it is read (nil: write-only),
// how it is written (nil: read-only).
type file struct {
	read  reader
	write writer
}

// mode is the file's permissions: read, written, or both.
func (f file) mode() fs.FileMode {
	var m fs.FileMode
	if f.read != nil {
		m |= 0o444
	}
	if f.write != nil {
		m |= 0o200
	}
	return m
}

// flatDir is a directory of files only.
type flatDir map[string]file

func (d flatDir) readDir(_ context.Context, _ transport.Transport, rest string) ([]transport.Entry, error) {
	if rest != "" {
		if _, ok := d[rest]; ok {
			return nil, &fs.PathError{Op: "readdir", Path: rest, Err: fmt.Errorf("not a directory")}
		}
		return nil, &fs.PathError{Op: "readdir", Path: rest, Err: fs.ErrNotExist}
	}
	var out []transport.Entry
	for _, f := range slices.Sorted(maps.Keys(d)) {
		out = append(out, transport.Entry{Name: f, Mode: d[f].mode()})
	}
	return out, nil
}

func (d flatDir) stat(_ context.Context, _ transport.Transport, rest string) (transport.Entry, error) {
	if rest == "" {
		return transport.Entry{Mode: fs.ModeDir | 0o555}, nil
	}
	if f, ok := d[rest]; ok {
		return transport.Entry{Name: rest, Mode: f.mode()}, nil
	}
	return transport.Entry{}, &fs.PathError{Op: "stat", Path: rest, Err: fs.ErrNotExist}
}

func (d flatDir) read(ctx context.Context, tr transport.Transport, rest string) (string, error) {
	f, ok := d[rest]
	switch {
	case ok && f.read != nil:
		return f.read(ctx, tr)
	case ok:
		return "", &fs.PathError{Op: "read", Path: rest, Err: fmt.Errorf("write-only: %w", fs.ErrPermission)}
	case rest == "":
		return "", &fs.PathError{Op: "read", Path: rest, Err: fmt.Errorf("is a directory")}
	}
	return "", &fs.PathError{Op: "read", Path: rest, Err: fs.ErrNotExist}
}

func (d flatDir) write(ctx context.Context, tr transport.Transport, rest, value string) (string, error) {
	if f, ok := d[rest]; ok && f.write != nil {
		return f.write(ctx, tr, value)
	}
	return "", &fs.PathError{Op: "write", Path: rest, Err: transport.ErrNotWritable}
}

func (d flatDir) destructive(rest string) []string {
	if d[rest].write == nil {
		return nil
	}
	return destructiveFiles[rest]
}

// destructiveFiles are, by the name of the file, the values (their first
// word; "*" any) whose write destroys or interrupts something: each of the
// driver's directories declares its files' from here, and the name alone
// tells smctl write whether a file may need confirming (Driver.Destroys).
var destructiveFiles = map[string][]string{
	"reboot": {"*"}, "shutdown": {"*"}, // os/
	"signal":     {"KILL", "SIGKILL", "9"},                // processes/PID/
	"state":      {"stop", "restart"},                     // services/UNIT/: interrupts what it serves
	"partitions": {"*"}, "mkfs": {"*"}, "pvcreate": {"*"}, // disks/
}

func (d flatDir) writable(rest string) bool { return d[rest].write != nil }

// DialUnix passes a UNIX socket's stream (libvirtd's) through to the
// node's transport.
func (n *node) DialUnix(ctx context.Context, path string) (net.Conn, error) {
	return transport.DialUnix(ctx, n.Transport, path)
}

// OpenFiles passes smctl cp through to the node's transport.
func (n *node) OpenFiles(ctx context.Context) (transport.Files, error) {
	return transport.OpenFiles(ctx, n.Transport)
}

// split returns the driver's directory a path is in ("os") and the rest,
// or "" for a path of the node.
func split(name string) (dir, rest string) {
	clean := path.Clean(name)
	first, rest, _ := strings.Cut(strings.TrimPrefix(clean, "/"), "/")
	if _, ok := dirs[first]; ok && strings.HasPrefix(clean, "/") {
		return first, rest
	}
	return "", ""
}

// ReadFile implements transport.Transport.
func (n *node) ReadFile(ctx context.Context, name string, max int64) ([]byte, error) {
	dir, rest := split(name)
	if dir == "" {
		return n.Transport.ReadFile(ctx, name, max)
	}
	v, err := dirs[dir].read(ctx, n.Transport, rest)
	if err != nil {
		return nil, err
	}
	if v != "" && !strings.HasSuffix(v, "\n") {
		v += "\n"
	}
	if max > 0 && int64(len(v)) > max {
		return nil, fmt.Errorf("%s: %w (%d bytes)", name, transport.ErrTooLarge, max)
	}
	return []byte(v), nil
}

// WriteFile implements transport.Writer: a parameter of proc/sys, or a
// writable file of the driver's directories.
func (n *node) WriteFile(ctx context.Context, name string, data []byte) ([]byte, error) {
	value := strings.TrimSpace(string(data))
	var out string
	var err error
	if key, ok := sysctlKey(path.Clean(name)); ok {
		out, err = writeSysctl(ctx, n.Transport, key, value)
	} else if dir, rest := split(name); dir != "" {
		out, err = dirs[dir].write(ctx, n.Transport, rest, value)
	} else {
		return nil, &fs.PathError{Op: "write", Path: name, Err: transport.ErrNotWritable}
	}
	if err != nil || out == "" {
		return nil, err
	}
	return []byte(out + "\n"), nil
}

// Writable implements transport.Writer.
func (n *node) Writable(name string) bool {
	if _, ok := sysctlKey(path.Clean(name)); ok {
		return true
	}
	dir, rest := split(name)
	return dir != "" && dirs[dir].writable(rest)
}

// Destructive implements transport.Writer.
func (n *node) Destructive(name string) []string {
	if dir, rest := split(name); dir != "" {
		return dirs[dir].destructive(rest)
	}
	return nil
}

// Destroys implements driver.Destroyer: writing value to a file called
// name destroys or interrupts something.
func (Driver) Destroys(name string, value []byte) bool {
	return driver.File{Destructive: destructiveFiles[name]}.Destroys(value)
}

// ReadDir implements transport.Transport.
func (n *node) ReadDir(ctx context.Context, name string) ([]transport.Entry, error) {
	dir, rest := split(name)
	if dir == "" {
		return n.Transport.ReadDir(ctx, name)
	}
	return dirs[dir].readDir(ctx, n.Transport, rest)
}

// Stat implements transport.Transport.
func (n *node) Stat(ctx context.Context, name string) (transport.Entry, error) {
	dir, rest := split(name)
	if dir == "" {
		return n.Transport.Stat(ctx, name)
	}
	e, err := dirs[dir].stat(ctx, n.Transport, rest)
	if rest == "" {
		e.Name = dir
	}
	return e, err
}

// procLine reads the one-line file p of the node.
func procLine(p string) func(context.Context, transport.Transport) (string, error) {
	return func(ctx context.Context, tr transport.Transport) (string, error) {
		b, err := tr.ReadFile(ctx, p, 4096)
		return strings.TrimSpace(string(b)), err
	}
}

func release(ctx context.Context, tr transport.Transport) (string, error) {
	b, err := tr.ReadFile(ctx, "/etc/os-release", 64<<10)
	if err != nil {
		if b, err = tr.ReadFile(ctx, "/usr/lib/os-release", 64<<10); err != nil {
			return "", err
		}
	}
	return prettyName(b), nil
}

// prettyName is PRETTY_NAME of an os-release file, unquoted; NAME and
// VERSION when it has none.
func prettyName(b []byte) string {
	vars := map[string]string{}
	for l := range strings.SplitSeq(string(b), "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(l), "=")
		if !ok {
			continue
		}
		if u, err := strconv.Unquote(v); err == nil {
			v = u
		} else {
			v = strings.Trim(v, `'"`)
		}
		vars[k] = v
	}
	if v := vars["PRETTY_NAME"]; v != "" {
		return v
	}
	return strings.TrimSpace(vars["NAME"] + " " + vars["VERSION"])
}

func loadavg(ctx context.Context, tr transport.Transport) (string, error) {
	b, err := tr.ReadFile(ctx, "/proc/loadavg", 4096)
	if err != nil {
		return "", err
	}
	return LoadAverages(b, 3)
}

// LoadAverages is the first n fields of /proc/loadavg (b): the 1, 5 and
// 15 minute load averages, then RUNNABLE/TOTAL.
func LoadAverages(b []byte, n int) (string, error) {
	f := strings.Fields(string(b))
	if len(f) < n {
		return "", fmt.Errorf("/proc/loadavg: %q is not load averages", strings.TrimSpace(string(b)))
	}
	return strings.Join(f[:n], " "), nil
}

func uptime(ctx context.Context, tr transport.Transport) (string, error) {
	b, err := tr.ReadFile(ctx, "/proc/uptime", 4096)
	if err != nil {
		return "", err
	}
	return formatUptime(b)
}

// formatUptime turns /proc/uptime into "SECONDS Dd HH:MM".
func formatUptime(b []byte) (string, error) {
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "", fmt.Errorf("/proc/uptime: empty")
	}
	secs, err := strconv.ParseFloat(f[0], 64)
	if err != nil || secs < 0 {
		return "", fmt.Errorf("/proc/uptime: %q is not seconds", f[0])
	}
	s := int64(secs)
	return fmt.Sprintf("%d %dd %02d:%02d", s, s/86400, s%86400/3600, s%3600/60), nil
}

func users(ctx context.Context, tr transport.Transport) (string, error) {
	out, err := run(ctx, tr, "who", 1<<20)
	return strings.TrimRight(out, "\n"), err
}

// run runs cmd on the node and returns what it printed; an exit status
// other than 0 is an *exitError.
func run(ctx context.Context, tr transport.Transport, cmd string, max int64) (string, error) {
	out, err := tr.Exec(ctx, cmd, nil, max)
	if err != nil {
		return "", err
	}
	if out.Exit != 0 {
		name, _, _ := strings.Cut(cmd, " ")
		return "", &exitError{name: name, code: out.Exit, msg: proc.FirstLine(out.Stderr)}
	}
	return string(out.Stdout), nil
}

// exitError is a command that exited with code, its stderr's first line
// msg.
type exitError struct {
	name, msg string
	code      int
}

func (e *exitError) Error() string {
	if e.msg == "" {
		return fmt.Sprintf("%s: exit %d", e.name, e.code)
	}
	return fmt.Sprintf("%s: exit %d: %s", e.name, e.code, e.msg)
}
