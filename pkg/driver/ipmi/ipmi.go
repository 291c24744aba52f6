// Package ipmi is the driver of hardware reached through a BMC over IPMI
// v2.0 (RMCP+), with package bmc as its client.
//
// Roles:
//   - "bmc": power, bootorder, temperature, sensors and eventlog of a node
//     whose BMC is its bmc attribute (servers, blades): a node without one
//     has none of these files;
//   - "chassis": temperature_mp (the hottest sensor, as Figure 1 reads
//     it), eventlog, and the chassis' discovery of its blades; a chassis
//     without a bmc attribute is its own BMC.
//
// Default types: chassis (/systems/chassis, locked: its blades share one
// management processor) and blade (inside a chassis).
//
// smctl.yaml section ipmi: timeout and retries of one IPMI request.
package ipmi

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/smctl/smctl/pkg/agent"
	"github.com/smctl/smctl/pkg/bmc"
	"github.com/smctl/smctl/pkg/config"
	"github.com/smctl/smctl/pkg/driver"
	"github.com/smctl/smctl/pkg/nodeset"
	"github.com/smctl/smctl/pkg/status"
)

// Name is the driver's name.
const Name = "ipmi"

// Factory registers the driver.
var Factory = driver.Factory{Name: Name, New: func(driver.Env) driver.Driver { return New() }}

// Settings are the smctl.yaml section ipmi:.
type Settings struct {
	// Timeout bounds one IPMI request; a BMC that does not answer costs
	// Timeout x (Retries + 1).
	Timeout config.Duration `yaml:"timeout"`
	Retries int             `yaml:"retries"`
}

// Validate implements config.Validator.
func (s *Settings) Validate(at func(key, format string, args ...any) error) error {
	if s.Timeout.Duration <= 0 || s.Retries < 0 || s.Retries > 10 {
		return at("", "ipmi timeout must be positive and retries 0..10")
	}
	return nil
}

// Driver reaches BMCs.
type Driver struct {
	settings Settings
}

// New returns the driver with its default settings.
func New() *Driver {
	return &Driver{settings: Settings{Timeout: config.Duration{Duration: 2 * time.Second}, Retries: 1}}
}

var (
	_ driver.Configurable = (*Driver)(nil)
	_ driver.Attributer   = (*Driver)(nil)
	_ driver.Builtins     = (*Driver)(nil)
	_ driver.Typer        = (*Driver)(nil)
)

// Name implements driver.Driver.
func (*Driver) Name() string { return Name }

// Section implements driver.Configurable.
func (d *Driver) Section() config.Section {
	return config.Section{Key: "ipmi", Value: &d.settings,
		Doc: "# ipmi          timeout and retries of one IPMI request to a BMC\n"}
}

// Attrs implements driver.Attributer.
func (*Driver) Attrs() []string { return []string{"bmc", "bmc_interface", "bmc_cipher"} }

// Types implements driver.Typer.
func (*Driver) Types() map[string]config.Type {
	return map[string]config.Type{
		"chassis": {Dir: "/systems/chassis", Lock: true, Builtins: []string{"chassis"}},
		"blade":   {Dir: "blades", Builtins: []string{"bmc"}},
	}
}

// Builtins implements driver.Builtins.
func (d *Driver) Builtins() map[string][]driver.Builtin {
	node := options{timeout: d.settings.Timeout.Duration, retries: d.settings.Retries}
	mp := node
	mp.self = true
	bmcFiles := []driver.Builtin{
		{File: "power", Op: agent.Read, Agent: node.run(readPower)},
		{File: "power", Op: agent.Write, Agent: node.run(writePower), Values: PowerValues, Destructive: PowerDestructive},
		{File: "bootorder", Op: agent.Read, Agent: node.run(readBoot)},
		{File: "bootorder", Op: agent.Write, Agent: node.run(writeBoot), Values: bmc.BootDevices},
		{File: "temperature", Op: agent.Read, Agent: node.run(readTemperature)},
		{File: "sensors", Op: agent.Read, Agent: node.run(readSensors)},
		{File: "eventlog", Op: agent.Read, Agent: node.run(readEvents)},
		{File: "eventlog", Op: agent.Write, Agent: node.run(writeEvents), Values: eventlogValues},
	}
	// A node's BMC is its bmc attribute: without one, the files are not
	// there (a chassis is its own BMC, reached at its address).
	for i := range bmcFiles {
		bmcFiles[i].Requires = []string{"bmc"}
	}
	return map[string][]driver.Builtin{
		"bmc": bmcFiles,
		"chassis": {
			{File: "temperature_mp", Op: agent.Read, Agent: mp.run(readTemperatureMP)},
			{File: "eventlog", Op: agent.Read, Agent: mp.run(readEvents)},
			{File: "eventlog", Op: agent.Write, Agent: mp.run(writeEvents), Values: eventlogValues},
			{File: "discover", Op: agent.Write, Agent: agent.Func(DiscoverBlades)},
		},
	}
}

// PowerValues are the values of power that completion offers (1 and 0
// are accepted too, as on and off).
var PowerValues = []string{"on", "off", "cycle", "reset", "soft"}

// PowerDestructive are the values of power that stop what runs on a node
// (0 is off): smctl write asks before writing them to many devices.
var PowerDestructive = []string{"off", "0", "cycle", "reset", "soft"}

// eventlogValues are the values of eventlog.
var eventlogValues = []string{"clear"}

// MaxBlades is how many blades a chassis holds.
const MaxBlades = 14

// DiscoverBlades is a chassis' discovery: given blades=SPEC (a node set of
// BMC addresses, e.g. 127.0.0.1:[16231-16244]) it prints the statements
// that add blades 1..N with those BMC addresses.
func DiscoverBlades(ctx context.Context, req *agent.Request) (agent.Result, error) {
	var spec string
	for _, kv := range strings.Fields(string(req.Input)) {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "blades":
			spec = v
		default:
			return agent.Result{}, agent.Fail(status.Usage, fmt.Errorf("chassis discovery: unknown option %q (want blades=BMC-ADDRESSES)", kv))
		}
	}
	if spec == "" {
		return agent.Result{Message: "no blades= given: no blades added"}, nil
	}
	bmcs, err := nodeset.Expand(spec)
	if err != nil {
		return agent.Result{}, agent.Fail(status.Usage, err)
	}
	if len(bmcs) > MaxBlades {
		return agent.Result{}, agent.Fail(status.Usage, fmt.Errorf("chassis discovery: %d blades given, a chassis holds at most %d", len(bmcs), MaxBlades))
	}
	var b strings.Builder
	for i, a := range bmcs {
		fmt.Fprintf(&b, "blade %d bmc=%s\n", i+1, a)
	}
	return agent.Result{Output: []byte(b.String())}, nil
}
