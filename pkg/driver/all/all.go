// Package all lists smctl's drivers: adding one is a package and a line
// here.
package all

import (
	"github.com/smctl/smctl/pkg/check"
	"github.com/smctl/smctl/pkg/driver"
	"github.com/smctl/smctl/pkg/driver/checks"
	"github.com/smctl/smctl/pkg/driver/command"
	"github.com/smctl/smctl/pkg/driver/ipmi"
	libvirtdrv "github.com/smctl/smctl/pkg/driver/libvirt"
	"github.com/smctl/smctl/pkg/driver/linux"
	"github.com/smctl/smctl/pkg/driver/local"
	"github.com/smctl/smctl/pkg/driver/ssh"
)

// Registry returns a registry of every driver.
func Registry() *driver.Registry {
	r := &driver.Registry{}
	r.Register(local.Factory)
	r.Register(ssh.Factory)
	r.Register(command.Factory)
	r.Register(ipmi.Factory)
	r.Register(linux.Factory)
	r.Register(libvirtdrv.Factory)
	r.Register(checks.Factory)
	return r
}

// CheckResult reads back the result in the content of the file at
// virtual path p when it is a device's checks/NAME (checks.ResultOf), for
// smctl's -o json.
func CheckResult(p string, content []byte) (check.Result, bool) { return checks.ResultOf(p, content) }
