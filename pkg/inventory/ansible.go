package inventory

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/smctl/smctl/pkg/nodeset"
	"github.com/smctl/smctl/pkg/sshconf"
)

// Ansible returns the hosts of an Ansible inventory, INI or YAML, each
// once, in the order they first appear, with their groups and the
// connection variables Ansible would use for them:
//
//   - ansible_host, ansible_port and ansible_user give Address, Port and
//     User; the old names ansible_ssh_host, ansible_ssh_port and
//     ansible_ssh_user are read too and, as in Ansible's ssh connection,
//     win over the new ones when both apply to a host.
//   - Variables come from the host (INI host lines, YAML hosts: entries)
//     and from every group it is in, directly or as a descendant
//     ([parent:children], YAML children:), with Ansible's precedence:
//     group all first, then the other groups by depth below all (a
//     child's vars override its parent's), then ansible_group_priority,
//     then name (the later overrides); the host's own vars last. A host
//     named several times merges its groups and its vars, later
//     definitions overriding earlier ones.
//   - In INI, a host pattern may end in :PORT (db1:2222), as Ansible
//     allows; ranges such as web[01:20].example.com are expanded.
//
// Groups lists the groups of each host, sorted, parents included, without
// the implicit all and ungrouped. Values are taken literally: a Jinja
// template such as "{{ port }}" in ansible_port is an error.
func Ansible(path string) ([]Host, error) {
	hosts, _, err := AnsibleInventory(path)
	return hosts, err
}

// AnsibleInventory is Ansible, also returning the groups of the inventory
// (see Group).
func AnsibleInventory(path string) ([]Host, []Group, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	inv := newAnsibleInv()
	trimmed := strings.TrimSpace(string(b))
	if strings.HasPrefix(trimmed, "all:") || strings.HasPrefix(trimmed, "---") {
		err = ansibleYAML(b, inv)
	} else {
		err = ansibleINI(b, inv)
	}
	if err == nil {
		var hosts []Host
		if hosts, err = inv.resolve(); err == nil {
			return hosts, inv.groupList(), nil
		}
	}
	return nil, nil, fmt.Errorf("%s: %w", path, err)
}

// ansibleInv is an inventory as parsed, before variables are resolved.
type ansibleInv struct {
	groups map[string]*ansibleGroup
	hosts  map[string]*ansibleHost
	order  []string // host names, first appearance first
}

type ansibleGroup struct {
	name    string
	vars    map[string]string
	parents map[string]bool
	depth   int // 0 for all; -1 while computed
}

type ansibleHost struct {
	vars   map[string]string
	groups map[string]bool // direct groups
}

func newAnsibleInv() *ansibleInv {
	inv := &ansibleInv{groups: map[string]*ansibleGroup{}, hosts: map[string]*ansibleHost{}}
	inv.group("all")
	inv.group("ungrouped")
	return inv
}

func (inv *ansibleInv) group(name string) *ansibleGroup {
	g := inv.groups[name]
	if g == nil {
		g = &ansibleGroup{name: name, vars: map[string]string{}, parents: map[string]bool{}}
		inv.groups[name] = g
	}
	return g
}

// addChild makes child a child group of parent.
func (inv *ansibleInv) addChild(parent, child string) {
	inv.group(parent)
	inv.group(child).parents[parent] = true
}

// addHosts adds the hosts of pattern to group with vars.
func (inv *ansibleInv) addHosts(group, pattern string, vars map[string]string) error {
	names, err := expandAnsible(pattern)
	if err != nil {
		return err
	}
	inv.group(group)
	for _, n := range names {
		h := inv.hosts[n]
		if h == nil {
			h = &ansibleHost{vars: map[string]string{}, groups: map[string]bool{}}
			inv.hosts[n] = h
			inv.order = append(inv.order, n)
		}
		h.groups[group] = true
		for k, v := range vars {
			h.vars[k] = v
		}
	}
	return nil
}

// setVar checks the value of a port variable as it is set.
func setVar(vars map[string]string, k, v string) error {
	if k == "ansible_port" || k == "ansible_ssh_port" {
		if p, err := strconv.Atoi(v); err != nil || p < 1 || p > 65535 {
			return fmt.Errorf("bad %s %q", k, v)
		}
	}
	vars[k] = v
	return nil
}

// depth is the group's distance below all: the longest path to it,
// as Ansible counts it. A group that is its own ancestor is an error.
func (inv *ansibleInv) depth(g *ansibleGroup) (int, error) {
	if g.name == "all" {
		return 0, nil
	}
	switch g.depth {
	case -1:
		return 0, fmt.Errorf("group %s is its own ancestor (a loop of children)", g.name)
	case 0:
	default:
		return g.depth, nil
	}
	g.depth = -1
	d := 1 // under all when it has no other parent
	for p := range g.parents {
		pd, err := inv.depth(inv.groups[p])
		if err != nil {
			return 0, err
		}
		d = max(d, pd+1)
	}
	g.depth = d
	return d, nil
}

// ancestors adds to set the group name and every group above it.
func (inv *ansibleInv) ancestors(name string, set map[string]bool) {
	if set[name] {
		return
	}
	set[name] = true
	for p := range inv.groups[name].parents {
		inv.ancestors(p, set)
	}
}

func (inv *ansibleInv) resolve() ([]Host, error) {
	for _, g := range inv.groups {
		if _, err := inv.depth(g); err != nil {
			return nil, err
		}
	}
	priority := map[string]int{}
	for name, g := range inv.groups {
		priority[name] = 1
		if p, ok := g.vars["ansible_group_priority"]; ok {
			n, err := strconv.Atoi(p)
			if err != nil {
				return nil, fmt.Errorf("group %s: bad ansible_group_priority %q", name, p)
			}
			priority[name] = n
		}
	}
	var out []Host
	for _, name := range inv.order {
		h := inv.hosts[name]
		set := map[string]bool{"all": true}
		for g := range h.groups {
			inv.ancestors(g, set)
		}
		var groups, shown []string
		for g := range set {
			if g != "all" && g != "ungrouped" {
				shown = append(shown, g)
			}
			groups = append(groups, g)
		}
		if len(shown) == 0 {
			groups = append(groups, "ungrouped")
		}
		sort.Slice(groups, func(i, j int) bool {
			a, b := inv.groups[groups[i]], inv.groups[groups[j]]
			if a.depth != b.depth {
				return a.depth < b.depth
			}
			if priority[a.name] != priority[b.name] {
				return priority[a.name] < priority[b.name]
			}
			return a.name < b.name
		})
		vars := map[string]string{}
		for _, g := range groups {
			for k, v := range inv.groups[g].vars {
				vars[k] = v
			}
		}
		for k, v := range h.vars {
			vars[k] = v
		}
		sort.Strings(shown)
		out = append(out, connection(name, vars, shown))
	}
	return out, nil
}

// connection is the host name with the connection variables of vars.
func connection(name string, vars map[string]string, groups []string) Host {
	get := func(k string) string {
		if v, ok := vars["ansible_ssh_"+k]; ok {
			return v
		}
		return vars["ansible_"+k]
	}
	h := Host{Name: name, Address: get("host"), User: get("user"), Groups: groups}
	if p := get("port"); p != "" {
		h.Port, _ = strconv.Atoi(p) // checked by setVar
	}
	return h
}

// expandAnsible turns web[01:03] into web[01-03] for nodeset.
func expandAnsible(pattern string) ([]string, error) {
	if !strings.Contains(pattern, "[") {
		return []string{pattern}, nil
	}
	var b strings.Builder
	in := false
	for _, c := range pattern {
		switch {
		case c == '[':
			in = true
		case c == ']':
			in = false
		case c == ':' && in:
			c = '-'
		}
		b.WriteRune(c)
	}
	return nodeset.Expand(b.String())
}

// iniSection is an INI section header: [group], [group:vars] or
// [group:children].
var iniSection = regexp.MustCompile(`^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:[#;].*)?$`)

// hostPort splits an INI host pattern ending in :PORT (after any range).
var hostPort = regexp.MustCompile(`^([^:]*(?:\[[^\]]*\][^:\[]*)*):(\d+)$`)

func ansibleINI(b []byte, inv *ansibleInv) error {
	group, kind := "ungrouped", ""
	sc := bufio.NewScanner(bytes.NewReader(b))
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";") {
			continue
		}
		if strings.HasPrefix(line, "[") {
			m := iniSection.FindStringSubmatch(line)
			if m == nil {
				return fmt.Errorf("line %d: bad section header %s", n, line)
			}
			group, kind = m[1], m[2]
			if kind != "" && kind != "vars" && kind != "children" {
				return fmt.Errorf("line %d: section [%s:%s]: want :vars or :children", n, group, kind)
			}
			inv.group(group)
			continue
		}
		var err error
		switch kind {
		case "vars":
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				return fmt.Errorf("line %d: %q: want key=value", n, line)
			}
			err = setVar(inv.group(group).vars, strings.TrimSpace(k), unquote(strings.TrimSpace(v)))
		case "children":
			child := strings.Fields(line)[0]
			if child == group {
				return fmt.Errorf("line %d: group %s cannot be its own child", n, group)
			}
			inv.addChild(group, child)
		default:
			err = iniHost(inv, group, line)
		}
		if err != nil {
			return fmt.Errorf("line %d: %w", n, err)
		}
	}
	return sc.Err()
}

// iniHost adds the hosts of an INI host line "PATTERN[:PORT] [key=value...]",
// split as Ansible splits it (shlex: quotes group, # begins a comment).
func iniHost(inv *ansibleInv, group, line string) error {
	f, err := splitArgs(line)
	if err != nil {
		return err
	}
	if len(f) == 0 || f[0] == "" {
		return errors.New("want a host")
	}
	vars := map[string]string{}
	pattern := f[0]
	if m := hostPort.FindStringSubmatch(pattern); m != nil {
		pattern = m[1]
		if err := setVar(vars, "ansible_port", m[2]); err != nil {
			return err
		}
	}
	for _, kv := range f[1:] {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return fmt.Errorf("%q: want key=value", kv)
		}
		if err := setVar(vars, k, v); err != nil {
			return fmt.Errorf("host %s: %w", pattern, err)
		}
	}
	return inv.addHosts(group, pattern, vars)
}

func unquote(v string) string {
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
		return v[1 : len(v)-1]
	}
	return v
}

// splitArgs splits an INI host line into words: the same simple shell-like
// splitting (blanks, quotes, backslash, # comments) as ssh_config's.
var splitArgs = sshconf.SplitArgs
