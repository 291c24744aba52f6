// Package local is the driver of the machine smctl runs on: the transport
// "local" runs commands through /bin/sh and reads files directly, with no
// SSH (the built-in localhost server uses it).
package local

import (
	"context"

	"github.com/smctl/smctl/pkg/driver"
	"github.com/smctl/smctl/pkg/transport"
)

// Name is the driver's name and its transport's.
const Name = "local"

// Factory registers the driver.
var Factory = driver.Factory{Name: Name, New: func(driver.Env) driver.Driver { return Driver{} }}

// Driver reaches this machine.
type Driver struct{}

var _ driver.Transporter = Driver{}

// Name implements driver.Driver.
func (Driver) Name() string { return Name }

// Transport implements driver.Transporter.
func (Driver) Transport(context.Context, driver.Device) (transport.Transport, error) {
	return transport.Local{}, nil
}
