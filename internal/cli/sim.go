package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/smctl/smctl/pkg/discover"
	"github.com/smctl/smctl/pkg/ha"
	"github.com/smctl/smctl/pkg/sim"
	"github.com/smctl/smctl/pkg/vtree"
)

// SimOptions are the flags of smctl sim.
type SimOptions struct {
	sim.Options
	Discover string
	For      time.Duration
}

func newSimCmd(ios *IOStreams, g *globalOptions) *cobra.Command {
	opts := &SimOptions{}
	cmd := &cobra.Command{
		Use:   "sim -n N --dir DIR [--discover ROOT]",
		Short: "Serve a simulated cluster of N SSH nodes on loopback",
		Long: `Serve N simulated nodes over SSH on 127.0.0.1, one port each, until
interrupted (or for --for). Each answers vmstat, hostname, uptime, uname, cat
and ls of its own /proc and /sys, differently per node. Fractions of the nodes
can be made to refuse connections, hang, fail, or drop their first connection
during the handshake (as sshd's MaxStartups does).

DIR receives ssh_config (a Host block per node, for ssh -F, pdsh, clush, pssh),
ssh_config.common, known_hosts, the client key id_ed25519, hosts.txt and
discover.txt; DIR/ready appears once every node listens. --discover ROOT
registers the nodes in that state root.`,
		Example: `  smctl sim -n 2000 --dir /tmp/sim --discover ~/.local/share/smctl &
  smctl find /systems/servers -name command | smctl write --stdin-paths vmstat`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return simRun(cmd.Context(), ios, g, opts)
		},
	}
	f := cmd.Flags()
	f.IntVarP(&opts.N, "nodes", "n", 100, "number of nodes")
	f.StringVar(&opts.Dir, "dir", "", "directory for ssh_config, known_hosts and the client key (required)")
	f.StringVar(&opts.Prefix, "prefix", "n", "node name prefix (names are zero-padded: n0001)")
	f.DurationVar(&opts.Delay, "delay", 0, "delay added to every command")
	f.Float64Var(&opts.Refuse, "refuse", 0, "fraction of nodes that refuse connections")
	f.Float64Var(&opts.Hang, "hang", 0, "fraction of nodes whose commands never finish")
	f.Float64Var(&opts.Fail, "fail", 0, "fraction of nodes whose commands exit 1")
	f.Float64Var(&opts.Drop, "drop", 0, "fraction of nodes that drop their first connection during the handshake")
	f.Uint64Var(&opts.Seed, "seed", 1, "which nodes misbehave")
	f.StringVar(&opts.User, "user", "sim", "login name written to ssh_config")
	f.StringVar(&opts.Password, "password", "", "also accept this password (ids password authentication)")
	f.StringVar(&opts.Discover, "discover", "", "register the nodes in this state root")
	f.DurationVar(&opts.For, "for", 0, "stop after this long (default: until interrupted)")
	return cmd
}

func simRun(ctx context.Context, ios *IOStreams, g *globalOptions, opts *SimOptions) error {
	if opts.Dir == "" {
		return usageErr("sim: --dir is required")
	}
	if opts.N < 1 || opts.N > 30000 {
		return usageErr("sim: --nodes must be 1..30000")
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return err
	}
	opts.Options.Dir = dir
	c, err := sim.Start(opts.Options)
	if err != nil {
		return &exitError{ExitFailed, err}
	}
	defer c.Close()
	// Dir is ours now (Start holds its lock): a ready file left by a
	// simulator that died is not this one's.
	os.Remove(filepath.Join(dir, "ready"))
	if opts.Discover != "" {
		if err := simDiscover(ctx, g, opts.Discover, c); err != nil {
			return err
		}
	}
	counts := map[sim.Behaviour]int{}
	for _, n := range c.Nodes {
		counts[n.Behaviour]++
	}
	fmt.Fprintf(ios.Out, "serving %d nodes (%s..%s) on %s: %d ok, %d refuse, %d hang, %d fail, %d drop\n",
		len(c.Nodes), c.Nodes[0].Name, c.Nodes[len(c.Nodes)-1].Name, c.Addr,
		counts[sim.OK], counts[sim.Refuse], counts[sim.Hang], counts[sim.Fail], counts[sim.Drop])
	fmt.Fprintf(ios.Out, "ssh -F %s %s vmstat\n", c.ConfigFile, c.Nodes[0].Name)
	if err := os.WriteFile(filepath.Join(dir, "ready"), []byte(fmt.Sprintln(os.Getpid())), 0o600); err != nil {
		return err
	}
	if opts.For > 0 {
		select {
		case <-ctx.Done():
		case <-time.After(opts.For):
		}
	} else {
		<-ctx.Done()
	}
	os.Remove(filepath.Join(dir, "ready"))
	// Stopping on a signal is the normal end of a simulation.
	if ctx.Err() != nil {
		return &exitError{ExitOK, nil}
	}
	return nil
}

// simDiscover registers the cluster's nodes in the state root at root.
func simDiscover(ctx context.Context, g *globalOptions, root string, c *sim.Cluster) error {
	d := discover.New()
	t, err := vtree.Open(root, vtree.Options{Drivers: g.drivers(""), Extensions: []vtree.Extension{d, ha.NewExtension()}})
	if err != nil {
		return &exitError{ExitUsage, err}
	}
	defer t.Close()
	d.Confirm(true) // the simulator's own size, asked for with -n
	if _, err := t.Write(ctx, "/discover_master", []byte(c.Statements())); err != nil {
		return &exitError{ExitFailed, err}
	}
	return nil
}
