// Package driver is how smctl reaches things: one driver per way (local
// processes, SSH, IPMI BMCs, and later libvirt and Linux resources), each
// in its own package, all listed in one registry (package driver/all).
//
// A driver is a value with a name and any of a few optional abilities,
// checked with type assertions as io/fs checks ReadDirFS:
//
//   - Configurable: it owns a section of smctl.yaml (ssh:, ipmi:), a
//     pointer to its settings with their defaults, decoded strictly in
//     place by package config (MultiConfigurable: more than one, as the
//     checks driver's checks: and plugin_dirs:);
//   - Attributer: the device attribute files it reads (port, bmc, ...);
//   - Transporter: it reaches a device (the device's "transport"
//     attribute names the driver) to run commands and read files;
//   - Builtins: the built-in agents it provides, grouped under role names
//     that smctl.yaml's types list (types: server: builtins: [command,
//     bmc]), so which device gets which agents is data, not code. A
//     built-in may require attributes of the device (the files of the
//     role bmc are only on nodes with a bmc attribute: the driver reaches
//     no other) and list the values its write accepts, for completion;
//   - Checker: it runs health checks and keeps their states, for smctl
//     serve's scheduler (Set.Checker).
//
// Adding a driver is a new package and one line in driver/all. The tree
// (package vtree) knows drivers only through a *Set: it asks the Set for
// a device's transport and the built-in agents of a type; it never
// imports a driver.
//
// An agent of a driver receives everything it needs in its request
// (device, attributes, credentials and the device's resolved transport),
// so nothing calls back into the tree or the CLI.
package driver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/smctl/smctl/pkg/agent"
	"github.com/smctl/smctl/pkg/config"
	"github.com/smctl/smctl/pkg/transport"
)

// Device is one device as the tree knows it.
type Device struct {
	Path  string            // virtual path, "/" for the root
	Type  string            // "" for the root
	Attrs map[string]string // attribute files, trimmed
	// User and Password are the nearest inherited ids credentials.
	User, Password string
	// Err says why the device refuses to act: its type marker or an
	// attribute file is not trusted.
	Err error
}

// Host is the address that reaches the device: its address attribute,
// else its name.
func (d Device) Host() string {
	if a := d.Attrs["address"]; a != "" {
		return a
	}
	return path.Base(d.Path)
}

// Driver is one way of reaching things.
type Driver interface {
	Name() string
}

// Configurable is a driver that owns a section of smctl.yaml.
type Configurable interface {
	Driver
	// Section is its smctl.yaml key and a pointer to its settings, set to
	// their defaults; config decodes the section into it strictly.
	Section() config.Section
}

// Attributer is a driver that reads device attribute files.
type Attributer interface {
	Driver
	// Attrs names the attribute files it reads.
	Attrs() []string
}

// Layer is a driver that presents more of a node through its transport
// (the linux driver's os/ directory): Layer gets the transport a device's
// Transporter made and returns it with the driver's paths on top, every
// other path passed through.
type Layer interface {
	Driver
	Layer(d Device, tr transport.Transport) transport.Transport
}

// Destroyer is a driver whose files are not all declared as Builtins (a
// Layer's): Destroys reports whether writing value to a file of its called
// name destroys or interrupts something (transport.Writer.Destructive).
type Destroyer interface {
	Driver
	Destroys(name string, value []byte) bool
}

// Transporter is a driver that reaches devices whose "transport"
// attribute is its name.
type Transporter interface {
	Driver
	Transport(ctx context.Context, d Device) (transport.Transport, error)
}

// Builtin is one built-in agent: the file it serves and for which
// operation, what the device must have for the file to be there, and
// what its writes accept.
type Builtin struct {
	File  string
	Op    agent.Op
	Agent agent.Agent
	// Requires names the attribute files (among the driver's Attrs) a
	// device must have for the driver to reach it: without them the file
	// is not in the device's listing and does not resolve (no power where
	// no bmc attribute says where the BMC is). A file counts as had when
	// it exists, whatever it holds: the tree's listing says so without
	// reading it. A stored file of the name, or an agent of an agent
	// directory, is there as always.
	Requires []string
	// Values lists the values a write agent accepts, for completion
	// (power: on off cycle reset soft); nil when any value may do.
	Values []string
	// Destructive lists the values (their first word) whose write
	// destroys or interrupts something (power off, cycle, reset, soft);
	// "*" is any value. smctl write asks before writing one to more than
	// confirm_over devices.
	Destructive []string
}

// File is what the drivers declare of a built-in file of a type: the
// attributes its agents require and the values its write agent accepts.
type File struct {
	Requires    []string
	Values      []string
	Destructive []string // see Builtin.Destructive
	// Writable is set for a live file that a driver writes
	// (transport.Writer; what WriteSpec says of a live path).
	Writable bool
}

// Destroys reports whether writing value to the file destroys or
// interrupts something (its first word is among f.Destructive, or
// Destructive has "*").
func (f File) Destroys(value []byte) bool {
	first, _, _ := strings.Cut(strings.TrimSpace(string(value)), " ")
	for _, d := range f.Destructive {
		if d == "*" || strings.EqualFold(d, first) {
			return true
		}
	}
	return false
}

// Reaches reports whether a device with the attribute files attrs has
// every attribute f requires (present, whatever its value).
func (f File) Reaches(has func(attr string) bool) bool {
	for _, a := range f.Requires {
		if !has(a) {
			return false
		}
	}
	return true
}

// Builtins is a driver that provides built-in agents, by role: a type that
// lists a role among its builtins gets every agent of that role.
type Builtins interface {
	Driver
	Builtins() map[string][]Builtin
}

// Typer is a driver that brings default device types: used when
// smctl.yaml has no types: key, and for the builtins of a type of
// smctl.yaml that lists none.
type Typer interface {
	Driver
	Types() map[string]config.Type
}

// Env is what drivers are made with: the settings of this invocation
// that are not in smctl.yaml.
type Env struct {
	// ConnectTimeout overrides the drivers' connect timeout when positive
	// (--connect-timeout).
	ConnectTimeout time.Duration
	// Warm, when set, keeps connections open between commands (smctl
	// serve): a driver that can use it asserts the interface it needs
	// (the ssh driver: sshx.Remote).
	Warm any
	// Keep, when set, holds what drivers keep across the trees of one
	// process (smctl serve's): see Keeper.
	Keep *Keeper
	// Root is the state root directory ("" when there is none yet: smctl
	// init), where drivers keep state outside the tree (check states).
	Root string
}

// Factory makes a driver.
type Factory struct {
	Name string
	New  func(Env) Driver
}

// Registry lists driver factories, in registration order.
type Registry struct {
	factories []Factory
}

// Register adds f; a second factory of the same name replaces the first.
func (r *Registry) Register(f Factory) {
	for i := range r.factories {
		if r.factories[i].Name == f.Name {
			r.factories[i] = f
			return
		}
	}
	r.factories = append(r.factories, f)
}

// Names lists the registered drivers.
func (r *Registry) Names() []string {
	out := make([]string, len(r.factories))
	for i, f := range r.factories {
		out[i] = f.Name
	}
	return out
}

// New makes one driver of every factory, in registration order.
func (r *Registry) New(env Env) *Set {
	s := &Set{}
	for _, f := range r.factories {
		s.drivers = append(s.drivers, f.New(env))
	}
	return s
}

// DefaultTransport reaches a device that names none.
const DefaultTransport = "ssh"

// Set is the drivers of one opened tree.
type Set struct {
	drivers []Driver

	mu    sync.Mutex
	files map[[2]string]File // by type and file name, as Register made them
}

// NewSet is a Set of the given drivers (for tests and embedders).
func NewSet(ds ...Driver) *Set { return &Set{drivers: ds} }

// Schema is what the drivers add to smctl.yaml: their sections and
// default types.
func (s *Set) Schema() config.Schema {
	sc := config.Schema{Sections: s.Sections(), Types: map[string]config.Type{}, Roles: s.Roles()}
	for _, d := range s.drivers {
		if t, ok := d.(Typer); ok {
			for name, typ := range t.Types() {
				sc.Types[name] = typ
			}
		}
	}
	return sc
}

// Attrs lists the attribute files any driver reads, sorted, without
// duplicates.
func (s *Set) Attrs() []string {
	var out []string
	for _, d := range s.drivers {
		if a, ok := d.(Attributer); ok {
			out = append(out, a.Attrs()...)
		}
	}
	sort.Strings(out)
	return slices.Compact(out)
}

// ErrNoTransport is wrapped when a device names a transport no driver
// provides.
var ErrNoTransport = errors.New("transport not available")

// noTransport names the device, the transport and those there are.
type noTransport struct {
	dev, name string
	known     []string
}

func (e *noTransport) Error() string {
	return fmt.Sprintf("device %s: transport %q is not available (known: %s)", e.dev, e.name, strings.Join(e.known, ", "))
}

func (e *noTransport) Unwrap() error { return ErrNoTransport }

// Transport reaches device d through the driver its "transport" attribute
// names (DefaultTransport when it names none).
func (s *Set) Transport(ctx context.Context, d Device) (transport.Transport, error) {
	if d.Err != nil {
		return nil, d.Err
	}
	name := d.Attrs["transport"]
	if name == "" {
		name = DefaultTransport
	}
	var known []string
	for _, dr := range s.drivers {
		if t, ok := dr.(Transporter); ok {
			if dr.Name() == name {
				tr, err := t.Transport(ctx, d)
				if err != nil {
					return nil, err
				}
				for _, l := range s.drivers {
					if l, ok := l.(Layer); ok {
						tr = l.Layer(d, tr)
					}
				}
				return tr, nil
			}
			known = append(known, dr.Name())
		}
	}
	sort.Strings(known)
	return nil, &noTransport{dev: d.Path, name: name, known: known}
}

// Roles lists every role some driver provides agents for, sorted.
func (s *Set) Roles() []string {
	var out []string
	for _, d := range s.drivers {
		if b, ok := d.(Builtins); ok {
			for role := range b.Builtins() {
				out = append(out, role)
			}
		}
	}
	sort.Strings(out)
	return slices.Compact(out)
}

// Register adds to r, for every type of types, the built-in agents of the
// roles it lists. A role no driver provides is an error naming the type.
func (s *Set) Register(r *agent.Registry, types map[string]config.Type) error {
	byRole := map[string][]Builtin{}
	for _, d := range s.drivers {
		if b, ok := d.(Builtins); ok {
			for role, bs := range b.Builtins() {
				byRole[role] = append(byRole[role], bs...)
			}
		}
	}
	names := make([]string, 0, len(types))
	for name := range types {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, typ := range names {
		for _, role := range types[typ].Builtins {
			bs, ok := byRole[role]
			if !ok {
				return fmt.Errorf("type %s: unknown builtins %q (known: %s)", typ, role, strings.Join(s.Roles(), ", "))
			}
			for _, b := range bs {
				r.Register(typ, b.File, b.Op, b.Agent)
				s.declare(typ, b)
			}
		}
	}
	return nil
}

// declare records what b says of its file in devices of type typ: the
// attributes required by any of the file's agents, and its write agent's
// values (the last registered wins, as in the agent registry).
func (s *Set) declare(typ string, b Builtin) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.files == nil {
		s.files = map[[2]string]File{}
	}
	k := [2]string{typ, b.File}
	f := s.files[k]
	for _, a := range b.Requires {
		if !slices.Contains(f.Requires, a) {
			f.Requires = append(f.Requires, a)
		}
	}
	if b.Op == agent.Write {
		f.Values, f.Destructive = b.Values, b.Destructive
	}
	s.files[k] = f
}

// Destroys reports whether writing value to a file called name destroys
// something for some type (File.Destroys, or a Destroyer's files): when
// it does not, no file of that name need be looked at.
func (s *Set) Destroys(name string, value []byte) bool {
	for _, d := range s.drivers {
		if d, ok := d.(Destroyer); ok && d.Destroys(name, value) {
			return true
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, f := range s.files {
		if k[1] == name && f.Destroys(value) {
			return true
		}
	}
	return false
}

// File returns what the built-in agents that Register registered declare
// of the files called name of devices of type typ: the zero File when
// none declares anything.
func (s *Set) File(typ, name string) File {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.files[[2]string{typ, name}]
}

// Close closes every driver that holds resources (connections), and
// returns the first error.
func (s *Set) Close() error {
	var first error
	for _, d := range s.drivers {
		if c, ok := d.(io.Closer); ok {
			if err := c.Close(); err != nil && first == nil {
				first = err
			}
		}
	}
	return first
}
