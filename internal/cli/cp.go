package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/smctl/smctl/pkg/filecopy"
	"github.com/smctl/smctl/pkg/ops"
	"github.com/smctl/smctl/pkg/status"
)

// CpOptions are the flags of smctl cp.
type CpOptions struct {
	Args      []string  // SRC... DEST, or with From REMOTE... LOCALDIR
	Nodes     nodeFlags // -w, -g, -x
	From      bool      // --from: copy from the nodes (rpdcp)
	Recursive bool      // -r
	Preserve  bool      // -p
	Output    string    // -o json
}

// newCpCmd builds smctl cp; runF, when not nil, receives the parsed
// options instead of cpRun (for tests of flag parsing).
func newCpCmd(ios *IOStreams, g *globalOptions, runF func(*CpOptions) error) *cobra.Command {
	opts := &CpOptions{}
	cmd := &cobra.Command{
		Use:   "cp [-w NODES]... [-g GROUP]... [-x NODES]... [-r] [-p] SRC... DEST | --from REMOTE... LOCALDIR",
		Short: "Copy files to every node, or from every node (pdcp, rpdcp)",
		Long: `Copy local files to DEST on every selected node (pdcp), or with --from copy
REMOTE files of every node into LOCALDIR, each saved as NAME.NODE (rpdcp):
/etc/hosts of n042 becomes LOCALDIR/hosts.n042, and with -r a directory
/etc/ssh becomes LOCALDIR/ssh.n042/.

Nodes are chosen with -w NODES (a node set: n[001-100,150], @GROUP), -g GROUP
and -x NODES, as for run; without -w or -g, every server. Files travel over
SFTP on smctl's own SSH connections, configured as for the command file
(ssh_config, known_hosts); the localhost server copies with plain file
operations.

As cp: -r copies directories, -p keeps modes and modification times; DEST is
a directory when it ends in /, when several SRC are given, or when it is one
on the node. A file is written under a temporary name and renamed into
place, so a node never shows a torn file. A missing SRC is an error before
anything is sent (exit 2). A node whose copy moves no byte for --timeout
(default: smctl.yaml's timeout) fails, timed out; a copy that keeps moving
is never cut.

Nodes copy in parallel (--fanout); one failing never stops the others.
Failures are named on stderr, with a summary folding the nodes by outcome;
-o json gives one object per node. Exit 0 all copied, 1 some failed, 2 usage.`,
		Example: `  smctl cp -w 'n[001-200]' ./ntp.conf /etc/ntp.conf
  smctl cp -g web -r -p ./site/ /srv/www/
  smctl cp --from -w 'n[001-004]' /var/log/syslog ./logs/   # logs/syslog.n001 ...`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Args = args
			if runF != nil {
				return runF(opts)
			}
			return cpRun(cmd.Context(), ios, g, opts)
		},
	}
	opts.Nodes.register(cmd.Flags())
	cmd.Flags().BoolVar(&opts.From, "from", false, "copy REMOTE... from every node into LOCALDIR, as NAME.NODE (rpdcp)")
	cmd.Flags().BoolVarP(&opts.Recursive, "recursive", "r", false, "copy directories recursively")
	cmd.Flags().BoolVarP(&opts.Preserve, "preserve", "p", false, "keep modes and modification times")
	cmd.Flags().StringVarP(&opts.Output, "output", "o", "", "output format: json (one JSON object per node)")
	return cmd
}

func cpRun(ctx context.Context, ios *IOStreams, g *globalOptions, opts *CpOptions) error {
	if err := checkOutput(opts.Output); err != nil {
		return err
	}
	if len(opts.Args) < 2 {
		return usageErr("cp: want SRC... DEST, or --from REMOTE... LOCALDIR")
	}
	srcs, dest := opts.Args[:len(opts.Args)-1], opts.Args[len(opts.Args)-1]
	t, err := g.open()
	if err != nil {
		return err
	}
	defer t.Close()
	devs, missing, err := opts.Nodes.devices(ctx, t)
	if err != nil {
		return usageErr("cp: %v", err)
	}
	o := filecopy.Options{
		Width:     g.fanoutWarn(ios, t),
		Recursive: opts.Recursive,
		Preserve:  opts.Preserve,
		Idle:      g.Timeout,
	}
	if tt, ok := t.(interface{ Timeout() time.Duration }); ok && o.Idle <= 0 {
		o.Idle = tt.Timeout() // --timeout, else smctl.yaml's
	}
	limitHeap(o.Width)
	p := choosePrinter(ios, printFlags{verb: "cp", json: opts.Output == "json", many: true})
	prog := startProgress(ios, len(devs), "cp")
	o.Done = func(failed bool) { prog.add(!failed) }
	copyFn := filecopy.Push
	if opts.From {
		copyFn = filecopy.Pull
	}
	failed, err := copyFn(ctx, t, devs, srcs, dest, o, p.Print)
	prog.finish()
	if err != nil {
		return err // the arguments: nothing was copied
	}
	for _, name := range missing {
		err := fmt.Errorf("%s: no such node", name)
		p.Print(ops.Outcome{Path: name, Label: name, Op: filecopy.Op, Err: err, RC: status.Failed, Class: status.ClassFailed})
	}
	if err := p.Finish(); err != nil || failed+len(missing) > 0 {
		return errSomeFailed
	}
	return nil
}
