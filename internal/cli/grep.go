package cli

import (
	"context"
	"regexp"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/smctl/smctl/pkg/ops"
	"github.com/smctl/smctl/pkg/vtree"
)

// GrepOptions are the flags of smctl grep.
type GrepOptions struct {
	Pattern    string
	Paths      []string
	List       bool // -l
	Invert     bool // -v
	IgnoreCase bool // -i
	Count      bool // -c
	Extended   bool // -E
	Filename   bool // -H
	NoFilename bool // -h
	Quiet      bool // -q
	Output     string
	Gather     bool   // -b
	Only       string // --only failed|ok
	MaxAge     time.Duration
	HasMaxAge  bool
}

// newGrepCmd builds smctl grep; runF, when not nil, receives the parsed
// options instead of grepRun (for tests of flag parsing).
func newGrepCmd(ios *IOStreams, g *globalOptions, runF func(*GrepOptions) error) *cobra.Command {
	opts := &GrepOptions{}
	cmd := &cobra.Command{
		Use:   "grep [-l] [-v] [-i] [-c] [-E] PATTERN [PATH...]",
		Short: "Search files for a pattern, running their read agents",
		Long: `Print the lines of the files that match PATTERN (a basic regular expression,
or extended with -E), reading each file as cat does: through its read agent,
in parallel, in input order. Paths come from the arguments or, one per line,
from standard input. Lines are prefixed with their file's path when there are
several files or the paths came from standard input (-H always, -h never). Exit status: 0 if a line was selected and every file was
read, 1 if none was selected or some file failed, 2 on a usage error.`,
		Example: `  smctl find /systems -name power | smctl grep -l on
  smctl grep -c . '/systems/servers/*/command'`,
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: completePaths(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Pattern, opts.Paths = args[0], args[1:]
			opts.HasMaxAge = cmd.Flags().Changed("max-age")
			if runF != nil {
				return runF(opts)
			}
			return grepRun(cmd.Context(), ios, g, opts)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&opts.List, "files-with-matches", "l", false, "print only the paths of files with a match")
	f.BoolVarP(&opts.Invert, "invert-match", "v", false, "select lines that do not match")
	f.BoolVarP(&opts.IgnoreCase, "ignore-case", "i", false, "ignore case")
	f.BoolVarP(&opts.Count, "count", "c", false, "print the number of selected lines per file")
	f.BoolVarP(&opts.Extended, "extended-regexp", "E", false, "PATTERN is an extended regular expression")
	f.BoolVarP(&opts.Filename, "with-filename", "H", false, "prefix lines with the path")
	f.BoolVarP(&opts.NoFilename, "no-filename", "h", false, "never prefix lines with the path")
	f.BoolVarP(&opts.Quiet, "quiet", "q", false, "print nothing; the exit status tells")
	f.StringVarP(&opts.Output, "output", "o", "", "output format: json (one JSON object per path, content = selected lines)")
	f.BoolVarP(&opts.Gather, "gather", "b", false, "print identical selected lines once, headed by the folded node set and count; summary on stderr")
	f.StringVar(&opts.Only, "only", "", "only the paths whose last status was: failed or ok")
	f.DurationVar(&opts.MaxAge, "max-age", 0, "run the read agent only if the content is older than this (0: always)")
	f.Bool("help", false, "help for grep") // -h is --no-filename, as in grep(1)
	return cmd
}

// compilePattern turns a grep pattern into a Go regexp. A basic regular
// expression (the default) has literal + ? | ( ) { } unless escaped.
func compilePattern(pat string, extended, icase bool) (*regexp.Regexp, error) {
	if !extended {
		var b strings.Builder
		for i := 0; i < len(pat); i++ {
			c := pat[i]
			switch {
			case c == '\\' && i+1 < len(pat) && strings.IndexByte("+?|(){}", pat[i+1]) >= 0:
				b.WriteByte(pat[i+1])
				i++
			case c == '\\' && i+1 < len(pat):
				b.WriteByte(c)
				b.WriteByte(pat[i+1])
				i++
			case strings.IndexByte("+?|(){}", c) >= 0:
				b.WriteByte('\\')
				b.WriteByte(c)
			default:
				b.WriteByte(c)
			}
		}
		pat = b.String()
	}
	if icase {
		pat = "(?i)" + pat
	}
	re, err := regexp.Compile(pat)
	if err != nil {
		return nil, usageErr("grep: bad pattern: %v", err)
	}
	return re, nil
}

func grepRun(ctx context.Context, ios *IOStreams, g *globalOptions, opts *GrepOptions) error {
	if err := checkOutput(opts.Output); err != nil {
		return err
	}
	if err := ops.CheckOnly(opts.Only); err != nil {
		return err
	}
	re, err := compilePattern(opts.Pattern, opts.Extended, opts.IgnoreCase)
	if err != nil {
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
		return usageErr("grep: no paths (give them as arguments or on standard input)")
	}
	paths, failed := expand(ctx, ios, t, args)
	if paths, err = ops.Only(ctx, t, paths, opts.Only); err != nil {
		return err
	}
	defer ios.BufferOut()()
	p := choosePrinter(ios, printFlags{
		verb:   "grep",
		json:   opts.Output == "json",
		gather: opts.Gather,
		// Paths read from standard input are a list, whatever its length:
		// each line says which file it came from, so that a pipeline
		// works the same with one device as with many (Figure 1).
		prefix: (len(paths) > 1 || len(opts.Paths) == 0 || opts.Filename) && !opts.NoFilename,
		many:   len(paths) > 1,
		quiet:  opts.Quiet,
		list:   opts.List,
		count:  opts.Count,
	})
	selected := 0
	failed += runOps(ctx, ios, t, "grep", ops.Grep, paths, ops.Options{
		Width:  g.fanoutWarn(ios, t),
		Read:   vtree.ReadOptions{MaxAge: opts.MaxAge, HasMaxAge: opts.HasMaxAge},
		Match:  func(l []byte) bool { return re.Match(l) != opts.Invert },
		Detail: opts.Output == "json",
	}, countingPrinter{p, &selected})
	if err := p.Finish(); err != nil || failed > 0 || selected == 0 {
		return errSomeFailed
	}
	return nil
}

// countingPrinter counts the lines grep selected on the way to a printer.
type countingPrinter struct {
	printer
	n *int
}

func (c countingPrinter) Print(o ops.Outcome) {
	*c.n += o.Matches
	c.printer.Print(o)
}
