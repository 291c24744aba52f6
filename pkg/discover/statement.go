package discover

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/smctl/smctl/pkg/agent"
	"github.com/smctl/smctl/pkg/nodeset"
	"github.com/smctl/smctl/pkg/vtree"
)

// A discovery statement, one per line, as written to /discover_master or
// printed by a discovery agent:
//
//	TYPE NODESET [key=value ...]       add devices (kept if present)
//	remove TYPE NODESET                remove devices
//
// Keys naming attribute files (address, port, user, transport, bmc, and
// the type's attrs) are written into each new device; a value that is a
// range pairs with the names, one each (server n[1-3] bmc=10.1.0.[1-3]),
// and must expand to as many values as there are names; other keys are
// options for the type's own define agent, which makes what a new device
// stands for (a VM defined from xml=FILE; the device is not kept when it
// fails), and for its discovery agent, run on every new device that is a
// container (Sysman: discovery runs on newly found containers).
type statement struct {
	remove bool
	typ    string
	spec   string
	names  []string
	attrs  map[string]string // attribute files, one value for every device
	opts   []string          // key=value for the container's discovery
	// each holds attribute values given as a range that expands alongside
	// the names, one per device: "server n[1-3] bmc=10.1.0.[1-3]".
	each map[string][]string
}

func (d *Discovery) parseStatement(line string) (*statement, error) {
	t := d.tree
	f := strings.Fields(line)
	st := &statement{attrs: map[string]string{}}
	if len(f) > 0 && f[0] == "remove" {
		st.remove = true
		f = f[1:]
	}
	if len(f) < 2 {
		return nil, fmt.Errorf("want \"TYPE NAMES [key=value ...]\" or \"remove TYPE NAMES\" (types: %s)", strings.Join(t.TypeNames(), ", "))
	}
	st.typ, st.spec = f[0], f[1]
	if _, ok := t.DeviceTypes()[st.typ]; !ok {
		return nil, fmt.Errorf("unknown device type %q (types: %s; add one under types: in smctl.yaml)", st.typ, strings.Join(t.TypeNames(), ", "))
	}
	names, err := nodeset.Expand(st.spec)
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		if err := validName(n); err != nil {
			return nil, err
		}
	}
	st.names = names
	known := t.DeviceAttrs(st.typ)
	given := map[string]bool{}
	for _, kv := range f[2:] {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%q: want key=value", kv)
		}
		if st.remove {
			return nil, errors.New("remove takes no key=value")
		}
		if given[k] {
			return nil, fmt.Errorf("%s given twice", k)
		}
		given[k] = true
		if slices.Contains(known, k) {
			if v == "" || strings.ContainsAny(v, "\n\x00") {
				return nil, fmt.Errorf("%s: empty or invalid value", k)
			}
			if strings.ContainsAny(v, "[,") && len(names) > 1 {
				vs, err := nodeset.Expand(v)
				if err != nil {
					return nil, fmt.Errorf("%s=%s: %w", k, v, err)
				}
				if len(vs) != len(names) {
					return nil, fmt.Errorf("%s=%s: %d values for %d devices (a range in a value pairs with the names, one each)", k, v, len(vs), len(names))
				}
				if st.each == nil {
					st.each = map[string][]string{}
				}
				st.each[k] = vs
				continue
			}
			st.attrs[k] = v
			continue
		}
		st.opts = append(st.opts, kv)
	}
	if len(st.opts) > 0 {
		if !t.HasAgent(st.typ, vtree.DiscoverAgent, agent.Write) && !t.HasAgent(st.typ, vtree.DefineAgent, agent.Write) {
			return nil, fmt.Errorf("unknown key %q for type %s (attributes: %s)", st.opts[0], st.typ, attrList(known))
		}
	}
	return st, nil
}

// attrList names attributes for an error: each once, sorted. The tree's,
// the drivers' and the type's lists may overlap (a type whose attrs set
// transport: ssh names the tree's transport again), and a type's come in
// map order.
func attrList(names []string) string {
	return strings.Join(slices.Compact(slices.Sorted(slices.Values(names))), ", ")
}

func validName(n string) error {
	switch {
	case n == "" || n == "." || n == "..":
		return fmt.Errorf("bad device name %q", n)
	case strings.ContainsAny(n, "/\x00") || strings.HasPrefix(n, "."):
		return fmt.Errorf("bad device name %q: no '/', NUL or leading '.'", n)
	case len(n) > vtree.MaxName:
		return fmt.Errorf("device name longer than %d bytes", vtree.MaxName)
	}
	return nil
}
