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
)

// DemoOptions are the flags of smctl demo.
type DemoOptions struct {
	Nodes int
	Keep  bool
}

func newDemoCmd(ios *IOStreams, g *globalOptions) *cobra.Command {
	opts := &DemoOptions{}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the paper's vmstat collection on a throw-away state root",
		Long: `Make a temporary state root, discover --nodes servers, write vmstat to every
server's command file and collect the results, printing each command as a
user would type it and the time taken; then remove the root (unless --keep).
The servers run their commands on this machine (transport local).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return demoRun(cmd.Context(), ios, g, opts)
		},
	}
	cmd.Flags().IntVar(&opts.Nodes, "nodes", 200, "number of servers")
	cmd.Flags().BoolVar(&opts.Keep, "keep", false, "keep the state root and print its path")
	return cmd
}

func demoRun(ctx context.Context, ios *IOStreams, g *globalOptions, opts *DemoOptions) error {
	if opts.Nodes < 1 || opts.Nodes > 100000 {
		return usageErr("demo: --nodes must be 1..100000")
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
	width := len(fmt.Sprint(opts.Nodes))
	nodes := fmt.Sprintf("n[%0*d-%0*d]", width, 1, width, opts.Nodes)
	pipe := ""
	sub := func(stdin string, show bool, args ...string) (string, error) {
		shown := "smctl"
		for _, a := range args {
			if strings.ContainsAny(a, " []*") {
				a = "'" + a + "'"
			}
			shown += " " + a
		}
		fmt.Fprintf(ios.Out, "$ %s%s\n", pipe, shown)
		pipe = ""
		var out bytes.Buffer
		sios := &IOStreams{In: strings.NewReader(stdin), Out: &out, ErrOut: ios.ErrOut}
		full := append([]string{"--root", root}, args...)
		if g.Fanout > 0 {
			full = append([]string{"--fanout", fmt.Sprint(g.Fanout)}, full...)
		}
		if code := Run(ctx, sios, full); code != ExitOK {
			return out.String(), &exitError{code, fmt.Errorf("demo: %q failed", shown)}
		}
		if show {
			ios.Out.Write(out.Bytes())
		}
		return out.String(), nil
	}
	if _, err := sub("", false, "init"); err != nil {
		return err
	}
	if _, err := sub("", false, "write", "/discover_master", fmt.Sprintf("server %s transport=local", nodes)); err != nil {
		return err
	}
	if _, err := sub("", true, "cat", "/discover_master"); err != nil {
		return err
	}
	cmds, err := runQuiet(ctx, root, "find", "/systems/servers", "-name", "command")
	if err != nil {
		return err
	}
	n := strings.Count(cmds, "\n")
	start := time.Now()
	pipe = "smctl find /systems/servers -name command | "
	if _, err := sub(cmds, false, "write", "--stdin-paths", "vmstat"); err != nil {
		return err
	}
	issued := time.Since(start)
	pipe = "smctl find /systems/servers -name command | "
	out, err := sub(cmds, false, "cat")
	if err != nil {
		return err
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	for i, l := range lines {
		if i == 6 {
			fmt.Fprintf(ios.Out, "... (%d more lines)\n", len(lines)-6)
			break
		}
		fmt.Fprintln(ios.Out, l)
	}
	fmt.Fprintf(ios.Out, "\nvmstat collected from %d servers in %.2fs (%.0f servers/s)\n",
		n, issued.Seconds(), float64(n)/issued.Seconds())
	return nil
}

// runQuiet runs smctl on root and returns its output.
func runQuiet(ctx context.Context, root string, args ...string) (string, error) {
	var out, errOut bytes.Buffer
	sios := &IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}
	if code := Run(ctx, sios, append([]string{"--root", root}, args...)); code != ExitOK {
		return "", &exitError{code, fmt.Errorf("demo: smctl %s: %s", strings.Join(args, " "), strings.TrimSpace(errOut.String()))}
	}
	return out.String(), nil
}
