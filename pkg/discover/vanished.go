package discover

import (
	"maps"
	"path"
	"slices"
)

// Track makes prompted discovery remember, from one run to the next of
// this Discovery (smctl serve's automatic discovery keeps one), the
// devices it was told of, and report those no longer told of: "vanished 1
// server: n7" (in a container: "... in /systems/chassis/c1"). They are
// reported, not removed: a device an agent stops listing may be switched
// off for a while, and removing is an administrator's decision. A run with
// a failed agent or scan reports none, and forgets nothing.
func (d *Discovery) Track() {
	d.trackMu.Lock()
	defer d.trackMu.Unlock()
	if d.told == nil {
		d.told = map[string]told{}
	}
}

// told is a device a prompted discovery was told of: its type and the
// container whose discovery listed it ("" for the top level).
type told struct{ typ, where string }

// noteTold records that the running prompted discovery was told of the
// device p, when tracking.
func (d *Discovery) noteTold(p, typ, where string) {
	d.trackMu.Lock()
	defer d.trackMu.Unlock()
	if d.running != nil {
		d.running[p] = told{typ, where}
	}
}

// startTold starts recording what a prompted discovery is told of.
func (d *Discovery) startTold() {
	d.trackMu.Lock()
	defer d.trackMu.Unlock()
	if d.told != nil {
		d.running = map[string]told{}
	}
}

// endTold ends the recording; ok says whether every agent and scan ran
// well. It returns the vanished devices' changes.
func (d *Discovery) endTold(ok bool) []change {
	d.trackMu.Lock()
	defer d.trackMu.Unlock()
	running := d.running
	d.running = nil
	if running == nil {
		return nil
	}
	if !ok {
		maps.Copy(d.told, running)
		return nil
	}
	var out []change
	for _, p := range slices.Sorted(maps.Keys(d.told)) {
		if _, still := running[p]; !still {
			t := d.told[p]
			out = append(out, change{verb: "vanished", typ: t.typ, where: t.where, names: []string{path.Base(p)}})
		}
	}
	d.told = running
	return out
}
