// Package libvirt is the driver of virtual machines through libvirt (seed
// 004, and Sysman's own future work): hypervisors are devices of type
// hypervisor (also servers: command, proc/, the linux driver's files over
// their transport), each with a uri attribute (DefaultURI when none); a
// hypervisor's files ask its libvirtd, reached through the device's own
// transport (local: the socket; ssh: the socket forwarded over smctl's
// connection, with its ssh_config, keys and host keys):
//
//	vms       NAME STATE, a line per VM it defines, sorted by name
//	capacity  cpus N, memory_kb N, free_memory_kb N, running N: a line each
//	version   the hypervisor's type and version, libvirt's version
//	events    its VMs' recent lifecycle events, newest last (events.go)
//	discover  (written by discovery) prints a statement per VM it defines
//
// Every call runs under smctl's deadline: go-libvirt takes no context,
// so the connection is dropped when the deadline passes.
//
// The client is github.com/digitalocean/go-libvirt: libvirt's RPC
// protocol in pure Go (the cgo binding would break the static binary).
package libvirt

import (
	"io"
	"time"

	"github.com/smctl/smctl/pkg/agent"
	"github.com/smctl/smctl/pkg/config"
	"github.com/smctl/smctl/pkg/driver"
	"github.com/smctl/smctl/pkg/vtree"
)

// Name is the driver's name.
const Name = "libvirt"

// Factory registers the driver.
var Factory = driver.Factory{Name: Name, New: New}

// New makes the driver. Its connections are its own, closed with the
// tree, unless env keeps them for the process (smctl serve: connections
// and their event listeners outlive each pass's tree).
func New(env driver.Env) driver.Driver {
	if env.Keep != nil {
		return &Driver{settings: defaults, pool: env.Keep.Get(Name, func() io.Closer { return &pool{} }).(*pool), kept: true}
	}
	return &Driver{settings: defaults, pool: &pool{}}
}

// Settings are the smctl.yaml section libvirt:.
type Settings struct {
	// MigrationAddress is where a migration's stream goes: the address
	// the destination's QEMU listens on and the source connects to.
	// Empty: the destination's address (127.0.0.1 for a hypervisor of
	// transport local).
	MigrationAddress string `yaml:"migration_address,omitempty"`
	// SoftTimeout is how long a power soft waits for the guest to shut
	// down (it acts on the ACPI request, or ignores it) before the write
	// fails; the write's own timeout bounds it too.
	SoftTimeout config.Duration `yaml:"soft_timeout"`
}

// Validate implements config.Validator.
func (s *Settings) Validate(at func(key, format string, args ...any) error) error {
	if s.SoftTimeout.Duration <= 0 {
		return at("soft_timeout", "libvirt soft_timeout %s: want a positive duration", s.SoftTimeout.Duration)
	}
	return nil
}

// defaults are the settings smctl.yaml does not change.
var defaults = Settings{SoftTimeout: config.Duration{Duration: 20 * time.Second}}

// Driver reaches hypervisors' libvirtd.
type Driver struct {
	settings Settings
	pool     *pool
	kept     bool // the pool is the process's (driver.Keeper), not the driver's
}

// Close implements io.Closer: the connections the driver keeps, unless
// the process keeps them.
func (d *Driver) Close() error {
	if d.kept {
		return nil
	}
	return d.pool.Close()
}

var (
	_ driver.Attributer   = (*Driver)(nil)
	_ driver.Builtins     = (*Driver)(nil)
	_ driver.Typer        = (*Driver)(nil)
	_ driver.Configurable = (*Driver)(nil)
)

// Name implements driver.Driver.
func (*Driver) Name() string { return Name }

// Section implements driver.Configurable.
func (d *Driver) Section() config.Section {
	return config.Section{Key: "libvirt", Value: &d.settings,
		Doc: "# libvirt       migration_address: where migrations' streams go (default: the destination's address);\n" +
			"#               soft_timeout: how long power soft waits for the guest to shut down\n"}
}

// Attrs implements driver.Attributer: uri decides where smctl connects,
// so it is read as the other attributes are, trusted or not at all.
// A hypervisor's failed and fenced decide where VMs may be restarted, so
// they are attributes too (a VM's ha is read, trusted, by high
// availability itself: an attribute named ha would be /ha at the root).
func (*Driver) Attrs() []string { return []string{"uri", "host", "failed", "fenced"} }

// Types implements driver.Typer: hypervisors are servers with the
// hypervisor role.
func (*Driver) Types() map[string]config.Type {
	return map[string]config.Type{
		"hypervisor": {Dir: HypervisorDir, Attrs: map[string]string{"transport": "ssh"}, Live: true, Resync: true,
			Builtins: []string{"command", "bmc", "hypervisor"}},
		"vm": {Dir: VMDir, Builtins: []string{"vm"}},
	}
}

// Builtins implements driver.Builtins.
func (d *Driver) Builtins() map[string][]driver.Builtin {
	return map[string][]driver.Builtin{
		"hypervisor": {
			{File: "vms", Op: agent.Read, Agent: d.onHypervisor(readVMs)},
			{File: "capacity", Op: agent.Read, Agent: d.onHypervisor(readCapacity)},
			{File: "version", Op: agent.Read, Agent: d.onHypervisor(readVersion)},
			{File: "events", Op: agent.Read, Agent: d.onHypervisor(readEvents)},
			{File: "discover", Op: agent.Write, Agent: agent.Func(d.discoverVMs)},
			{File: "undefine_stale", Op: agent.Write, Agent: agent.Func(d.undefineStale), Destructive: []string{"*"}},
		},
		"vm": {
			{File: "state", Op: agent.Read, Agent: d.onVM(readState)},
			{File: "power", Op: agent.Read, Agent: d.onVM(readPower)},
			{File: "power", Op: agent.Write, Agent: d.onVM(d.writePower), Values: PowerValues, Destructive: PowerDestructive},
			{File: "autostart", Op: agent.Read, Agent: d.onVM(readAutostart)},
			{File: "autostart", Op: agent.Write, Agent: d.onVM(writeAutostart), Values: []string{"on", "off"}},
			{File: "vcpus", Op: agent.Read, Agent: d.onVM(readVcpus)},
			{File: "memory", Op: agent.Read, Agent: d.onVM(readMemory)},
			{File: "memory", Op: agent.Write, Agent: d.onVM(writeMemory)},
			{File: "xml", Op: agent.Read, Agent: d.onVM(readXML)},
			{File: "xml", Op: agent.Write, Agent: d.onVM(writeXML)},
			{File: "host", Op: agent.Write, Agent: agent.Func(d.migrate)},
			{File: vtree.DefineAgent, Op: agent.Write, Agent: agent.Func(d.define)},
			{File: vtree.RemoveAgent, Op: agent.Write, Agent: agent.Func(d.undefine), Destructive: []string{"*"}},
		},
	}
}
