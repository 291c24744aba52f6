package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"sync"

	"github.com/spf13/cobra"

	"github.com/smctl/smctl/pkg/ops"
	"github.com/smctl/smctl/pkg/status"
	"github.com/smctl/smctl/pkg/transport"
	"github.com/smctl/smctl/pkg/vtree"
)

// RunOptions are the flags of smctl run.
type RunOptions struct {
	Nodes    nodeFlags
	Gather   bool // -b
	Diff     bool // --diff
	Pty      bool // -t
	Stdin    bool // --stdin
	Password bool // --password
	Output   string
	Only     string   // --only failed|ok
	Args     []string // the command's words
}

// maxRunStdin bounds what --stdin reads to send to every command.
const maxRunStdin = 64 << 20

// newRunCmd builds smctl run; runF, when not nil, receives the parsed
// options instead of runRun (for tests of flag parsing).
func newRunCmd(ios *IOStreams, g *globalOptions, runF func(*RunOptions) error) *cobra.Command {
	opts := &RunOptions{}
	cmd := &cobra.Command{
		Use:   "run [-w NODES]... [-g GROUP]... [-x NODES]... [-b | --diff] [-t] [--stdin] [--password] [--] CMD...",
		Short: "Run a command on many nodes and show its output",
		Long: `Run CMD (its words joined by spaces) through the shell of every selected node,
by writing it to each node's command file: the output, status and stderr are
stored there exactly as "smctl write NODE/command CMD" stores them, so
"smctl cat", "--only failed" and -b work on them afterwards.

Without -w or -g, every device with a command file is selected. NODES is a
node set (n[001-100,150], comma lists) or @GROUP, a group of /groups; -x
leaves nodes out. Output streams as it arrives, each line prefixed with its
node ("n001: ..."; stderr lines on stderr); -b instead gathers identical
outputs once under their folded node set, with failed runs in groups of
their own headed by the exit code; --diff prints a unified diff of each
distinct output against the most common one.

--stdin sends smctl's standard input to every command; --password asks once,
without echo, for a password and writes it (then a newline) to every
command's standard input, for "sudo -S", and never stores it. -t asks for a
pseudo-terminal (over ssh only).

The run ends with the folded summary on stderr; the exit status is 0 when
every node succeeded, 1 when some failed, 2 on a usage error. Flags end at
the first word of CMD, so "smctl run -w n1 uname -a" runs "uname -a".`,
		Example: `  smctl run uptime
  smctl run -w 'n[001-010]' -x n005 -b -- cat /etc/os-release
  smctl run -g web --diff 'md5sum /etc/nginx/nginx.conf'
  smctl run -w n001 --password -- sudo -S systemctl restart nginx
  smctl run --only failed 'df -h /'`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Args = args
			if runF != nil {
				return runF(opts)
			}
			return runRun(cmd.Context(), ios, g, opts)
		},
	}
	f := cmd.Flags()
	f.SetInterspersed(false) // flags stop at the command's first word
	opts.Nodes.register(f)
	f.BoolVarP(&opts.Gather, "gather", "b", false, "gather identical outputs under their folded node set (failed runs apart, with their exit code)")
	f.BoolVar(&opts.Diff, "diff", false, "print a unified diff of each distinct output against the most common one")
	f.BoolVarP(&opts.Pty, "tty", "t", false, "give each command a pseudo-terminal (ssh only; stderr merges into stdout)")
	f.BoolVar(&opts.Stdin, "stdin", false, "send standard input to every command")
	f.BoolVar(&opts.Password, "password", false, "ask once for a password and write it to every command's standard input (sudo -S)")
	f.StringVarP(&opts.Output, "output", "o", "", "output format: json (one JSON object per node, with stdout, stderr and status)")
	f.StringVar(&opts.Only, "only", "", "only the selected nodes whose last command was: failed or ok (re-run where it failed)")
	return cmd
}

func runRun(ctx context.Context, ios *IOStreams, g *globalOptions, opts *RunOptions) error {
	if err := checkOutput(opts.Output); err != nil {
		return err
	}
	if err := ops.CheckOnly(opts.Only); err != nil {
		return usageErr("run: %v", err)
	}
	switch {
	case len(opts.Args) == 0:
		return usageErr("run: no command (smctl run [-w NODES] CMD...)")
	case opts.Diff && opts.Gather:
		return usageErr("run: -b and --diff do not go together")
	case opts.Diff && opts.Output != "":
		return usageErr("run: --diff and -o json do not go together")
	}
	var stdin []byte
	if opts.Password {
		pw, err := promptPassword(ios, "Password: ")
		if err != nil {
			return err
		}
		stdin = append(pw, '\n')
	}
	if opts.Stdin {
		b, err := io.ReadAll(io.LimitReader(ios.In, maxRunStdin+1))
		if err != nil {
			return fmt.Errorf("run: reading standard input: %w", err)
		}
		if len(b) > maxRunStdin {
			return usageErr("run --stdin: standard input is larger than %d MiB", maxRunStdin>>20)
		}
		stdin = append(stdin, b...)
	}
	t, err := g.open()
	if err != nil {
		return err
	}
	defer t.Close()
	devs, missing, err := opts.Nodes.devices(ctx, t)
	if err != nil {
		return usageErr("run: %v", err)
	}
	if len(devs) == 0 && len(missing) == 0 {
		return usageErr("run: no nodes selected")
	}
	paths := make([]string, len(devs))
	for i, d := range devs {
		paths[i] = d + "/" + commandFile
	}
	if paths, err = ops.Only(ctx, t, paths, opts.Only); err != nil {
		return err
	}
	if len(paths) == 0 && len(missing) == 0 {
		ios.Errorf("run: no node's last command %s", map[string]string{"failed": "failed", "ok": "succeeded"}[opts.Only])
		return nil
	}
	devs = devs[:0]
	for _, p := range paths {
		devs = append(devs, path.Dir(p))
	}
	labels := map[string]string{}
	for i, l := range ops.Labels(paths) {
		labels[devs[i]] = l
	}
	var p printer
	var streams *nodeStreams
	switch {
	case opts.Output == "json":
		p = jsonPrinter{w: ios.Out}
	case opts.Gather:
		p = &gatherPrinter{ios: ios, verb: "run"}
	case opts.Diff:
		p = &diffPrinter{gatherPrinter: gatherPrinter{ios: ios, verb: "run"}}
	default:
		streams = &nodeStreams{ios: ios, labels: labels, open: map[string]*lineWriter{}}
		p = &runPrinter{ios: ios, streams: streams, summary: len(devs)+len(missing) > 1}
	}
	ctx = transport.WithStreams(ctx, func(dev string) transport.Stream {
		s := transport.Stream{Stdin: stdin, Pty: opts.Pty}
		if streams != nil {
			s.Stdout, s.Stderr = streams.writers(dev)
		}
		return s
	})
	failed := len(missing)
	for _, n := range missing {
		ios.Errorf("%s: no such node", n)
		if rp, ok := p.(interface{ missing(string) }); ok {
			rp.missing(n)
		}
	}
	failed += runOps(ctx, ios, t, "run", ops.Write, paths, ops.Options{
		Width:       g.fanoutWarn(ios, t),
		Value:       joinValue(opts.Args),
		KeepContent: streams == nil,
		Detail:      opts.Output == "json",
	}, p)
	if err := p.Finish(); err != nil || failed > 0 {
		return errSomeFailed
	}
	return nil
}

// nodeStreams gives each node's command writers that print its output as
// it arrives, line by line, prefixed with the node's name: stdout lines
// on stdout, stderr lines on stderr, as clush and pdsh do.
type nodeStreams struct {
	ios    *IOStreams
	labels map[string]string // device path -> node name
	mu     sync.Mutex        // one line at a time on the terminal
	wmu    sync.Mutex        // open
	open   map[string]*lineWriter
}

func (s *nodeStreams) writers(dev string) (stdout, stderr io.Writer) {
	label := s.labels[dev]
	if label == "" {
		label = path.Base(dev)
	}
	out := &lineWriter{s: s, w: s.ios.Out, prefix: label + ": "}
	errw := &lineWriter{s: s, w: s.ios.ErrOut, prefix: label + ": "}
	s.wmu.Lock()
	s.open[dev+"\x00out"], s.open[dev+"\x00err"] = out, errw
	s.wmu.Unlock()
	return out, errw
}

// flush prints what is left of dev's lines (a last line without a
// newline) once its command has ended.
func (s *nodeStreams) flush(dev string) {
	s.wmu.Lock()
	ws := []*lineWriter{s.open[dev+"\x00out"], s.open[dev+"\x00err"]}
	delete(s.open, dev+"\x00out")
	delete(s.open, dev+"\x00err")
	s.wmu.Unlock()
	for _, w := range ws {
		if w != nil {
			w.flush()
		}
	}
}

// lineWriter prefixes every complete line written to it; a partial line
// waits for its end (or flush).
type lineWriter struct {
	s      *nodeStreams
	w      io.Writer
	prefix string
	mu     sync.Mutex
	buf    []byte
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	i := bytes.LastIndexByte(l.buf, '\n')
	if i < 0 {
		return len(p), nil
	}
	var out []byte
	for _, line := range bytes.SplitAfter(l.buf[:i+1], []byte("\n")) {
		if len(line) > 0 {
			out = append(append(out, l.prefix...), line...)
		}
	}
	l.buf = append(l.buf[:0], l.buf[i+1:]...)
	l.s.mu.Lock()
	l.w.Write(out)
	l.s.mu.Unlock()
	return len(p), nil
}

func (l *lineWriter) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buf) == 0 {
		return
	}
	out := append(append([]byte(l.prefix), l.buf...), '\n')
	l.buf = nil
	l.s.mu.Lock()
	l.w.Write(out)
	l.s.mu.Unlock()
}

// runPrinter is run's streaming output: the lines went out as they came
// (nodeStreams); each node's failure is one line on stderr, and the run
// ends with the folded summary.
type runPrinter struct {
	ios     *IOStreams
	streams *nodeStreams
	summary bool
	tally   ops.Tally
}

func (p *runPrinter) missing(name string) { p.tally.Add(status.ClassFailed, name) }

func (p *runPrinter) Print(o ops.Outcome) {
	p.streams.flush(path.Dir(o.Path))
	p.tally.Add(o.Class, o.Label)
	if o.Err != nil {
		p.ios.Errorf("%s: %s", o.Label, runFailure(o.Err))
	}
}

// runFailure says why a node's run failed in the words of its status:
// "exited with exit code 3" for a command that did, else the code and
// the status's message.
func runFailure(err error) string {
	var ae *vtree.AgentError
	if errors.As(err, &ae) {
		if ae.Msg == "" || ae.Msg == fmt.Sprintf("exit status %d", ae.RC) {
			return fmt.Sprintf("exited with exit code %d", ae.RC)
		}
		return fmt.Sprintf("exit %d: %s", ae.RC, ae.Msg)
	}
	return err.Error()
}

func (p *runPrinter) Finish() error {
	if p.summary || p.tally.Failed() {
		p.ios.Errorf("run: %s", &p.tally)
	}
	return nil
}
