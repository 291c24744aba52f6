package cli

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"github.com/smctl/smctl/pkg/ops"
	"github.com/smctl/smctl/pkg/vtree"
)

// CatOptions are the flags of smctl cat.
type CatOptions struct {
	Paths      []string
	Filename   bool // -H
	NoFilename bool // -h
	MaxAge     time.Duration
	HasMaxAge  bool
	Output     string
	Gather     bool   // -b
	Only       string // --only failed|ok
}

// newCatCmd builds smctl cat; runF, when not nil, receives the parsed
// options instead of catRun (for tests of flag parsing).
func newCatCmd(ios *IOStreams, g *globalOptions, runF func(*CatOptions) error) *cobra.Command {
	opts := &CatOptions{}
	cmd := &cobra.Command{
		Use:   "cat [-H] [PATH...]",
		Short: "Print files, running their read agents",
		Long: `Print the content of each file, running its read agent first as its caching
model says (--max-age overrides it). Paths may be globs, and are read from
standard input, one per line, when none is given. Many files are read in
parallel (--fanout) and printed in input order; -H prefixes every line with
its path, as grep does, and is the default for more than one path.`,
		Example: `  smctl cat /systems/servers/localhost/proc/loadavg
  smctl find /systems/servers -name command | smctl cat`,
		ValidArgsFunction: completePaths(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Paths = args
			opts.HasMaxAge = cmd.Flags().Changed("max-age")
			if runF != nil {
				return runF(opts)
			}
			return catRun(cmd.Context(), ios, g, opts)
		},
	}
	cmd.Flags().BoolVarP(&opts.Filename, "with-filename", "H", false, "prefix each line with its path")
	cmd.Flags().BoolVarP(&opts.NoFilename, "no-filename", "h", false, "never prefix lines with the path")
	cmd.Flags().DurationVar(&opts.MaxAge, "max-age", 0, "run the read agent only if the content is older than this (0: always)")
	cmd.Flags().StringVarP(&opts.Output, "output", "o", "", "output format: json (one JSON object per path)")
	cmd.Flags().BoolVarP(&opts.Gather, "gather", "b", false, "print identical contents once, headed by the folded node set and count; summary on stderr")
	cmd.Flags().StringVar(&opts.Only, "only", "", "only the paths whose last status was: failed or ok")
	cmd.Flags().Bool("help", false, "help for cat") // -h is --no-filename, as in grep
	return cmd
}

func checkOutput(o string) error {
	if o != "" && o != "json" {
		return usageErr("unknown output format %q (want json)", o)
	}
	return nil
}

func catRun(ctx context.Context, ios *IOStreams, g *globalOptions, opts *CatOptions) error {
	if err := checkOutput(opts.Output); err != nil {
		return err
	}
	if err := ops.CheckOnly(opts.Only); err != nil {
		return err
	}
	t, err := g.open()
	if err != nil {
		return err
	}
	defer t.Close()
	args, err := pathArgs(ios, opts.Paths)
	if err != nil {
		return err
	}
	if len(args) == 0 {
		return usageErr("cat: no paths (give them as arguments or on standard input)")
	}
	paths, failed := expand(ctx, ios, t, args)
	if paths, err = ops.Only(ctx, t, paths, opts.Only); err != nil {
		return err
	}
	defer ios.BufferOut()()
	p := choosePrinter(ios, printFlags{
		verb:   "cat",
		json:   opts.Output == "json",
		gather: opts.Gather,
		prefix: (len(paths) > 1 || opts.Filename) && !opts.NoFilename,
		many:   len(paths) > 1,
	})
	failed += runOps(ctx, ios, t, "cat", ops.Read, paths, ops.Options{
		Width:  g.fanoutWarn(ios, t),
		Read:   vtree.ReadOptions{MaxAge: opts.MaxAge, HasMaxAge: opts.HasMaxAge},
		Detail: opts.Output == "json",
	}, p)
	if err := p.Finish(); err != nil || failed > 0 {
		return errSomeFailed
	}
	return nil
}
