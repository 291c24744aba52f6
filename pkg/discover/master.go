package discover

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/smctl/smctl/pkg/agent"
	"github.com/smctl/smctl/pkg/config"
	"github.com/smctl/smctl/pkg/status"
	"github.com/smctl/smctl/pkg/vtree"
	"github.com/smctl/smctl/pkg/vtree/devices"
)

// Tree is what discovery needs of a tree.
type Tree interface {
	DeviceTypes() map[string]config.Type
	TypeNames() []string
	DeviceAttrs(typ string) []string
	HasAgent(typ, name string, op agent.Op) bool
	DeviceType(p string) string
	List(p string) (map[string]bool, error)
	MakeDirs(p string) error
	UpdateDevice(p, typ string, attrs map[string]string) (isNew bool, changed []string, err error)
	RemoveDevice(p, typ string) (bool, error)
	RunDiscovery(ctx context.Context, p, file string, input []byte) ([]byte, error)
	AgentDirs() []string
	Self() string
	// Write stores an import's groups (/groups/NAME).
	Write(ctx context.Context, p string, data []byte) (*vtree.Result, error)
}

var _ Tree = vtreeTree{}

// vtreeTree is a *vtree.Tree as discovery works on it: its devices made
// and removed by package devices.
type vtreeTree struct{ *vtree.Tree }

func (t vtreeTree) MakeDirs(p string) error { return devices.MakeDirs(t.Tree, p) }
func (t vtreeTree) UpdateDevice(p, typ string, attrs map[string]string) (bool, []string, error) {
	return devices.Update(t.Tree, p, typ, attrs)
}
func (t vtreeTree) RemoveDevice(p, typ string) (bool, error) { return devices.Remove(t.Tree, p, typ) }
func (t vtreeTree) List(p string) (map[string]bool, error)   { return devices.List(t.Tree, p) }

// Settings are smctl.yaml's discovery: section, for prompted discovery
// ("1" written to /discover_master).
type Settings struct {
	// Scan lists the address ranges and ports probed for SSH servers.
	Scan []ScanRule `yaml:"scan,omitempty"`
	// ScanTimeout bounds one probe.
	ScanTimeout config.Duration `yaml:"scan_timeout"`
	// Every, when set, is how often smctl serve runs prompted discovery
	// (automatic discovery); 0: only when asked.
	Every config.Duration `yaml:"every,omitempty"`
}

// ScanRule is one range of prompted discovery.
type ScanRule struct {
	Hosts string `yaml:"hosts"` // a node set: 10.0.0.[1-254], n[001-100]
	Ports []int  `yaml:"ports,omitempty"`
}

// Validate implements config.Validator.
func (s *Settings) Validate(at func(key, format string, args ...any) error) error {
	if s.Every.Duration < 0 || s.Every.Duration > 0 && s.Every.Duration < time.Second {
		return at("every", "discovery every %s: want 1s or more (or none)", s.Every.Duration)
	}
	for _, r := range s.Scan {
		for _, p := range r.Ports {
			if p < 1 || p > 65535 {
				return at("scan", "discovery scan %q: bad port %d", r.Hosts, p)
			}
		}
		if r.Hosts == "" {
			return at("scan", "discovery scan rule needs hosts")
		}
	}
	return nil
}

// Discovery is discovery attached to one tree: a vtree.Extension owning
// /discover_master and the discovery: section.
type Discovery struct {
	settings  Settings
	tree      Tree
	confirmed atomic.Bool // confirmed (--yes): more than LargeDiscovery devices, removals that stop something

	trackMu sync.Mutex      // Track: what prompted discovery was told of
	told    map[string]told // by the last run (nil: not tracking)
	running map[string]told // by the run in progress
	// synced is, during a prompted discovery, the containers whose
	// discovery ran in it (nil otherwise): it re-syncs each one, once.
	synced map[string]bool
}

var _ vtree.Extension = (*Discovery)(nil)

// New returns discovery with its default settings, to be given to
// vtree.Open (Options.Extensions).
func New() *Discovery {
	return &Discovery{settings: Settings{ScanTimeout: config.Duration{Duration: 2 * time.Second}}}
}

// Section implements vtree.Extension.
func (d *Discovery) Section() config.Section {
	return config.Section{Key: "discovery", Value: &d.settings,
		Doc: "# discovery     scan: [{hosts: 10.0.0.[1-254], ports: [22]}] probed by\n" +
			"#               prompted discovery for SSH servers; scan_timeout per probe;\n" +
			"#               every: how often smctl serve runs it by itself\n"}
}

// Every is how often smctl serve runs prompted discovery (0: never).
func (d *Discovery) Every() time.Duration { return d.settings.Every.Duration }

// Attach implements vtree.Extension: discovery works on t, and
// /discover_master's write agent is its own.
func (d *Discovery) Attach(t *vtree.Tree, r *agent.Registry) {
	d.Bind(vtreeTree{t})
	r.Register("", vtree.DiscoverMaster, agent.Write, agent.Func(d.master))
}

// Bind makes discovery work on t (Attach does it for a vtree.Tree).
func (d *Discovery) Bind(t Tree) { d.tree = t }

// master is /discover_master's write agent: "1" runs prompted discovery,
// anything else is discovery statements.
func (d *Discovery) master(ctx context.Context, req *agent.Request) (agent.Result, error) {
	in := strings.TrimSpace(string(req.Input))
	var lines []string
	var err error
	if in == "1" {
		lines, err = d.promptedDiscovery(ctx, req)
	} else {
		lines, err = d.Discover(ctx, in, "")
	}
	out := strings.Join(lines, "\n")
	if out != "" {
		out += "\n"
	}
	if err != nil {
		// What was applied stays applied and is reported with the error.
		return agent.Result{Output: []byte(out), RC: int(status.Failed), Message: strings.ReplaceAll(err.Error(), "\n", "; "), Keep: out != ""}, nil
	}
	return agent.Result{Output: []byte(out)}, nil
}
