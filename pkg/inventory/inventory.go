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
	"strings"
)

// Host is one machine of an inventory.
type Host struct {
	Name    string
	Address string // empty: the name is the address (or an ssh_config alias)
	Port    int    // 0: default
	User    string
	// Groups are the Ansible groups the host belongs to, directly or
	// through [parent:children] / children:, sorted; the implicit groups
	// all and ungrouped are left out. Empty for other inventories.
	Groups []string
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
