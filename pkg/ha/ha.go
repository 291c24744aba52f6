// Package ha is high availability in smctl serve (seed 002): health
// checks scheduled on their devices, recovery actions on HARD states,
// fencing, and the VMs of a failed hypervisor restarted on others.
//
// The safety rule is the one the living systems learned (Pacemaker,
// oVirt, Proxmox, Masakari): fence before you restart. A single manager
// cannot tell a dead hypervisor from a cut network, and a VM running twice
// on shared storage destroys its disk. So a failed hypervisor is marked
// failed, powered off through its BMC and the power-off read back as off
// (bounded, retried) before any of its VMs starts elsewhere; when that
// cannot be confirmed (its BMC does not answer), nothing is started
// elsewhere: it is reported, and the evacuation waits for an operator to
// write yes to its fenced file.
//
// Every step is a line of /ha/log (stored in the tree: watch and serve's
// subscriptions see it; /ha/event holds the last line alone), and each
// VM's outcome is the status of its ha
// file (/systems/vms/NAME/ha.status).
//
// The package acts only through the tree (vtree): the libvirt driver's
// files (a VM's host written restarts it elsewhere once its hypervisor is
// failed and fenced; a hypervisor's undefine_stale), the ipmi driver's
// power, the linux driver's services. It runs as smctl serve, with its
// owner's credentials, and reads every file that decides an action as
// attributes are read: trusted, or not at all.
package ha

import (
	"sync"
	"time"

	"github.com/smctl/smctl/pkg/agent"
	"github.com/smctl/smctl/pkg/config"
	"github.com/smctl/smctl/pkg/vtree"
)

// Settings are smctl.yaml's ha: section.
type Settings struct {
	// FenceTimeout bounds fencing: power off written, and read back as
	// off, within it (written again every FenceRetry).
	FenceTimeout config.Duration `yaml:"fence_timeout"`
	FenceRetry   config.Duration `yaml:"fence_retry"`
	// VMEvery is how often the state of each HA VM is read (a VM that
	// crashed is started again where it is).
	VMEvery config.Duration `yaml:"vm_every"`
	// LogLines is how many lines /ha/log keeps.
	LogLines int `yaml:"log_lines"`
}

// Validate implements config.Validator.
func (s *Settings) Validate(at func(key, format string, args ...any) error) error {
	switch {
	case s.FenceTimeout.Duration < time.Second:
		return at("fence_timeout", "ha fence_timeout %s: want 1s or more", s.FenceTimeout.Duration)
	case s.FenceRetry.Duration < 100*time.Millisecond || s.FenceRetry.Duration > s.FenceTimeout.Duration:
		return at("fence_retry", "ha fence_retry %s: want 100ms to fence_timeout", s.FenceRetry.Duration)
	case s.VMEvery.Duration < 100*time.Millisecond:
		return at("vm_every", "ha vm_every %s: want 100ms or more", s.VMEvery.Duration)
	case s.LogLines < 10:
		return at("log_lines", "ha log_lines %d: want 10 or more", s.LogLines)
	}
	return nil
}

// Paths of the tree that high availability uses.
const (
	Dir           = "/ha"
	LogPath       = "/ha/log"
	EventPath     = "/ha/event" // the last line of LogPath
	HypervisorDir = "/systems/hypervisors"
	VMDir         = "/systems/vms"
)

// Extension owns smctl.yaml's ha: section: a vtree.Extension every tree
// is opened with (so that every smctl reads and checks the section).
type Extension struct{ settings Settings }

var _ vtree.Extension = (*Extension)(nil)

// NewExtension returns the section with its defaults.
func NewExtension() *Extension {
	return &Extension{settings: Settings{
		FenceTimeout: config.Duration{Duration: 30 * time.Second},
		FenceRetry:   config.Duration{Duration: 5 * time.Second},
		VMEvery:      config.Duration{Duration: 5 * time.Second},
		LogLines:     1000,
	}}
}

// Section implements vtree.Extension.
func (e *Extension) Section() config.Section {
	return config.Section{Key: "ha", Value: &e.settings,
		Doc: "# ha            fence_timeout, fence_retry: a failed hypervisor's power off, read back;\n" +
			"#               vm_every: how often HA VMs' states are read; log_lines kept in /ha/log\n"}
}

// Attach implements vtree.Extension.
func (*Extension) Attach(*vtree.Tree, *agent.Registry) {}

// Settings are the section as the tree's smctl.yaml set it.
func (e *Extension) Settings() Settings { return e.settings }

// HA is high availability in smctl serve: the state it keeps between its
// passes, each over a tree it opens.
type HA struct {
	wg       sync.WaitGroup // the work in the background
	mu       sync.Mutex
	settings Settings             // as the last tree opened set them
	busy     map[string]bool      // devices an action runs on
	listed   map[string][]string  // the devices of a type, as last listed for the checks
	done     map[string]time.Time // work last done: "fence HV", "stale HV", "evacuate HV", "retry VM", "vms", "list TYPE"
	next     map[string]time.Time // a device's check: when it is due ("DEV\x00NAME")
	runErr   map[string]string    // a check that could not be run: why (logged once)
	placed   map[string]string    // a VM's target while its restart is not done
	// For Status: the last open's error, each check's state, the failed
	// hypervisors of the last pass, the last line of /ha/log.
	openErr     error
	states      map[string]string
	failedHosts []string
	lastLog     string
}

// New returns high availability with the default settings.
func New() *HA { return &HA{settings: NewExtension().settings} }

// cfg is the settings in effect.
func (h *HA) cfg() Settings {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.settings
}

// claim marks p busy (an action runs on it), false when it was.
func (h *HA) claim(p string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.busy == nil {
		h.busy = map[string]bool{}
	}
	if h.busy[p] {
		return false
	}
	h.busy[p] = true
	return true
}

// release ends claim.
func (h *HA) release(p string) {
	h.mu.Lock()
	delete(h.busy, p)
	h.mu.Unlock()
}
