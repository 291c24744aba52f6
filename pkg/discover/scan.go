package discover

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/smctl/smctl/pkg/fanout"
	"github.com/smctl/smctl/pkg/inventory"
	"github.com/smctl/smctl/pkg/nodeset"
)

// imported is what an import makes: discovery statements and, from an
// Ansible inventory, its groups, kept as /groups/NAME (source names the
// inventory).
type imported struct {
	statements []string
	groups     []inventory.Group
	source     string
}

// importStatements is the discovery statements of an import.
func importStatements(line string) ([]string, error) {
	im, err := importLine(line)
	if err != nil {
		return nil, err
	}
	return im.statements, nil
}

// importLine turns "import KIND [FILE]" into discovery statements (and
// groups):
//
//	import ssh_config [FILE]   Host names of an ssh_config (~/.ssh/config)
//	import hosts [FILE]        names of a hosts file (/etc/hosts)
//	import ansible INVENTORY   hosts of an Ansible inventory, INI or YAML,
//	                           and its groups (see writeGroups)
func importLine(line string) (*imported, error) {
	f := strings.Fields(line)
	if len(f) < 2 || len(f) > 3 {
		return nil, errors.New(`want "import ssh_config|hosts|ansible [FILE]"`)
	}
	file := ""
	if len(f) == 3 {
		file = f[2]
	}
	home, _ := os.UserHomeDir()
	if strings.HasPrefix(file, "~/") {
		file = filepath.Join(home, file[2:])
	}
	var hosts []inventory.Host
	var err error
	var extra string
	im := &imported{}
	switch f[1] {
	case "ssh_config":
		if file == "" {
			file = filepath.Join(home, ".ssh", "config")
		}
		if file, err = filepath.Abs(file); err != nil {
			return nil, err
		}
		hosts, err = inventory.SSHConfig(file)
		extra = " ssh_config=" + file
	case "hosts":
		if file == "" {
			file = "/etc/hosts"
		}
		hosts, err = inventory.Hosts(file)
	case "ansible":
		if file == "" {
			return nil, errors.New("import ansible needs the inventory file")
		}
		hosts, im.groups, err = inventory.AnsibleInventory(file)
		im.source = file
		if abs, aerr := filepath.Abs(file); aerr == nil {
			im.source = abs
		}
	default:
		return nil, fmt.Errorf("import %s: want ssh_config, hosts or ansible", f[1])
	}
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", f[1], err)
	}
	if len(hosts) == 0 {
		return nil, fmt.Errorf("import %s: no hosts in %s", f[1], file)
	}
	for _, g := range im.groups {
		if !nodeset.ValidGroupName(g.Name) {
			return nil, fmt.Errorf("import %s: group name %q cannot be a group's file name (letters, digits, '_', '-', '.')", f[1], g.Name)
		}
	}
	for _, h := range hosts {
		if strings.ContainsAny(h.Name, "[],") {
			return nil, fmt.Errorf("import %s: host name %q cannot be a device name", f[1], h.Name)
		}
		s := "server " + h.Name + extra
		if h.Address != "" {
			s += " address=" + h.Address
		}
		if h.Port != 0 {
			s += " port=" + strconv.Itoa(h.Port)
		}
		if h.User != "" {
			s += " user=" + h.User
		}
		im.statements = append(im.statements, s)
	}
	return im, nil
}

// scan probes the ranges of smctl.yaml's discovery.scan in parallel and
// returns a discovery statement for every address and port that answers
// with an SSH banner.
func (d *Discovery) scan(ctx context.Context) ([]string, error) {
	type probe struct {
		host string
		port int
	}
	var probes []probe
	for _, r := range d.settings.Scan {
		hosts, err := nodeset.Expand(r.Hosts)
		if err != nil {
			return nil, fmt.Errorf("discovery scan: %w", err)
		}
		ports := r.Ports
		if len(ports) == 0 {
			ports = []int{22}
		}
		for _, h := range hosts {
			for _, p := range ports {
				probes = append(probes, probe{h, p})
			}
		}
	}
	timeout := d.settings.ScanTimeout.Duration
	res := fanout.All(ctx, len(probes), 256, func(ctx context.Context, i int) (bool, error) {
		return sshBanner(ctx, net.JoinHostPort(probes[i].host, strconv.Itoa(probes[i].port)), timeout), nil
	})
	var out []string
	for _, r := range res {
		if !r.Value {
			continue
		}
		p := probes[r.Index]
		name := p.host
		if p.port != 22 {
			name = p.host + ":" + strconv.Itoa(p.port)
		}
		out = append(out, fmt.Sprintf("server %s address=%s port=%d", name, p.host, p.port))
	}
	return out, ctx.Err()
}

// sshBanner reports whether addr answers with an SSH identification line.
func sshBanner(ctx context.Context, addr string, timeout time.Duration) bool {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return false
	}
	defer c.Close()
	deadline, _ := ctx.Deadline()
	c.SetDeadline(deadline)
	r := bufio.NewReaderSize(c, 512)
	for i := 0; i < 5; i++ { // RFC 4253 allows lines before the banner
		line, err := r.ReadString('\n')
		if strings.HasPrefix(line, "SSH-") {
			return true
		}
		if err != nil {
			return false
		}
	}
	return false
}
