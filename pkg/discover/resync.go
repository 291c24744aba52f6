package discover

import (
	"context"
	"fmt"
	"maps"
	"path"
	"slices"

	"github.com/smctl/smctl/pkg/agent"
	"github.com/smctl/smctl/pkg/vtree"
)

// Prompted discovery re-syncs: besides running the discovery agents and
// scans, it runs the discovery of every container device already in the
// tree whose type says resync (a hypervisor lists the VMs it defines now;
// a chassis, whose discovery needs its blades=, does not), each once, so
// what was defined, moved or removed since is seen; what a container no
// longer lists is reported as vanished when tracking.

// startSync starts recording the containers a prompted discovery ran;
// endSync ends it.
func (d *Discovery) startSync() {
	d.trackMu.Lock()
	defer d.trackMu.Unlock()
	d.synced = map[string]bool{}
}

func (d *Discovery) endSync() {
	d.trackMu.Lock()
	defer d.trackMu.Unlock()
	d.synced = nil
}

// syncing says whether a prompted discovery runs.
func (d *Discovery) syncing() bool {
	d.trackMu.Lock()
	defer d.trackMu.Unlock()
	return d.synced != nil
}

// sync records that the container p's discovery runs, and says whether it
// is the first time in this prompted discovery (always true outside one).
func (d *Discovery) sync(p string) bool {
	d.trackMu.Lock()
	defer d.trackMu.Unlock()
	if d.synced == nil {
		return true
	}
	if d.synced[p] {
		return false
	}
	d.synced[p] = true
	return true
}

// resyncs says whether prompted discovery runs the discovery of the
// devices of type typ again (the type's resync: a hypervisor's lists its
// VMs; a chassis' needs its blades= and is not run).
func (d *Discovery) resyncs(typ string) bool {
	return d.tree.DeviceTypes()[typ].Resync && d.tree.HasAgent(typ, vtree.DiscoverAgent, agent.Write)
}

// containers lists the container devices at the top level to re-sync:
// the devices of every type that resyncs and has a directory of its own
// (those inside containers are re-synced by their container's discovery).
func (d *Discovery) containers() []string {
	var out []string
	for _, typ := range d.tree.TypeNames() {
		dir := d.tree.DeviceTypes()[typ].Dir
		if !path.IsAbs(dir) || !d.resyncs(typ) {
			continue
		}
		base, err := vtree.Clean(dir)
		if err != nil {
			continue
		}
		there, _ := d.tree.List(base) // none yet: nothing to re-sync
		for _, name := range slices.Sorted(maps.Keys(there)) {
			if p := path.Join(base, name); there[name] && d.tree.DeviceType(p) == typ {
				out = append(out, p)
			}
		}
	}
	return out
}

// undefine runs the device p's undefine agent, if its type has one (a VM
// undefined on its hypervisor), before discovery removes the device: when
// it fails, the device stays. The input is "yes" when removals that stop
// something were confirmed (smctl write --yes), else empty.
func (d *Discovery) undefine(ctx context.Context, p, typ string) error {
	if d.tree.DeviceType(p) != typ || !d.tree.HasAgent(typ, vtree.RemoveAgent, agent.Write) {
		return nil
	}
	in := "\n"
	if d.confirmed.Load() {
		in = "yes\n"
	}
	if _, err := d.tree.RunDiscovery(ctx, p, vtree.RemoveAgent, []byte(in)); err != nil {
		return fmt.Errorf("%s %s not removed: %w", typ, path.Base(p), err)
	}
	return nil
}
