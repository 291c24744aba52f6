package checks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/smctl/smctl/pkg/agent"
	"github.com/smctl/smctl/pkg/check"
	"github.com/smctl/smctl/pkg/driver"
	"github.com/smctl/smctl/pkg/proc"
	"github.com/smctl/smctl/pkg/status"
	"github.com/smctl/smctl/pkg/transport"
	"github.com/smctl/smctl/pkg/trust"
)

// ErrNotFound is wrapped by the error of a plugin found nowhere.
var ErrNotFound = errors.New("plugin not found")

// maxOutput caps what a plugin may print: Nagios reads 4 to 8 KiB; more is
// a plugin gone wrong, killed and UNKNOWN.
const maxOutput = 64 << 10

// PluginsDir is the state root's directory of plugins, searched after
// plugin_dirs: beside the agents of the default agent directory.
const PluginsDir = "agents.d/plugins"

// SystemDirs are where distributions install the Monitoring Plugins
// (Debian: /usr/lib/nagios/plugins), searched last.
var SystemDirs = []string{"/usr/lib/nagios/plugins", "/usr/lib/monitoring-plugins"}

// cleanPath is the PATH a plugin runs with, whatever smctl's own.
const cleanPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// output is what one run left: the plugin's exit status and output, or
// a result of smctl's own (timed out, printed too much).
type output struct {
	exit   int
	stdout []byte
	synth  *check.Result
}

func (o output) result() (check.Result, []string, error) {
	if o.synth != nil {
		return *o.synth, nil, nil
	}
	return check.Parse(o.exit, o.stdout), perfText(o.stdout), nil
}

// finish turns a run of plugin prog under tctx (ctx with the check's
// timeout) into its output: a timeout or too much output is a result of
// its own, UNKNOWN; ctx ending or a plugin that could not run an error.
func finish(ctx, tctx context.Context, prog string, timeout time.Duration, exit int, stdout []byte, err error) (output, error) {
	unknown := func(format string, args ...any) (output, error) {
		return output{synth: &check.Result{State: check.Unknown, Message: fmt.Sprintf(format, args...)}}, nil
	}
	switch {
	case ctx.Err() != nil:
		return output{}, ctx.Err()
	case errors.Is(tctx.Err(), context.DeadlineExceeded):
		return unknown("plugin %s timed out after %s", prog, timeout)
	case errors.Is(err, status.ErrOutputLimit):
		return unknown("plugin %s printed more than %d KiB: %s", prog, maxOutput>>10, proc.FirstLine(stdout))
	case err != nil:
		return output{}, fmt.Errorf("plugin %s: %w", prog, err)
	}
	return output{exit: exit, stdout: stdout}, nil
}

// runLocal runs args on this machine with environment env.
func (d *Driver) runLocal(ctx context.Context, args, env []string, timeout time.Duration) (output, error) {
	p, err := d.find(args[0])
	if err != nil {
		return output{}, err
	}
	cmd := exec.Command(p, args[1:]...)
	cmd.Env, cmd.Dir = env, "/"
	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	out, err := proc.Run(tctx, cmd, maxOutput)
	return finish(ctx, tctx, args[0], timeout, out.Exit, out.Stdout, err)
}

// runRemote runs args on the node tr reaches.
func runRemote(ctx context.Context, tr transport.Transport, args []string, timeout time.Duration) (output, error) {
	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	out, err := tr.Exec(tctx, remoteCommand(args), nil, maxOutput)
	o, err := finish(ctx, tctx, args[0], timeout, out.Exit, out.Stdout, err)
	if err == nil && o.synth == nil && (o.exit == 126 || o.exit == 127) && len(bytes.TrimSpace(o.stdout)) == 0 {
		return output{}, fmt.Errorf("%w: %s on the node (its PATH, %s): exit %d: %s", ErrNotFound, args[0], remoteDirs, o.exit, proc.FirstLine(out.Stderr))
	}
	return o, err
}

// find returns the path of plugin name, judged trusted with the directory
// it is in: an absolute name as it is, else the first plugin of the name
// in plugin_dirs, PluginsDir and SystemDirs. A directory that exists but
// is not trusted refuses the search, whether it has the plugin or not: it
// could have it by the next run.
func (d *Driver) find(name string) (string, error) {
	if strings.HasPrefix(name, "/") {
		if _, err := judgeDir(filepath.Dir(name), ""); err != nil {
			return "", err
		}
		return name, judgePlugin(name)
	}
	var looked []string
	for _, dir := range d.searchDirs() {
		looked = append(looked, dir)
		ok, err := judgeDir(dir, d.root)
		if err != nil {
			return "", fmt.Errorf("plugin directory %s: %w", dir, err)
		}
		if !ok {
			continue
		}
		p := filepath.Join(dir, name)
		if _, err := os.Lstat(p); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		return p, judgePlugin(p)
	}
	return "", fmt.Errorf("%w: %s in %s (install monitoring-plugins-basic, list its directory in plugin_dirs, or name it by its path)",
		ErrNotFound, name, strings.Join(looked, ", "))
}

// searchDirs lists where a plugin named without a '/' is looked up.
func (d *Driver) searchDirs() []string {
	var out []string
	for _, dir := range d.plugins {
		if !filepath.IsAbs(dir) {
			if d.root == "" {
				continue
			}
			dir = filepath.Join(d.root, dir)
		}
		out = append(out, filepath.Clean(dir))
	}
	if d.root != "" {
		out = append(out, filepath.Join(d.root, PluginsDir))
	}
	return append(out, SystemDirs...)
}

// judgeDir judges directory dir as opened and, when it is inside the
// state root root, every directory above it up to root, as agent
// directories are judged. It reports false, with no error, when dir does
// not exist.
func judgeDir(dir, root string) (bool, error) {
	dirs := []string{dir}
	if r, err := filepath.Rel(root, dir); root != "" && err == nil && r != ".." && !strings.HasPrefix(r, "../") {
		for p := dir; p != root && p != filepath.Dir(p); {
			p = filepath.Dir(p)
			dirs = append(dirs, p)
		}
	}
	for i, p := range dirs {
		f, err := os.Open(p)
		if errors.Is(err, fs.ErrNotExist) && i == 0 {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		fi, err := f.Stat()
		f.Close()
		if err != nil {
			return false, err
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		switch {
		case !fi.IsDir():
			return false, fmt.Errorf("%s is not a directory", p)
		case !ok:
			return false, fmt.Errorf("%s: owner unknown", p)
		}
		if err := trust.Dir(p, st); err != nil {
			return false, err
		}
	}
	return true, nil
}

// judgePlugin judges the plugin at p as opened (following a symlink, as
// the run will): trusted, a regular file, executable.
func judgePlugin(p string) error {
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: %s", ErrNotFound, p)
	}
	if err != nil {
		return fmt.Errorf("plugin %s: %w", p, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("plugin %s: %w", p, err)
	}
	if err := trust.Info(p, fi); err != nil {
		return err
	}
	switch {
	case !fi.Mode().IsRegular():
		return fmt.Errorf("plugin %s is not a regular file (%v)", p, fi.Mode().Type())
	case fi.Mode().Perm()&0o111 == 0:
		return fmt.Errorf("plugin %s is not executable (chmod +x %s)", p, p)
	}
	return nil
}

// env is the environment of check name's plugin on dev: a clean PATH,
// LC_ALL=C (output in one language for grep), and the SMCTL_* variables
// an agent reading the file checks/NAME would get (agent.Env), with
// SMCTL_CHECK, the check's name.
func (d *Driver) env(name string, dev driver.Device) []string {
	req := &agent.Request{Path: path.Join(dev.Path, "checks", name), Op: agent.Read, Device: dev.Path, Type: dev.Type,
		Host: dev.Host(), Root: d.root, Attrs: dev.Attrs, User: dev.User, Password: dev.Password}
	env := []string{"PATH=" + cleanPath, "LC_ALL=C"}
	for _, kv := range agent.Env(req, "") {
		if strings.HasPrefix(kv, "SMCTL_") && kv != "SMCTL_BIN=" {
			env = append(env, kv)
		}
	}
	return append(env, "SMCTL_CHECK="+name)
}

// vars are the variables a command may expand, from the environment env:
// the SMCTL_* ones but the password (see checkVar).
func vars(env []string) map[string]string {
	m := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "SMCTL_") && k != "SMCTL_PASSWORD" {
			m[k] = v
		}
	}
	return m
}
