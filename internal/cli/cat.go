package cli

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

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
	if paths, err = only(ctx, t, paths, opts.Only); err != nil {
		return err
	}
	prefix := (len(paths) > 1 || opts.Filename) && !opts.NoFilename
	ropts := vtree.ReadOptions{MaxAge: opts.MaxAge, HasMaxAge: opts.HasMaxAge}
	names := labels(paths)
	tl := newTally()
	var gath gathered
	defer gath.close()
	i := 0
	failed += runAll(ctx, ios, g.fanoutWarn(ios, t), "cat", paths, func(ctx context.Context, p string) ([]byte, error) {
		res, err := t.Read(ctx, p, ropts)
		if err != nil {
			return nil, err
		}
		return res.Content, nil
	}, func(o outcome) {
		o.op = "read"
		label := names[i]
		i++
		switch {
		case opts.Gather:
			class := classify(vtree.RC(o.err))
			if o.err == nil {
				class = storedClass(ctx, t, o.path)
			} else {
				ios.Errorf("%v", o.err)
			}
			tl.add(class, label)
			if class == classOK {
				gath.add(o.content, label)
			}
		case opts.Output == "json":
			writeJSON(ios.Out, o)
		case o.err != nil:
			ios.Errorf("%v", o.err)
		case prefix:
			writePrefixed(ios, o.path, o.content)
		default:
			ios.Out.Write(o.content)
		}
	})
	if opts.Gather {
		if err := gath.print(ios); err != nil {
			ios.Errorf("cat: %v", err)
			failed++
		}
		ios.Errorf("cat: %s", tl)
		if tl.failed() {
			return errSomeFailed
		}
	}
	if failed > 0 {
		return errSomeFailed
	}
	return nil
}

// writePrefixed prints content line by line as "path:line".
func writePrefixed(ios *IOStreams, path string, content []byte) {
	for _, l := range splitLines(content) {
		fmt.Fprintf(ios.Out, "%s:%s\n", path, l)
	}
}

// splitLines splits content into lines without their newlines; a final
// line without a newline counts as a line.
func splitLines(b []byte) [][]byte {
	if len(b) == 0 {
		return nil
	}
	b = bytes.TrimSuffix(b, []byte("\n"))
	return bytes.Split(b, []byte("\n"))
}
