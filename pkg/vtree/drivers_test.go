package vtree

import (
	"context"

	"github.com/smctl/smctl/pkg/agent"
	"github.com/smctl/smctl/pkg/config"
	"github.com/smctl/smctl/pkg/driver"
	"github.com/smctl/smctl/pkg/driver/command"
	"github.com/smctl/smctl/pkg/driver/ipmi"
	"github.com/smctl/smctl/pkg/driver/local"
	"github.com/smctl/smctl/pkg/driver/ssh"
	"github.com/smctl/smctl/pkg/transport"
)

// The tree's tests run with smctl's drivers, as the CLI opens the tree (a
// test dependency only: the tree itself imports no driver), except that
// no BMC is reached: hardware gives its types, attributes and a chassis'
// discovery of its blades, but no BMC agents.

func testDrivers(extra ...driver.Driver) *driver.Set {
	ds := []driver.Driver{local.Driver{}, ssh.New(driver.Env{}), command.Driver{}, hardware{}}
	return driver.NewSet(append(ds, extra...)...)
}

// testOptions gives o the test drivers unless it has drivers of its own.
func testOptions(o Options) Options {
	if o.Drivers == nil {
		o.Drivers = testDrivers()
	}
	return o
}

// hardware is the ipmi driver without its BMC agents.
type hardware struct{}

func (hardware) Name() string                  { return ipmi.Name }
func (hardware) Attrs() []string               { return ipmi.New().Attrs() }
func (hardware) Types() map[string]config.Type { return ipmi.New().Types() }
func (hardware) Builtins() map[string][]driver.Builtin {
	return map[string][]driver.Builtin{
		"bmc":     nil,
		"chassis": {{File: DiscoverAgent, Op: agent.Write, Agent: agent.Func(ipmi.DiscoverBlades)}},
	}
}

// nullDriver is a transport whose commands print nothing, for benchmarks
// of the tree's own cost.
type nullDriver struct{}

func (nullDriver) Name() string { return "null" }
func (nullDriver) Transport(context.Context, driver.Device) (transport.Transport, error) {
	return nullTransport{}, nil
}

// closeFails is a driver whose Close fails.
type closeFails struct{ err error }

func (closeFails) Name() string   { return "close-fails" }
func (c closeFails) Close() error { return c.err }
