// Package checks is the driver of health checks as files: in a device of a
// live type, the live directory checks/ holds a file per check smctl.yaml
// configures for the device's type,
//
//	checks/NAME        reading runs the check's plugin once:
//	                   "CRITICAL connect to address ... refused", then its
//	                   long output, then its performance data on lines
//	                   starting "| ", as the plugin printed it
//	checks/NAME.state  the state smctl serve keeps for the check:
//	                   "CRITICAL HARD 3/3 since 2026-11-22T21:40:01Z"
//
// A check is a Nagios-compatible monitoring plugin (check_ssh, check_tcp,
// check_load ... of the Monitoring Plugins, or one's own), read with
// package check: exit status 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN. A
// read succeeds whatever the state: the state is in the content.
//
// smctl.yaml's checks: lists the checks (name, types, command, every,
// attempts, on_hard, timeout, remote), plugin_dirs: where plugins are
// looked up first (see Driver.Sections and ParseAction). A command is
// split into words here and never given to a shell (see parseCommand):
// the device's address and attributes are expanded inside their words
// ($SMCTL_HOST, $SMCTL_ATTR_PORT, ...), so they cannot add any.
//
// A plugin runs on the management host, as the user running smctl, with a
// small clean environment and the SMCTL_* variables of an agent; a plugin
// named without a '/' is looked up in plugin_dirs, then in the state
// root's agents.d/plugins, then in /usr/lib/nagios/plugins and
// /usr/lib/monitoring-plugins, and each directory and the plugin are
// judged by package trust first: one a less-trusted user could change
// refuses the run. With remote: true it runs on the node, through the
// device's transport, found on the node's PATH and in the same system
// directories there.
//
// Nothing here schedules checks or acts on their states: smctl serve runs
// them every period through the driver.Checker this driver is, keeps
// their states with SaveStatus (one file per device and check under the
// state root's checks/ directory, judged by LoadStatus) and acts on HARD
// changes.
package checks

import (
	"context"
	"fmt"
	"slices"

	"github.com/smctl/smctl/pkg/check"
	"github.com/smctl/smctl/pkg/config"
	"github.com/smctl/smctl/pkg/driver"
	"github.com/smctl/smctl/pkg/transport"
)

// Name is the driver's name.
const Name = "checks"

// Factory registers the driver.
var Factory = driver.Factory{Name: Name, New: func(env driver.Env) driver.Driver { return New(env.Root) }}

// Spec is one check of smctl.yaml, with its defaults.
type Spec = driver.Check

// Driver runs the checks smctl.yaml configures. Once smctl.yaml is
// decoded into its sections it changes no more: it is safe for
// concurrent use (a scheduler runs many checks at once).
type Driver struct {
	root    string
	checks  list
	plugins dirs
}

// New returns the driver of the state root at root ("" for none), with
// no checks until smctl.yaml's sections are decoded into it.
func New(root string) *Driver { return &Driver{root: root} }

var (
	_ driver.MultiConfigurable = (*Driver)(nil)
	_ driver.Layer             = (*Driver)(nil)
	_ driver.Checker           = (*Driver)(nil)
)

// Name implements driver.Driver.
func (*Driver) Name() string { return Name }

// Sections implements driver.MultiConfigurable: checks: and plugin_dirs:.
func (d *Driver) Sections() []config.Section {
	return []config.Section{
		{Key: "checks", Value: &d.checks,
			Doc: "# checks        health checks, read as checks/NAME in the devices of their types:\n" +
				"#               name, types, command (a monitoring plugin and its arguments,\n" +
				"#               $SMCTL_HOST ...; no shell), every, attempts, on_hard, timeout, remote\n"},
		{Key: "plugin_dirs", Value: &d.plugins,
			Doc: "# plugin_dirs   where checks' plugins are looked up first (then agents.d/plugins,\n" +
				"#               /usr/lib/nagios/plugins, /usr/lib/monitoring-plugins)\n"},
	}
}

// Checks implements driver.Checker: the checks of devices of type typ, in
// smctl.yaml's order.
func (d *Driver) Checks(typ string) []Spec {
	var out []Spec
	for _, e := range d.checks {
		if s := e.spec(); len(s.Types) == 0 || slices.Contains(s.Types, typ) {
			out = append(out, s)
		}
	}
	return out
}

// spec returns the check name of devices of type typ.
func (d *Driver) spec(typ, name string) (Spec, bool) {
	for _, s := range d.Checks(typ) {
		if s.Name == name {
			return s, true
		}
	}
	return Spec{}, false
}

// Run implements driver.Checker: it runs the check's plugin once against
// dev, on this machine or, for a remote check, on the node through tr. A
// plugin that outlives the check's timeout is killed and its result is
// UNKNOWN "plugin ... timed out after 10s"; the error is for a plugin that
// could not be run at all (a bad command, not found, not trusted, the node
// not reached, ctx ended).
func (d *Driver) Run(ctx context.Context, spec Spec, dev driver.Device, tr transport.Transport) (check.Result, error) {
	r, _, err := d.run(ctx, spec, dev, tr)
	return r, err
}

// run is Run, also returning the performance data as the plugin printed
// it (perfText).
func (d *Driver) run(ctx context.Context, spec Spec, dev driver.Device, tr transport.Transport) (check.Result, []string, error) {
	fail := func(err error) (check.Result, []string, error) {
		return check.Result{}, nil, fmt.Errorf("device %s: check %s: %w", dev.Path, spec.Name, err)
	}
	if dev.Err != nil {
		return fail(dev.Err)
	}
	words, err := parseCommand(spec.Command)
	if err != nil {
		return fail(err)
	}
	env := d.env(spec.Name, dev)
	args := expand(words, vars(env))
	timeout := spec.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	var out output
	if spec.Remote {
		if tr == nil {
			return fail(fmt.Errorf("a remote check needs the device's transport"))
		}
		out, err = runRemote(ctx, tr, args, timeout)
	} else {
		out, err = d.runLocal(ctx, args, env, timeout)
	}
	if err != nil {
		return fail(err)
	}
	return out.result()
}
