package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/smctl/smctl/pkg/discover"
	"github.com/smctl/smctl/pkg/ops"
	"github.com/smctl/smctl/pkg/vtree"
	"github.com/smctl/smctl/pkg/vtree/vfs"
)

// WriteOptions are the flags of smctl write.
type WriteOptions struct {
	Args       []string
	StdinPaths bool   // --stdin-paths: paths on stdin, value in args
	File       string // -f FILE: value from FILE, paths in args
	Prompt     bool   // --prompt: ask for an ids password
	Output     string
	Only       string // --only failed|ok
	Yes        bool   // --yes: confirm a destructive write to many devices, a large discovery
	DryRun     bool   // --dry-run: list what would run where, running nothing
}

// newWriteCmd builds smctl write; runF, when not nil, receives the parsed
// options instead of writeRun (for tests of flag parsing).
func newWriteCmd(ios *IOStreams, g *globalOptions, runF func(*WriteOptions) error) *cobra.Command {
	opts := &WriteOptions{}
	cmd := &cobra.Command{
		Use:   "write PATH [VALUE...]",
		Short: "Write a value to files, running their write agents",
		Long: `Write VALUE (the words joined by spaces) to the file at PATH, running its write
agent: power on, run a command, discover devices. PATH may be a glob. With no
VALUE, the value is read from standard input.

  smctl write PATH VALUE...                 value from the arguments
  echo VALUE | smctl write PATH             value from standard input
  ... | smctl write --stdin-paths VALUE...  paths from standard input
  smctl write -f FILE PATH...               value from FILE (Figure 7's cp)
  smctl write PATH/ids --prompt [USER]      credentials, password not echoed

A destructive write (power off, cycle, reset, soft; what a file's driver
declares so) to more than confirm_over devices of smctl.yaml (10) asks for
confirmation on a terminal, and is refused without --yes otherwise (cron,
scripts, a pipe on standard error). A discovery that would create more than
10000 devices at once is refused unless --yes is given. --dry-run lists
each file, the value and the agent that would run, and runs nothing.

Writes to many files run in parallel (--fanout). A write agent's output, if
any, becomes the file's content (the command file keeps the command's
output); see it with smctl cat.`,
		Example: `  smctl write /discover_master "server n[001-100]"
  smctl find /systems/servers -name command | smctl write --stdin-paths vmstat`,
		ValidArgsFunction: completeWrite(g, opts),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Args = args
			if runF != nil {
				return runF(opts)
			}
			return writeRun(cmd.Context(), ios, g, opts)
		},
	}
	cmd.Flags().BoolVar(&opts.StdinPaths, "stdin-paths", false, "read the paths from standard input; the arguments are the value")
	cmd.Flags().StringVarP(&opts.File, "file", "f", "", "write the content of FILE (- for standard input); the arguments are paths")
	cmd.Flags().BoolVar(&opts.Prompt, "prompt", false, "for an ids file: ask for the password on the terminal without echo")
	cmd.Flags().StringVarP(&opts.Output, "output", "o", "", "output format: json (one JSON object per path)")
	cmd.Flags().StringVar(&opts.Only, "only", "", "only the paths whose last status was: failed or ok (re-target a run)")
	cmd.Flags().BoolVar(&opts.Yes, "yes", false, fmt.Sprintf("confirm a destructive write to more than confirm_over devices, or a discovery of more than %d", discover.LargeDiscovery))
	cmd.Flags().BoolVar(&opts.DryRun, "dry-run", false, "list what would be written where, and by which agent; run nothing")
	return cmd
}

// completeWrite completes write's arguments: paths, as every verb does,
// then the first word of the value, from the values the file's write
// agent accepts as its driver declares them (power: on off cycle reset
// soft). A glob's first match stands for all. With --stdin-paths the
// arguments are the value of files not known yet: nothing to offer.
func completeWrite(g *globalOptions, opts *WriteOptions) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	paths := completePaths(g)
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		switch {
		case opts.File != "" || len(args) == 0 && !opts.StdinPaths:
			return paths(cmd, args, toComplete)
		case opts.StdinPaths || len(args) > 1:
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		t, err := g.open()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveError
		}
		defer t.Close()
		ctx, cancel := context.WithTimeout(cmd.Context(), completionBound)
		defer cancel()
		p := args[0]
		if vfs.HasMeta(p) {
			if ms, err := vfs.Glob(ctx, t, p); err == nil && len(ms) > 0 {
				p = ms[0]
			}
		}
		var out []string
		if vt, ok := t.(writeSpecer); ok {
			for _, v := range vt.WriteSpec(ctx, p).Values {
				if strings.HasPrefix(v, toComplete) {
					out = append(out, v)
				}
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// writeSpecer is a tree that knows what a file's write agent's driver
// declares of it: the values it accepts, those that destroy (vtree's).
type writeSpecer interface {
	WriteSpec(ctx context.Context, p string) vtree.File
}

// writeDashHint is the hint added to a flag error of write that comes after
// the PATH: a VALUE word that starts with - (uname -a) is taken for a flag.
const writeDashHint = "(to write a value that starts with -, put -- before it: smctl write PATH -- uname -a, or quote it)"

// writeFlagHint is the hint for cobra's flag error of the write command
// cmd: writeDashHint when an argument came before the flag (the flags
// before the first argument are write's own), else "".
func writeFlagHint(cmd *cobra.Command) string {
	if len(cmd.Flags().Args()) == 0 {
		return ""
	}
	return writeDashHint
}

// promptPassword asks for a password on the terminal without echo.
var promptPassword = func(ios *IOStreams, prompt string) ([]byte, error) {
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return nil, usageErr("--prompt needs a terminal: %v", err)
	}
	defer tty.Close()
	fmt.Fprint(tty, prompt)
	pw, err := term.ReadPassword(int(tty.Fd()))
	fmt.Fprintln(tty)
	return pw, err
}

func writeRun(ctx context.Context, ios *IOStreams, g *globalOptions, opts *WriteOptions) error {
	if err := checkOutput(opts.Output); err != nil {
		return err
	}
	if err := ops.CheckOnly(opts.Only); err != nil {
		return err
	}
	var paths []string
	var value []byte
	switch {
	case opts.Prompt:
		if opts.StdinPaths || opts.File != "" || len(opts.Args) < 1 || len(opts.Args) > 2 {
			return usageErr("write --prompt: want PATH/ids [USER]")
		}
		paths = opts.Args[:1]
		if !strings.HasSuffix(paths[0], "/ids") && paths[0] != "ids" {
			return usageErr("write --prompt: %s is not an ids file", paths[0])
		}
		user := ""
		if len(opts.Args) == 2 {
			user = opts.Args[1]
		} else {
			u, err := promptLine(ios, "user: ")
			if err != nil {
				return err
			}
			user = u
		}
		pw, err := promptPassword(ios, "password for "+user+": ")
		if err != nil {
			return err
		}
		value = []byte(user + ":" + string(pw) + "\n")
	case opts.StdinPaths && opts.File != "":
		return usageErr("write: --stdin-paths and -f do not go together")
	case opts.StdinPaths:
		if len(opts.Args) == 0 {
			return usageErr("write --stdin-paths: give the VALUE as arguments")
		}
		if ios.InIsTerminal() {
			return usageErr("write --stdin-paths: standard input is a terminal, not a list of paths")
		}
		ps, err := readLines(ios.In)
		if err != nil {
			return err
		}
		paths, value = ps, joinValue(opts.Args)
	case opts.File != "":
		var err error
		if opts.File == "-" {
			value, err = io.ReadAll(ios.In)
			paths = opts.Args
		} else {
			value, err = os.ReadFile(opts.File)
			if err == nil {
				paths, err = pathArgs(ios, opts.Args)
			}
		}
		if err != nil {
			return usageErr("write -f: %v", err)
		}
	default:
		if len(opts.Args) == 0 {
			return usageErr("write: want PATH [VALUE...]")
		}
		paths = opts.Args[:1]
		if len(opts.Args) > 1 {
			value = joinValue(opts.Args[1:])
		} else {
			if ios.InIsTerminal() {
				return usageErr("write: no VALUE: give it as arguments or on standard input")
			}
			b, err := io.ReadAll(ios.In)
			if err != nil {
				return err
			}
			value = b
		}
	}
	if len(paths) == 0 {
		return usageErr("write: no paths")
	}
	t, disc, err := g.openDiscovery()
	if err != nil {
		return err
	}
	defer t.Close()
	disc.Confirm(opts.Yes)
	paths, failed := expand(ctx, ios, t, paths)
	if paths, err = ops.Only(ctx, t, paths, opts.Only); err != nil {
		return err
	}
	if opts.DryRun {
		return writeDryRun(ctx, ios, t, paths, value, failed)
	}
	if err := confirmWrite(ctx, ios, t, paths, value, opts.Yes); err != nil {
		return err
	}
	p := choosePrinter(ios, printFlags{verb: "write", json: opts.Output == "json", many: len(paths) > 1})
	failed += runOps(ctx, ios, t, "write", ops.Write, paths, ops.Options{
		Width: g.fanoutWarn(ios, t),
		Value: value,
		// Only -o json prints what a write left in the file (a failed
		// command's output and stderr too) and the status it recorded.
		KeepContent: opts.Output == "json",
		Detail:      opts.Output == "json",
	}, p)
	if err := p.Finish(); err != nil || failed > 0 {
		return errSomeFailed
	}
	return nil
}

// joinValue joins VALUE words with spaces and ends the line, as echo does.
func joinValue(words []string) []byte {
	return []byte(strings.Join(words, " ") + "\n")
}

func promptLine(ios *IOStreams, prompt string) (string, error) {
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return "", usageErr("--prompt needs a terminal: %v", err)
	}
	defer tty.Close()
	fmt.Fprint(tty, prompt)
	lines, err := readOneLine(tty)
	return lines, err
}

func readOneLine(r io.Reader) (string, error) {
	var b strings.Builder
	buf := make([]byte, 1)
	for {
		n, err := r.Read(buf)
		if n == 1 {
			if buf[0] == '\n' {
				return strings.TrimSpace(b.String()), nil
			}
			b.WriteByte(buf[0])
		}
		if err != nil {
			return strings.TrimSpace(b.String()), err
		}
	}
}
