// Package inventory reads the host lists administrators already keep, for
// discovery: OpenSSH client configurations, hosts files and Ansible
// inventories (INI or YAML).
package inventory

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/kevinburke/ssh_config"
	"gopkg.in/yaml.v3"

	"github.com/smctl/smctl/pkg/nodeset"
)

// Host is one machine of an inventory.
type Host struct {
	Name    string
	Address string // empty: the name is the address (or an ssh_config alias)
	Port    int    // 0: default
	User    string
}

// SSHConfig returns the hosts named in an ssh_config file: every Host
// pattern without wildcards or negation.
func SSHConfig(path string) ([]Host, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cfg, err := ssh_config.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var out []Host
	seen := map[string]bool{}
	for _, h := range cfg.Hosts {
		for _, p := range h.Patterns {
			s := p.String()
			if s == "" || strings.ContainsAny(s, "*?!") || seen[s] {
				continue
			}
			seen[s] = true
			out = append(out, Host{Name: s})
		}
	}
	return out, nil
}

// Hosts returns the names of a hosts(5) file, each with its address. The
// usual loopback and IPv6 boilerplate names (localhost, ip6-*) are left
// out; the first name of a line is the host, later names are aliases.
func Hosts(path string) ([]Host, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []Host
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	n := 0
	for sc.Scan() {
		n++
		line, _, _ := strings.Cut(sc.Text(), "#")
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) < 2 || net.ParseIP(f[0]) == nil {
			return nil, fmt.Errorf("%s:%d: want ADDRESS NAME [ALIAS...]", path, n)
		}
		name := f[1]
		if name == "localhost" || strings.HasPrefix(name, "localhost.") || strings.HasPrefix(name, "ip6-") || seen[name] {
			continue
		}
		seen[name] = true
		out = append(out, Host{Name: name, Address: f[0]})
	}
	return out, sc.Err()
}

// Ansible returns the hosts of an Ansible inventory, INI or YAML, with
// ansible_host, ansible_port and ansible_user. Ranges such as
// web[01:20].example.com are expanded.
func Ansible(path string) ([]Host, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var hosts []Host
	trimmed := strings.TrimSpace(string(b))
	if strings.HasPrefix(trimmed, "all:") || strings.HasPrefix(trimmed, "---") {
		hosts, err = ansibleYAML(b)
	} else {
		hosts, err = ansibleINI(b)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	// One entry per name, first definition wins; stable order.
	seen := map[string]bool{}
	var out []Host
	for _, h := range hosts {
		if !seen[h.Name] {
			seen[h.Name] = true
			out = append(out, h)
		}
	}
	return out, nil
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

func withVars(names []string, vars map[string]string) ([]Host, error) {
	var out []Host
	for _, n := range names {
		h := Host{Name: n, Address: vars["ansible_host"], User: vars["ansible_user"]}
		if p := vars["ansible_port"]; p != "" {
			port, err := strconv.Atoi(p)
			if err != nil || port < 1 || port > 65535 {
				return nil, fmt.Errorf("host %s: bad ansible_port %q", n, p)
			}
			h.Port = port
		}
		out = append(out, h)
	}
	return out, nil
}

func ansibleINI(b []byte) ([]Host, error) {
	var out []Host
	section := ""
	sc := bufio.NewScanner(bytes.NewReader(b))
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";") {
			continue
		}
		if strings.HasPrefix(line, "[") {
			section = strings.Trim(line, "[]")
			continue
		}
		// Only host lines: [group:vars] and [group:children] hold no hosts.
		if strings.HasSuffix(section, ":vars") || strings.HasSuffix(section, ":children") {
			continue
		}
		f := strings.Fields(line)
		vars := map[string]string{}
		for _, kv := range f[1:] {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				return nil, fmt.Errorf("line %d: %q: want key=value", n, kv)
			}
			vars[k] = strings.Trim(v, `"'`)
		}
		names, err := expandAnsible(f[0])
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		hs, err := withVars(names, vars)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		out = append(out, hs...)
	}
	return out, sc.Err()
}

type yamlGroup struct {
	Hosts    map[string]map[string]any `yaml:"hosts"`
	Children map[string]yamlGroup      `yaml:"children"`
}

func ansibleYAML(b []byte) ([]Host, error) {
	var doc map[string]yamlGroup
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	var out []Host
	var walk func(g yamlGroup) error
	walk = func(g yamlGroup) error {
		names := make([]string, 0, len(g.Hosts))
		for n := range g.Hosts {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, pattern := range names {
			vars := map[string]string{}
			for k, v := range g.Hosts[pattern] {
				vars[k] = fmt.Sprint(v)
			}
			expanded, err := expandAnsible(pattern)
			if err != nil {
				return err
			}
			hs, err := withVars(expanded, vars)
			if err != nil {
				return err
			}
			out = append(out, hs...)
		}
		groups := make([]string, 0, len(g.Children))
		for n := range g.Children {
			groups = append(groups, n)
		}
		sort.Strings(groups)
		for _, n := range groups {
			if err := walk(g.Children[n]); err != nil {
				return err
			}
		}
		return nil
	}
	groups := make([]string, 0, len(doc))
	for n := range doc {
		groups = append(groups, n)
	}
	sort.Strings(groups)
	for _, n := range groups {
		if err := walk(doc[n]); err != nil {
			return nil, err
		}
	}
	return out, nil
}
