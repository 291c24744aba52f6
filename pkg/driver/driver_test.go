package driver_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/smctl/smctl/pkg/agent"
	"github.com/smctl/smctl/pkg/config"
	"github.com/smctl/smctl/pkg/driver"
	"github.com/smctl/smctl/pkg/driver/all"
	"github.com/smctl/smctl/pkg/transport"
)

// fake is a driver with every ability, recording what it was asked.
type fake struct {
	name     string
	attrs    []string
	roles    map[string][]driver.Builtin
	types    map[string]config.Type
	closeErr error
	closed   *int
	reached  *[]string
}

func (f fake) Name() string                          { return f.name }
func (f fake) Attrs() []string                       { return f.attrs }
func (f fake) Builtins() map[string][]driver.Builtin { return f.roles }
func (f fake) Types() map[string]config.Type         { return f.types }
func (f fake) Section() config.Section               { return config.Section{Key: f.name} }
func (f fake) Close() error                          { *f.closed++; return f.closeErr }
func (f fake) Transport(_ context.Context, d driver.Device) (transport.Transport, error) {
	*f.reached = append(*f.reached, f.name+":"+d.Host())
	return transport.Local{}, nil
}

func TestSet(t *testing.T) {
	closed := 0
	var reached []string
	ok := agent.Func(func(context.Context, *agent.Request) (agent.Result, error) { return agent.Result{}, nil })
	a := fake{name: "ssh", attrs: []string{"port", "user"}, closed: &closed, reached: &reached,
		roles: map[string][]driver.Builtin{"command": {{File: "command", Op: agent.Write, Agent: ok}}},
		types: map[string]config.Type{"server": {Dir: "/s", Builtins: []string{"command"}}}}
	b := fake{name: "hw", attrs: []string{"bmc", "port"}, closed: &closed, reached: &reached, closeErr: errors.New("b failed"),
		roles: map[string][]driver.Builtin{"bmc": {{File: "power", Op: agent.Read, Agent: ok}, {File: "power", Op: agent.Write, Agent: ok}}},
		types: map[string]config.Type{"blade": {Dir: "blades", Builtins: []string{"bmc"}}}}
	s := driver.NewSet(a, b)

	if got := strings.Join(s.Attrs(), ","); got != "bmc,port,user" {
		t.Errorf("Attrs = %s, want bmc,port,user (sorted, once each)", got)
	}
	if got := strings.Join(s.Roles(), ","); got != "bmc,command" {
		t.Errorf("Roles = %s", got)
	}
	sc := s.Schema()
	if len(sc.Sections) != 2 || sc.Sections[0].Key != "ssh" || sc.Sections[1].Key != "hw" {
		t.Errorf("Sections = %+v", sc.Sections)
	}
	if len(sc.Types) != 2 || sc.Types["server"].Dir != "/s" || sc.Types["blade"].Dir != "blades" {
		t.Errorf("Types = %+v", sc.Types)
	}

	var r agent.Registry
	types := map[string]config.Type{
		"server": {Builtins: []string{"command", "bmc"}},
		"switch": {},
	}
	if err := s.Register(&r, types); err != nil {
		t.Fatal(err)
	}
	for _, k := range []agent.Key{{Type: "server", Name: "command", Op: agent.Write}, {Type: "server", Name: "power", Op: agent.Read}, {Type: "server", Name: "power", Op: agent.Write}} {
		if _, ok := r.Lookup(k); !ok {
			t.Errorf("no built-in %v", k)
		}
	}
	if n := len(r.Names("switch")); n != 0 {
		t.Errorf("switch lists no builtins but has %d", n)
	}
	err := s.Register(&r, map[string]config.Type{"pdu": {Builtins: []string{"outlets"}}})
	if err == nil || err.Error() != `type pdu: unknown builtins "outlets" (known: bmc, command)` {
		t.Errorf("unknown role: %v", err)
	}

	ctx := context.Background()
	for _, tc := range []struct {
		attrs map[string]string
		want  string
	}{
		{map[string]string{}, "ssh:n1"}, // the default transport
		{map[string]string{"transport": "hw", "address": "10.0.0.1"}, "hw:10.0.0.1"},
	} {
		reached = nil
		if _, err := s.Transport(ctx, driver.Device{Path: "/systems/servers/n1", Attrs: tc.attrs}); err != nil || strings.Join(reached, " ") != tc.want {
			t.Errorf("Transport(%v) reached %v, %v; want %s", tc.attrs, reached, err, tc.want)
		}
	}
	_, err = s.Transport(ctx, driver.Device{Path: "/systems/servers/n1", Attrs: map[string]string{"transport": "telnet"}})
	if !errors.Is(err, driver.ErrNoTransport) || err.Error() != `device /systems/servers/n1: transport "telnet" is not available (known: hw, ssh)` {
		t.Errorf("unknown transport: %v", err)
	}
	refused := errors.New("untrusted .type")
	if _, err := s.Transport(ctx, driver.Device{Path: "/x", Err: refused}); !errors.Is(err, refused) {
		t.Errorf("a refusing device: %v", err)
	}
	if err := s.Close(); err == nil || err.Error() != "b failed" || closed != 2 {
		t.Errorf("Close = %v after closing %d, want b's error after closing both", err, closed)
	}
}

func TestRegistry(t *testing.T) {
	r := all.Registry()
	if got := strings.Join(r.Names(), ","); got != "local,ssh,command,ipmi,linux,libvirt,checks" {
		t.Errorf("drivers = %s", got)
	}
	r.Register(driver.Factory{Name: "ssh", New: func(driver.Env) driver.Driver { return fake{name: "ssh2"} }})
	if got := strings.Join(r.Names(), ","); got != "local,ssh,command,ipmi,linux,libvirt,checks" {
		t.Errorf("after replacing ssh: %s", got)
	}
	// smctl's own drivers declare every role their default types use.
	s := all.Registry().New(driver.Env{})
	var reg agent.Registry
	if err := s.Register(&reg, s.Schema().Types); err != nil {
		t.Errorf("default types: %v", err)
	}
	for _, k := range []agent.Key{{Type: "server", Name: "command", Op: agent.Write}, {Type: "server", Name: "power", Op: agent.Write},
		{Type: "blade", Name: "power", Op: agent.Read}, {Type: "chassis", Name: "discover", Op: agent.Write}, {Type: "chassis", Name: "temperature_mp", Op: agent.Read},
		{Type: "hypervisor", Name: "vms", Op: agent.Read}, {Type: "hypervisor", Name: "command", Op: agent.Write}, {Type: "vm", Name: "power", Op: agent.Write}, {Type: "vm", Name: "host", Op: agent.Write}} {
		if _, ok := reg.Lookup(k); !ok {
			t.Errorf("no built-in %v", k)
		}
	}
	if _, ok := reg.Lookup(agent.Key{Type: "chassis", Name: "power", Op: agent.Read}); ok {
		t.Error("a chassis has a power file")
	}
	// Destructive by a file's name: a built-in's declaration, a layer's.
	for _, c := range []struct {
		name, value string
		want        bool
	}{{"power", "off", true}, {"power", "on", false}, {"command", "off", false}, {"reboot", "now", true}, {"signal", "KILL", true}} {
		if got := s.Destroys(c.name, []byte(c.value)); got != c.want {
			t.Errorf("Destroys(%s, %s) = %v", c.name, c.value, got)
		}
	}
}

func TestDeviceHost(t *testing.T) {
	if h := (driver.Device{Path: "/systems/servers/n7"}).Host(); h != "n7" {
		t.Errorf("Host = %s", h)
	}
	if h := (driver.Device{Path: "/systems/servers/n7", Attrs: map[string]string{"address": "10.1.1.7"}}).Host(); h != "10.1.1.7" {
		t.Errorf("Host = %s", h)
	}
}

// TestFile: Register records what the built-ins of each type's roles
// declare of their files: the attributes any of them requires, and the
// values of the write agent.
func TestFile(t *testing.T) {
	ok := agent.Func(func(context.Context, *agent.Request) (agent.Result, error) { return agent.Result{}, nil })
	hw := fake{name: "hw", roles: map[string][]driver.Builtin{
		"bmc": {
			{File: "power", Op: agent.Read, Agent: ok, Requires: []string{"bmc"}},
			{File: "power", Op: agent.Write, Agent: ok, Requires: []string{"bmc"}, Values: []string{"on", "off"}},
		},
		"pdu":     {{File: "power", Op: agent.Write, Agent: ok, Requires: []string{"outlet", "bmc"}, Values: []string{"on"}}},
		"command": {{File: "command", Op: agent.Write, Agent: ok}},
	}}
	s := driver.NewSet(hw)
	var r agent.Registry
	if err := s.Register(&r, map[string]config.Type{
		"server": {Builtins: []string{"command", "bmc"}},
		"plug":   {Builtins: []string{"bmc", "pdu"}},
	}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		typ, file      string
		requires, vals string
	}{
		{"server", "power", "bmc", "on off"},
		{"server", "command", "", ""},
		{"plug", "power", "bmc outlet", "on"}, // both roles' requirements, the last write's values
		{"server", "nosuch", "", ""},
		{"switch", "power", "", ""},
	}
	for _, tt := range tests {
		f := s.File(tt.typ, tt.file)
		req := slices.Clone(f.Requires)
		slices.Sort(req)
		if strings.Join(req, " ") != tt.requires || strings.Join(f.Values, " ") != tt.vals {
			t.Errorf("File(%s, %s) = %+v, want requires %q values %q", tt.typ, tt.file, f, tt.requires, tt.vals)
		}
	}
	has := map[string]bool{"bmc": true}
	if !s.File("server", "power").Reaches(func(a string) bool { return has[a] }) {
		t.Error("a device with a bmc does not reach power")
	}
	if s.File("plug", "power").Reaches(func(a string) bool { return has[a] }) {
		t.Error("a device without an outlet reaches the plug's power")
	}
	if !s.File("server", "command").Reaches(func(string) bool { return false }) {
		t.Error("a file that requires nothing is not reached")
	}
}

// TestIPMIRequiresBMC: smctl's ipmi driver puts a node's BMC files only on
// nodes with a bmc attribute; a chassis is its own BMC.
func TestIPMIRequiresBMC(t *testing.T) {
	s := all.Registry().New(driver.Env{})
	var reg agent.Registry
	if err := s.Register(&reg, s.Schema().Types); err != nil {
		t.Fatal(err)
	}
	for _, typ := range []string{"server", "blade"} {
		for _, f := range []string{"power", "bootorder", "temperature", "sensors", "eventlog"} {
			if got := s.File(typ, f).Requires; !slices.Equal(got, []string{"bmc"}) {
				t.Errorf("%s %s requires %q, want bmc", typ, f, got)
			}
		}
	}
	for _, f := range []string{"temperature_mp", "eventlog", "discover"} {
		if got := s.File("chassis", f).Requires; got != nil {
			t.Errorf("chassis %s requires %q", f, got)
		}
	}
	if got := s.File("server", "command").Requires; got != nil {
		t.Errorf("command requires %q", got)
	}
	if got := strings.Join(s.File("server", "power").Values, " "); got != "on off cycle reset soft" {
		t.Errorf("power values: %q", got)
	}
	if got := s.File("blade", "bootorder").Values; !slices.Contains(got, "pxe") || !slices.Contains(got, "network") {
		t.Errorf("bootorder values: %q", got)
	}
}

// TestDestroys: a value destroys when its first word is declared so
// (any case), or when any value is ("*").
func TestDestroys(t *testing.T) {
	power := driver.File{Destructive: []string{"off", "cycle"}}
	for v, want := range map[string]bool{"off\n": true, " OFF ": true, "cycle now": true, "on": false, "offline": false, "": false} {
		if got := power.Destroys([]byte(v)); got != want {
			t.Errorf("power %q: %v, want %v", v, got, want)
		}
	}
	if !(driver.File{Destructive: []string{"*"}}).Destroys([]byte("anything")) || (driver.File{}).Destroys([]byte("off")) {
		t.Error(`"*" or nothing declared`)
	}
}
