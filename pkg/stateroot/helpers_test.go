package stateroot

import (
	"github.com/smctl/smctl/pkg/driver"
	"github.com/smctl/smctl/pkg/driver/command"
	"github.com/smctl/smctl/pkg/driver/local"
	"github.com/smctl/smctl/pkg/driver/ssh"
)

// testDrivers are the drivers a new root is written with in these tests
// (no BMC: nothing here reaches one).
func testDrivers() *driver.Set {
	return driver.NewSet(local.Driver{}, ssh.New(driver.Env{}), command.Driver{}, noBMC{})
}

// noBMC provides the role "bmc" the server type lists, with no agents.
type noBMC struct{}

func (noBMC) Name() string                          { return "ipmi" }
func (noBMC) Builtins() map[string][]driver.Builtin { return map[string][]driver.Builtin{"bmc": nil} }

var localhost = []NewDevice{{Type: "server", Name: "localhost", Attrs: map[string]string{"transport": "local"}}}
