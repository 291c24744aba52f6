package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/smctl/smctl/pkg/sim"
)

// DemoOptions are the flags of smctl demo.
type DemoOptions struct {
	Nodes int
	Keep  bool
	Local bool
}

func newDemoCmd(ios *IOStreams, g *globalOptions) *cobra.Command {
	opts := &DemoOptions{}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Collect vmstat from a simulated cluster of 2000 SSH nodes, as in the paper",
		Long: `Start a simulated cluster (smctl sim) of --nodes SSH servers on 127.0.0.1 in a
throw-away state root, discover them, write vmstat to every server's command
file, collect and gather the results, printing each command as a user would
type it and the time taken, then run uname -r everywhere to show identical
output gathered under one node set; then stop the nodes and remove the root
(unless --keep). With --local the servers run vmstat on this machine instead (no SSH).`,
		Example: `  smctl demo                     # 2000 simulated nodes (make demo)
  smctl demo --nodes 200 --keep  # a smaller run; keep the state root to look around
  smctl demo --local --nodes 10  # no SSH: vmstat on this machine`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return demoRun(cmd.Context(), ios, g, opts)
		},
	}
	cmd.Flags().IntVar(&opts.Nodes, "nodes", 2000, "number of servers")
	cmd.Flags().BoolVar(&opts.Keep, "keep", false, "keep the state root and print its path (the simulated nodes stop)")
	cmd.Flags().BoolVar(&opts.Local, "local", false, "run the commands on this machine instead of simulated SSH nodes")
	return cmd
}

func demoRun(ctx context.Context, ios *IOStreams, g *globalOptions, opts *DemoOptions) error {
	if opts.Nodes < 1 || opts.Nodes > 30000 {
		return usageErr("demo: --nodes must be 1..30000")
	}
	dir, err := os.MkdirTemp("", "smctl-demo-")
	if err != nil {
		return err
	}
	root := filepath.Join(dir, "root")
	if opts.Keep {
		defer fmt.Fprintf(ios.Out, "\nstate root kept: %s (smctl --root %s ls /)\n", root, root)
	} else {
		defer os.RemoveAll(dir)
	}
	pipe := ""
	sub := func(stdin string, show int, args ...string) (string, error) {
		shown := "smctl"
		for _, a := range args {
			if strings.ContainsAny(a, " []*") {
				a = "'" + a + "'"
			}
			shown += " " + a
		}
		fmt.Fprintf(ios.Out, "$ %s%s\n", pipe, shown)
		pipe = ""
		full := args
		if g.Fanout > 0 {
			full = append([]string{"--fanout", fmt.Sprint(g.Fanout)}, args...)
		}
		out, errOut, code := runCaptured(ctx, root, stdin, full...)
		if show != 0 {
			lines := strings.SplitAfter(out, "\n")
			if show > 0 && len(lines) > show+1 {
				lines = append(lines[:show], fmt.Sprintf("... (%d more lines)\n", len(lines)-show-1))
			}
			fmt.Fprint(ios.Out, strings.Join(lines, ""))
		}
		fmt.Fprint(ios.ErrOut, lastLines(errOut, 3))
		if code != ExitOK {
			return out, &exitError{code, fmt.Errorf("demo: %q failed", shown)}
		}
		return out, nil
	}
	if _, err := sub("", 0, "init"); err != nil {
		return err
	}
	if opts.Local {
		width := len(fmt.Sprint(opts.Nodes))
		nodes := fmt.Sprintf("n[%0*d-%0*d]", width, 1, width, opts.Nodes)
		if _, err := sub("", 0, "write", "--yes", "/discover_master", fmt.Sprintf("server %s transport=local", nodes)); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(ios.Out, "$ smctl sim -n %d --dir %s --discover %s &\n", opts.Nodes, filepath.Join(dir, "sim"), root)
		start := time.Now()
		c, err := sim.Start(sim.Options{N: opts.Nodes, Dir: filepath.Join(dir, "sim")})
		if err != nil {
			return &exitError{ExitFailed, err}
		}
		defer c.Close()
		if _, err := runQuiet(ctx, root, "write", "/discover_master", "remove server localhost"); err != nil {
			return err
		}
		if err := simDiscover(ctx, g, root, c); err != nil {
			return err
		}
		fmt.Fprintf(ios.Out, "%d simulated SSH nodes on %s, discovered in %.2fs\n", len(c.Nodes), c.Addr, time.Since(start).Seconds())
	}
	if _, err := sub("", 1, "cat", "/discover_master"); err != nil {
		return err
	}
	cmds, err := runQuiet(ctx, root, "find", "/systems/servers", "-name", "command")
	if err != nil {
		return err
	}
	n := strings.Count(cmds, "\n")
	start := time.Now()
	pipe = "smctl find /systems/servers -name command | "
	if _, err := sub(cmds, 0, "write", "--stdin-paths", "vmstat"); err != nil {
		return err
	}
	took := time.Since(start)
	pipe = "smctl find /systems/servers -name command | "
	if _, err := sub(cmds, 12, "cat", "-b"); err != nil {
		return err
	}
	// Identical output folds under one node set.
	pipe = "smctl find /systems/servers -name command | "
	if _, err := sub(cmds, 0, "write", "--stdin-paths", "uname -r"); err != nil {
		return err
	}
	pipe = "smctl find /systems/servers -name command | "
	if _, err := sub(cmds, 12, "cat", "-b"); err != nil {
		return err
	}
	fmt.Fprintf(ios.Out, "\nvmstat collected from %d servers in %.2fs (%.0f servers/s)\n", n, took.Seconds(), float64(n)/took.Seconds())
	return nil
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.SplitAfter(s, "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "")
}

// runCaptured runs smctl on root with stdin, capturing its streams.
func runCaptured(ctx context.Context, root, stdin string, args ...string) (string, string, int) {
	var out, errOut bytes.Buffer
	sios := &IOStreams{In: strings.NewReader(stdin), Out: &out, ErrOut: &errOut}
	code := Run(ctx, sios, append([]string{"--root", root}, args...))
	return out.String(), errOut.String(), code
}

// runQuiet runs smctl on root and returns its output.
func runQuiet(ctx context.Context, root string, args ...string) (string, error) {
	out, errOut, code := runCaptured(ctx, root, "", args...)
	if code != ExitOK {
		return "", &exitError{code, fmt.Errorf("demo: smctl %s: %s", strings.Join(args, " "), strings.TrimSpace(errOut))}
	}
	return out, nil
}
