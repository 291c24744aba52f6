package inventory

import "sort"

// Group is a group of an Ansible inventory, as smctl keeps groups
// (/groups/NAME): the hosts named in it, in the order they first appear
// in the inventory, and its child groups ([NAME:children], YAML
// children:), sorted. Its members are its hosts and its children's.
type Group struct {
	Name     string
	Hosts    []string
	Children []string
}

// groupList returns the groups of inv sorted by name, without the
// implicit all and ungrouped.
func (inv *ansibleInv) groupList() []Group {
	var out []Group
	for name, g := range inv.groups {
		if name == "all" || name == "ungrouped" {
			continue
		}
		grp := Group{Name: name}
		for _, h := range inv.order {
			if inv.hosts[h].groups[name] {
				grp.Hosts = append(grp.Hosts, h)
			}
		}
		for child, cg := range inv.groups {
			if cg.parents[g.name] {
				grp.Children = append(grp.Children, child)
			}
		}
		sort.Strings(grp.Children)
		out = append(out, grp)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
