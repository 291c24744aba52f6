package vtree

import (
	"maps"
	"slices"

	"github.com/smctl/smctl/pkg/agent"
	"github.com/smctl/smctl/pkg/config"
	"github.com/smctl/smctl/pkg/vtree/store"
	"github.com/smctl/smctl/pkg/vtree/vpath"
)

// Extension adds to a tree what works above it through its methods
// (discovery): a section of smctl.yaml, and built-in agents attached once
// the tree is open.
type Extension interface {
	// Section is the extension's part of smctl.yaml; a zero Key is none.
	Section() config.Section
	// Attach gives the extension the opened tree and lets it register
	// built-in agents.
	Attach(t *Tree, r *agent.Registry)
}

// The device methods below are what discovery needs of a tree: the types
// and attribute names it may use, and creating and removing devices.

// DeviceTypes returns the device types of smctl.yaml.
func (t *Tree) DeviceTypes() map[string]config.Type { return t.Config.Types }

// TypeNames lists the declared device types, sorted.
func (t *Tree) TypeNames() []string { return slices.Sorted(maps.Keys(t.Config.Types)) }

// DeviceAttrs lists the attribute files a device of type typ may be
// given: the tree's (address, transport), the drivers' and the type's own.
func (t *Tree) DeviceAttrs(typ string) []string {
	out := t.attrNames()
	for k := range t.Config.Types[typ].Attrs {
		if !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}

// HasAgent reports whether files called name of devices of type typ have
// an agent for op (built in or in an agent directory).
func (t *Tree) HasAgent(typ, name string, op agent.Op) bool {
	h := t.hooksFor(typ)[name]
	if h == nil {
		return false
	}
	if op == agent.Read {
		return h.read != nil
	}
	return h.write != nil
}

// reaches reports whether the device dev has the attributes that the
// driver of h requires (read once per command, as its agents get them); a
// device that refuses to act keeps its files, whose use says why.
func (t *Tree) reaches(dev string, h *hook) bool {
	d := Device{}
	if len(h.file.Requires) > 0 {
		d = t.device(dev)
	}
	return d.Err != nil || h.file.Reaches(func(a string) bool { _, ok := d.Attrs[a]; return ok })
}

// DeviceType returns the type of the device at virtual path p, "" when p
// is not a device (or its marker is not trusted).
func (t *Tree) DeviceType(p string) string {
	p, err := Clean(p)
	if err != nil || p == "/" {
		return ""
	}
	return t.typeOf(vpath.Rel(p))
}

// Store is the backing store, for the packages that work on it above the
// tree (pkg/vtree/devices).
func (t *Tree) Store() *store.Store { return t.store }

// ForgetDevice drops what the caches know of the device directory p: its
// type and its attributes (after pkg/vtree/devices changed them).
func (t *Tree) ForgetDevice(p string) {
	t.forgetType(vpath.Rel(p))
	t.forgetDevice(p)
}

// Fanout is the configured fan-out (smctl.yaml's fanout).
func (t *Tree) Fanout() int { return t.Config.Fanout }

// AgentDirs returns the configured agent directories as absolute paths.
func (t *Tree) AgentDirs() []string { return t.agentDirs() }

// Self is the smctl binary given to script agents as $SMCTL_BIN.
func (t *Tree) Self() string { return t.opts.Self }
