package sshx

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smctl/smctl/pkg/sim"
)

// TestProxyJumpOwnConfig: a node with its own ssh_config (ssh -F) and a
// single ProxyJump hop reaches the jump host as the pool's ssh_config
// says, not as the node's own file would.
func TestProxyJumpOwnConfig(t *testing.T) {
	c := startSim(t, sim.Options{N: 2})
	n2 := c.Nodes[1]
	own := filepath.Join(t.TempDir(), "ssh_config")
	body := fmt.Sprintf("Host %s\n  HostName %s\n  Port %d\n  ProxyJump %s\n", n2.Name, c.Addr, n2.Port, c.Nodes[0].Name) +
		// The node's own file names the jump host wrongly: not used.
		fmt.Sprintf("Host %s\n  HostName 127.0.0.1\n  Port 1\n", c.Nodes[0].Name) +
		readFile(t, c.CommonFile)
	if err := os.WriteFile(own, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	p := NewPool(Options{ConfigFiles: []string{c.ConfigFile}})
	defer p.Close()
	out, err := (&Transport{Pool: p, Target: Target{Alias: n2.Name, ConfigFile: own}}).Exec(context.Background(), "hostname", nil, 100)
	if err != nil || string(out.Stdout) != n2.Name+"\n" {
		t.Fatalf("through %s: %q %v", c.Nodes[0].Name, out.Stdout, err)
	}
}

// TestStat: the entry of a directory and of a file, and the error of an
// unreachable node.
func TestStat(t *testing.T) {
	c := startSim(t, sim.Options{N: 1})
	p := NewPool(Options{ConfigFiles: []string{c.ConfigFile}})
	defer p.Close()
	ctx := context.Background()
	tr := &Transport{Pool: p, Target: Target{Alias: c.Nodes[0].Name}}
	tests := []struct {
		path    string
		name    string
		dir     bool
		missing bool
	}{
		{"/proc/sys", "sys", true, false},
		{"/proc/loadavg", "loadavg", false, false},
		{"/proc/nope", "", false, true},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			e, err := tr.Stat(ctx, tc.path)
			if tc.missing {
				if err == nil {
					t.Fatalf("Stat = %+v, want an error", e)
				}
				return
			}
			if err != nil || e.Name != tc.name || e.Mode.IsDir() != tc.dir || e.Mode&fs.ModePerm == 0 {
				t.Errorf("Stat = %+v, %v; want %s dir=%v", e, err, tc.name, tc.dir)
			}
		})
	}
	// A node that cannot be reached: an error, not an empty entry.
	cfg := filepath.Join(t.TempDir(), "ssh_config")
	bad := strings.Replace(readFile(t, c.ConfigFile), fmt.Sprintf("Port %d\n", c.Nodes[0].Port), "Port 1\n", 1)
	if err := os.WriteFile(cfg, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	p2 := NewPool(Options{ConfigFiles: []string{cfg}})
	defer p2.Close()
	if e, err := (&Transport{Pool: p2, Target: Target{Alias: c.Nodes[0].Name}}).Stat(ctx, "/proc/sys"); err == nil {
		t.Errorf("Stat on a node that is down = %+v, nil", e)
	}
}
