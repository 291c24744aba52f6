// Package discover adds devices to a tree from discovery statements, as
// Sysman's discovery does: written to /discover_master, printed by a
// container's discovery agent (a chassis lists its blades), by prompted
// discovery's agents in discover.d, or made from an inventory (import;
// an Ansible inventory's groups become the group files /groups/NAME) or a
// scan of address ranges for SSH servers.
//
//	TYPE NODESET [key=value ...]       add devices (kept if present)
//	remove TYPE NODESET                remove devices
//
// It works above the tree, through the small interface Tree (which
// *vtree.Tree satisfies), and is attached to a tree as a vtree.Extension
// that owns /discover_master and smctl.yaml's discovery: section.
// Containers nested in containers are discovered to a bounded depth,
// counted here, not carried in a context.
package discover

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/smctl/smctl/pkg/agent"
	"github.com/smctl/smctl/pkg/nodeset"
	"github.com/smctl/smctl/pkg/vtree"
)

// change is what discovery did to devices of one type in one place.
type change struct {
	verb, typ, where string
	names            []string
	attrs            string // "updated": the attributes changed, "port, ssh_config"
}

// Discover applies discovery statements and returns one summary line per
// kind of change ("added 100 servers: n[001-100]"); container is the device
// whose discovery printed them ("" for /discover_master). Every statement
// is checked before any is applied, so bad input changes nothing.
func (d *Discovery) Discover(ctx context.Context, text string, container string) ([]string, error) {
	chs, err := d.discover(ctx, text, container, 0)
	return summarize(chs), err
}

// discover applies text found in container, depth containers deep.
func (d *Discovery) discover(ctx context.Context, text string, container string, depth int) ([]change, error) {
	var sts []*statement
	var imports []*imported
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		lines := []string{line}
		if strings.HasPrefix(line, "import ") || line == "import" {
			im, err := importLine(line)
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", i+1, err)
			}
			lines = im.statements
			imports = append(imports, im)
		}
		for _, l := range lines {
			st, err := d.parseStatement(l)
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", i+1, err)
			}
			if _, err := d.typeDir(st.typ, container); err != nil {
				return nil, fmt.Errorf("line %d: %w", i+1, err)
			}
			sts = append(sts, st)
		}
	}
	if err := d.checkSize(sts, container); err != nil {
		return nil, err
	}
	var out []change
	var errs []error
	for _, st := range sts {
		chs, err := d.apply(ctx, st, container, depth)
		out = append(out, chs...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	chs, err := d.writeGroups(ctx, imports)
	out = append(out, chs...)
	if err != nil {
		errs = append(errs, err)
	}
	return out, errors.Join(errs...)
}

// LargeDiscovery is the most devices one discovery creates unless it is
// allowed more (Confirm): a slip in a node set
// ("n[1-1000000]") must not fill the backing tree with directories.
const LargeDiscovery = 10000

// LargeDiscoveryError is a discovery refused, before it created anything,
// because it would create more than LargeDiscovery devices.
type LargeDiscoveryError struct {
	New int // devices the statements would create
}

func (e *LargeDiscoveryError) Error() string {
	return fmt.Sprintf("discovery would create %d devices, more than %d at once: check the node sets, or add --yes to create them", e.New, LargeDiscovery)
}

// Confirm is smctl write --yes: discoveries may create more than
// LargeDiscovery devices at once, and remove devices whose removal stops
// something (a running VM); false refuses them again.
func (d *Discovery) Confirm(yes bool) { d.confirmed.Store(yes) }

// checkSize refuses statements that would create more than LargeDiscovery
// devices together, unless t allows it.
func (d *Discovery) checkSize(sts []*statement, container string) error {
	names := 0
	for _, st := range sts {
		if !st.remove {
			names += len(st.names)
		}
	}
	if names <= LargeDiscovery || d.confirmed.Load() {
		return nil
	}
	if n := d.countNew(sts, container); n > LargeDiscovery {
		return &LargeDiscoveryError{New: n}
	}
	return nil
}

// countNew counts the devices the statements, applied in order, would
// create: names that are not yet devices (a directory without .type is
// not one), each counted once. It creates nothing, and lists each
// directory devices go into once instead of asking for every name.
func (d *Discovery) countNew(sts []*statement, container string) int {
	// is records, for devices named by several statements, whether the
	// statements before made them devices (true) or removed them.
	var is map[string]bool
	if len(sts) > 1 {
		is = map[string]bool{}
	}
	listed := map[string]map[string]bool{} // base -> name -> is a directory
	n := 0
	for _, st := range sts {
		base, _ := d.typeDir(st.typ, container)
		there, ok := listed[base]
		if !ok {
			there, _ = d.tree.List(base) // missing: nothing there
			listed[base] = there
		}
		for _, name := range st.names {
			p := path.Join(base, name)
			if st.remove {
				if is != nil {
					is[p] = false
				}
				continue
			}
			present, known := is[p]
			if !known {
				isDir, exists := there[name]
				// Something that is not a directory, or a device of any
				// type, stays (apply reports it); a bare directory is
				// made a device.
				present = exists && (!isDir || d.tree.DeviceType(p) != "")
			}
			if !present {
				n++
			}
			if is != nil {
				is[p] = true
			}
		}
	}
	return n
}

// summarize merges changes of the same kind, in order of appearance.
func summarize(chs []change) []string {
	type key struct{ verb, typ, where, attrs string }
	var order []key
	names := map[key][]string{}
	for _, c := range chs {
		k := key{c.verb, c.typ, c.where, c.attrs}
		if _, ok := names[k]; !ok {
			order = append(order, k)
		}
		names[k] = append(names[k], c.names...)
	}
	var out []string
	for _, k := range order {
		ns := names[k]
		line := fmt.Sprintf("%s %s: %s", k.verb, plural(len(ns), k.typ), nodeset.Fold(ns))
		switch k.verb {
		case "groups":
			line = "groups: " + strings.Join(ns, ", ")
		case "kept":
			line = fmt.Sprintf("kept %s already present: %s", plural(len(ns), k.typ), nodeset.Fold(ns))
		case "updated":
			line = fmt.Sprintf("updated %s already present: %s (%s)", plural(len(ns), k.typ), nodeset.Fold(ns), k.attrs)
		}
		if k.where != "" {
			line += " in " + k.where
		}
		out = append(out, line)
	}
	return out
}

// typeDir is the virtual directory devices of typ go into.
func (d *Discovery) typeDir(typ, container string) (string, error) {
	dir := d.tree.DeviceTypes()[typ].Dir
	if path.IsAbs(dir) {
		return vtree.Clean(dir)
	}
	if container == "" {
		return "", fmt.Errorf("devices of type %s are found inside a container (dir: %s): discover the container", typ, dir)
	}
	return vtree.Clean(container + "/" + dir)
}

func plural(n int, s string) string {
	if n == 1 {
		return "1 " + s
	}
	return fmt.Sprintf("%d %ss", n, s)
}

func (d *Discovery) apply(ctx context.Context, st *statement, container string, depth int) ([]change, error) {
	base, _ := d.typeDir(st.typ, container)
	if st.remove {
		var gone, missing []string
		var errs []error
		for _, name := range st.names {
			p := path.Join(base, name)
			if err := d.undefine(ctx, p, st.typ); err != nil {
				errs = append(errs, err)
				continue
			}
			was, err := d.tree.RemoveDevice(p, st.typ)
			if err != nil {
				return nil, err
			}
			if !was {
				missing = append(missing, name)
				continue
			}
			gone = append(gone, name)
		}
		var out []change
		if len(gone) > 0 {
			out = append(out, change{verb: "removed", typ: st.typ, where: container, names: gone})
		}
		if len(missing) > 0 {
			errs = append(errs, fmt.Errorf("no %s %s in %s", st.typ, nodeset.Fold(missing), base))
		}
		return out, errors.Join(errs...)
	}
	if err := d.tree.MakeDirs(base); err != nil {
		return nil, err
	}
	var added, kept, containers []string
	isNew := map[string]bool{}
	updated := map[string][]string{} // the attributes changed -> names
	var updOrder []string
	for i, name := range st.names {
		p := path.Join(base, name)
		attrs := maps.Clone(st.attrs)
		for k, vs := range st.each {
			attrs[k] = vs[i]
		}
		made, changed, err := d.tree.UpdateDevice(p, st.typ, attrs)
		if err != nil {
			return nil, err
		}
		d.noteTold(p, st.typ, container)
		switch {
		case made:
			added = append(added, name)
			isNew[p] = true
			containers = append(containers, p)
			continue
		case len(changed) > 0:
			what := strings.Join(changed, ", ")
			if _, ok := updated[what]; !ok {
				updOrder = append(updOrder, what)
			}
			updated[what] = append(updated[what], name)
		default:
			kept = append(kept, name)
		}
		if d.syncing() && d.resyncs(st.typ) {
			containers = append(containers, p) // re-synced as well
		}
	}
	var errs []error
	// A new device's define agent makes what it stands for from the
	// options; when that fails the device is not kept.
	if len(st.opts) > 0 && d.tree.HasAgent(st.typ, vtree.DefineAgent, agent.Write) {
		made := added[:0:0]
		for _, name := range added {
			p := path.Join(base, name)
			if _, err := d.tree.RunDiscovery(ctx, p, vtree.DefineAgent, []byte(strings.Join(st.opts, " ")+"\n")); err != nil {
				if _, rerr := d.tree.RemoveDevice(p, st.typ); rerr != nil {
					err = errors.Join(err, rerr)
				}
				errs = append(errs, fmt.Errorf("%s %s not added: %w", st.typ, name, err))
				delete(isNew, p)
				continue
			}
			made = append(made, name)
		}
		added = made
	}
	var out []change
	if len(added) > 0 {
		out = append(out, change{verb: "added", typ: st.typ, where: container, names: added})
	}
	for _, what := range updOrder {
		out = append(out, change{verb: "updated", typ: st.typ, where: container, names: updated[what], attrs: what})
	}
	if len(kept) > 0 {
		out = append(out, change{verb: "kept", typ: st.typ, where: container, names: kept})
	}
	// Discovery of what the new containers hold (and, in a prompted
	// discovery, what the others of a type that resyncs hold now).
	if !d.tree.HasAgent(st.typ, vtree.DiscoverAgent, agent.Write) {
		return out, errors.Join(errs...)
	}
	for _, p := range containers {
		if !isNew[p] && !d.syncing() {
			continue
		}
		opts := ""
		if isNew[p] {
			opts = strings.Join(st.opts, " ")
		}
		chs, err := d.discoverIn(ctx, p, opts, depth+1)
		out = append(out, chs...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	return out, errors.Join(errs...)
}

// maxDiscoveryDepth bounds containers inside containers.
const maxDiscoveryDepth = 4

// discoverIn runs the discovery agent of the container device p (its
// write-only "discover" file), depth containers deep, and applies what it
// prints (also what it printed when it failed: what it found is taken,
// and its failure reported). In a prompted discovery each container's
// runs once.
func (d *Discovery) discoverIn(ctx context.Context, p, opts string, depth int) ([]change, error) {
	if depth > maxDiscoveryDepth {
		return nil, fmt.Errorf("%s: containers nested deeper than %d", p, maxDiscoveryDepth)
	}
	if !d.sync(p) {
		return nil, nil
	}
	text, err := d.tree.RunDiscovery(ctx, p, vtree.DiscoverAgent, []byte(opts+"\n"))
	if len(text) == 0 && err != nil {
		return nil, err
	}
	chs, derr := d.discover(ctx, string(text), p, depth)
	if derr != nil {
		derr = fmt.Errorf("discovery in %s: %w", p, derr)
	}
	return chs, errors.Join(err, derr)
}

// promptedDiscovery runs every executable in the agent directories'
// discover.d, each printing discovery statements, and applies them. One
// failing agent does not stop the others.
func (d *Discovery) promptedDiscovery(ctx context.Context, req *agent.Request) ([]string, error) {
	t := d.tree
	var agents []string
	seen := map[string]bool{}
	for _, ad := range t.AgentDirs() {
		dd := filepath.Join(ad, vtree.DiscoverDir)
		des, err := os.ReadDir(dd)
		if err != nil {
			continue
		}
		for _, de := range des {
			if de.IsDir() || strings.HasPrefix(de.Name(), ".") || seen[de.Name()] {
				continue
			}
			seen[de.Name()] = true
			agents = append(agents, filepath.Join(dd, de.Name()))
		}
	}
	containers := d.containers()
	if len(agents) == 0 && len(d.settings.Scan) == 0 && len(containers) == 0 {
		return nil, fmt.Errorf("no discovery agents installed (put executables that print \"TYPE NAMES [key=value ...]\" lines in %s) and no discovery scan in smctl.yaml", filepath.Join(t.AgentDirs()[0], vtree.DiscoverDir))
	}
	var out []string
	var errs []error
	d.startTold()
	d.startSync()
	defer d.endSync()
	if len(d.settings.Scan) > 0 {
		found, err := d.scan(ctx)
		if err != nil {
			errs = append(errs, err)
		}
		if len(found) > 0 {
			lines, err := d.Discover(ctx, strings.Join(found, "\n"), "")
			out = append(out, lines...)
			if err != nil {
				errs = append(errs, fmt.Errorf("discovery scan: %w", err))
			}
		}
	}
	for _, a := range agents {
		res, err := (&agent.Exec{Path: a, Self: t.Self()}).Run(ctx, req)
		if err == nil && res.RC != 0 {
			err = fmt.Errorf("exit %d: %s", res.RC, res.Message)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("discovery agent %s: %w", filepath.Base(a), err))
			continue
		}
		lines, err := d.Discover(ctx, string(res.Output), "")
		out = append(out, lines...)
		if err != nil {
			errs = append(errs, fmt.Errorf("discovery agent %s: %w", filepath.Base(a), err))
		}
	}
	// Every container re-synced: what each holds now (a hypervisor's VMs).
	var chs []change
	for _, p := range containers {
		ch, err := d.discoverIn(ctx, p, "", 1)
		chs = append(chs, ch...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	out = append(out, summarize(chs)...)
	out = append(out, summarize(d.endTold(len(errs) == 0))...)
	return out, errors.Join(errs...)
}
