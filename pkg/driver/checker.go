package driver

import (
	"context"
	"time"

	"github.com/smctl/smctl/pkg/check"
	"github.com/smctl/smctl/pkg/config"
	"github.com/smctl/smctl/pkg/transport"
)

// MultiConfigurable is a driver that owns more than one top-level key of
// smctl.yaml (the checks driver: checks: and plugin_dirs:). Set.Sections
// asks it for all of them, and its Section, if it has one, is not asked.
type MultiConfigurable interface {
	Driver
	Sections() []config.Section
}

// Sections lists the smctl.yaml sections the drivers own.
func (s *Set) Sections() []config.Section {
	var out []config.Section
	for _, d := range s.drivers {
		switch c := d.(type) {
		case MultiConfigurable:
			out = append(out, c.Sections()...)
		case Configurable:
			out = append(out, c.Section())
		}
	}
	return out
}

// Lookup returns the driver called name, nil if the Set has none.
func (s *Set) Lookup(name string) Driver {
	for _, d := range s.drivers {
		if d.Name() == name {
			return d
		}
	}
	return nil
}

// Check is one health check of smctl.yaml's checks: list, as the checks
// driver validated it: a Nagios-compatible monitoring plugin run against
// the devices of some types (see package driver/checks).
type Check struct {
	Name     string        // a plain name: the file checks/NAME
	Types    []string      // the device types it applies to; empty: every type
	Command  string        // the plugin and its arguments, as written
	Every    time.Duration // how often smctl serve runs it
	Attempts int           // non-OK results in a row that make a HARD state
	OnHard   Action        // what to do on a HARD problem; the zero Action: nothing
	Timeout  time.Duration // bound on one run
	Remote   bool          // run on the node, through its transport
}

// Action is a recovery action of a check (on_hard): Kind is
// "restart-service" (Arg: the unit), "restart-vm", "reboot", "evacuate" or
// "exec" (Arg: the command, as written); "" for none.
type Action struct {
	Kind, Arg string
}

// Checker is a driver that runs health checks and keeps their states
// (package driver/checks): what smctl serve's scheduler uses, through
// Set.Checker, without importing a driver.
type Checker interface {
	Driver
	// Checks lists the checks of devices of type typ.
	Checks(typ string) []Check
	// Run runs c once against dev (tr: dev's transport, used when c is
	// Remote). The error is for a plugin that could not be run at all
	// (not found, not trusted, the node not reached); a plugin that timed
	// out is an UNKNOWN result.
	Run(ctx context.Context, c Check, dev Device, tr transport.Transport) (check.Result, error)
	// LoadStatus returns the status kept for check name of the device at
	// virtual path device, false when none is kept yet; kept by a user
	// smctl does not trust, it is an error.
	LoadStatus(device, name string) (check.Status, bool, error)
	// SaveStatus keeps st as the status of check name of device.
	SaveStatus(device, name string, st check.Status) error
}

// Checker returns the Set's Checker, nil if it has none.
func (s *Set) Checker() Checker {
	for _, d := range s.drivers {
		if c, ok := d.(Checker); ok {
			return c
		}
	}
	return nil
}
