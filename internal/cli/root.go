// Package cli holds smctl's commands: thin cobra verbs that parse flags
// into an options struct and call the pkg/ libraries. Nothing here knows
// about agents, SSH or the backing tree beyond what those libraries offer.
package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/smctl/smctl/pkg/agent"
	"github.com/smctl/smctl/pkg/config"
	"github.com/smctl/smctl/pkg/discover"
	"github.com/smctl/smctl/pkg/driver"
	"github.com/smctl/smctl/pkg/driver/all"
	"github.com/smctl/smctl/pkg/ha"
	"github.com/smctl/smctl/pkg/serve"
	"github.com/smctl/smctl/pkg/status"
	"github.com/smctl/smctl/pkg/vtree"
	"github.com/smctl/smctl/pkg/vtree/vfs"
)

// Exit codes: the codes of package status smctl itself exits with.
const (
	ExitOK          = int(status.OK)
	ExitFailed      = int(status.Failed) // some targets failed
	ExitUsage       = int(status.Usage)  // usage or configuration error
	ExitInterrupted = int(status.Interrupted)
)

// exitError carries an exit code; its message, if any, is printed once.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return ""
	}
	return e.err.Error()
}
func (e *exitError) Unwrap() error { return e.err }

func usageErr(format string, args ...any) error {
	return &exitError{ExitUsage, fmt.Errorf(format, args...)}
}

// errSomeFailed is returned when some paths failed; each was reported.
var errSomeFailed = &exitError{code: ExitFailed}

// parseError is a command line cobra could not parse: an unknown verb or
// flag, a bad flag value, a wrong number of arguments. It is a usage error
// and is followed by the hint to run smctl --help.
type parseError struct{ err error }

func (e *parseError) Error() string { return e.err.Error() }
func (e *parseError) Unwrap() error { return e.err }

// usageArgs makes the argument validators (Args) of c and of the commands
// below it fail with a parseError. Commands without one are left so:
// cobra checks the root's verb only when the root has no Args (Find).
func usageArgs(c *cobra.Command) {
	if v := c.Args; v != nil {
		c.Args = func(cmd *cobra.Command, args []string) error {
			if err := v(cmd, args); err != nil {
				return &parseError{argsError(cmd, err)}
			}
			return nil
		}
	}
	for _, sub := range c.Commands() {
		usageArgs(sub)
	}
}

// argsError names the verb and its usage line in err, an error of cmd's
// argument validator ("requires at least 1 arg(s)" says neither), unless
// err already names the command (cobra.NoArgs's "unknown command "x" for
// "smctl version"").
func argsError(cmd *cobra.Command, err error) error {
	if strings.Contains(err.Error(), cmd.CommandPath()) {
		return err
	}
	return fmt.Errorf("%s: %w (usage: %s)", verbName(cmd), err, cmd.UseLine())
}

// verbName is c's command path less the root's name: "cat", "completion
// bash"; "" for the root itself. Errors are printed after "smctl: ", so
// they name the verb with this, not with the whole command path.
func verbName(c *cobra.Command) string {
	if !c.HasParent() {
		return ""
	}
	return strings.TrimPrefix(c.CommandPath(), c.Root().Name()+" ")
}

// flagError is cobra's error for a command line of c it could not parse
// (an unknown flag, a bad flag value): a parseError naming the verb once,
// as "smctl: cat: unknown flag: --bogus" (exitCode adds "smctl: "), with
// the verb's hint, if any, for how to say what was meant.
func flagError(c *cobra.Command, err error) error {
	if v := verbName(c); v != "" {
		err = fmt.Errorf("%s: %w", v, err)
	}
	if c.Name() == "write" {
		if h := writeFlagHint(c); h != "" {
			err = fmt.Errorf("%w %s", err, h)
		}
	}
	return &parseError{err}
}

// Main runs smctl with the process's arguments and streams and returns the
// exit code.
func Main() int {
	raiseFileLimit()
	// A fan-out allocates little that lives long: collect garbage less
	// often than Go's default (memory stays in tens of MB for 2000 nodes).
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	// $SMCTL_CPUPROFILE=FILE writes a CPU profile of this run (for
	// developers measuring large fan-outs; see bench/).
	if f := os.Getenv("SMCTL_CPUPROFILE"); f != "" {
		if out, err := os.Create(f); err == nil {
			if pprof.StartCPUProfile(out) == nil {
				defer func() { pprof.StopCPUProfile(); out.Close() }()
			}
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return Run(ctx, System(), os.Args[1:])
}

// Run runs smctl with args and returns the exit code.
func Run(ctx context.Context, ios *IOStreams, args []string) int {
	cmd := NewRootCmd(ios)
	cmd.SetArgs(args)
	ran, err := cmd.ExecuteContextC(ctx)
	var pe *parseError
	if err != nil && ran == cmd && !cmd.Runnable() && !errors.As(err, &pe) {
		// The root runs nothing and its flag errors are parseErrors: an
		// error of its own is cobra's for an unknown verb (Command.Find),
		// which has no type of its own to tell it by.
		err = &parseError{err}
	}
	return exitCode(ctx, ios, err)
}

func exitCode(ctx context.Context, ios *IOStreams, err error) int {
	var ee *exitError
	if errors.As(err, &ee) && ee.code == ExitOK && ee.err == nil {
		return ExitOK
	}
	if ctx.Err() != nil {
		fmt.Fprintln(ios.ErrOut, "smctl: interrupted")
		return ExitInterrupted
	}
	if err == nil {
		return ExitOK
	}
	var pe *parseError
	var ce *config.Error
	code := ExitFailed
	switch {
	case errors.As(err, &pe):
		code = ExitUsage
	case errors.As(err, &ee):
		code = ee.code
	case errors.As(err, &ce), errors.Is(err, vtree.ErrNoRoot), errors.Is(err, status.ErrUsage):
		code = ExitUsage
	}
	if msg := err.Error(); msg != "" {
		fmt.Fprintln(ios.ErrOut, "smctl: "+agent.Escape(msg))
		if pe != nil {
			fmt.Fprintln(ios.ErrOut, "Run 'smctl --help' for usage.")
		}
	}
	return code
}

// globalOptions are the flags every verb has.
type globalOptions struct {
	Root           string
	Timeout        time.Duration
	Fanout         int
	ConnectTimeout time.Duration
	NoServe        bool

	ios          *IOStreams
	warnedFanout bool           // the open-file limit's clamp was reported
	keep         *driver.Keeper // smctl serve's: what drivers keep across its trees
}

// NewRootCmd builds the smctl command tree over ios.
func NewRootCmd(ios *IOStreams) *cobra.Command {
	g := &globalOptions{ios: ios}
	root := &cobra.Command{
		Use:   "smctl",
		Short: "Manage a cluster as a file tree (Sysman without FUSE)",
		Long: `smctl manages a cluster as a tree of files, as Sysman did: every device is a
directory, every managed entity a file. Reading a file runs its read agent
(power, CPU load, boot order, temperature); writing runs its write agent
(power on, run a command, discover devices). The tree lives in a state root:
--root, else $SMCTL_ROOT, else $XDG_DATA_HOME/smctl (~/.local/share/smctl).`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&g.Root, "root", "", "state root (default $SMCTL_ROOT, else $XDG_DATA_HOME/smctl)")
	root.PersistentFlags().DurationVar(&g.Timeout, "timeout", 0, "bound on each agent run (default: timeout in smctl.yaml)")
	root.PersistentFlags().IntVar(&g.Fanout, "fanout", 0, "agents run at once (default: fanout in smctl.yaml)")
	root.PersistentFlags().DurationVar(&g.ConnectTimeout, "connect-timeout", 0, "bound on connecting to one node (default: ssh connect_timeout in smctl.yaml)")
	root.PersistentFlags().BoolVar(&g.NoServe, "no-serve", false, "run SSH commands without smctl serve's warm connections (also $SMCTL_NO_SERVE=1)")
	// --version prints what smctl version prints (cobra prints the
	// template). Declared here so that cobra does not declare its own,
	// which would also take -v.
	root.Flags().Bool("version", false, "print smctl's version (as smctl version does)")
	root.Version = versionLine()
	root.SetVersionTemplate("{{.Version}}\n")
	root.PersistentPreRunE = func(c *cobra.Command, args []string) error {
		return g.check(c.Flags().Changed, verbName(c))
	}
	root.SetFlagErrorFunc(flagError)
	root.SetOut(ios.Out)
	root.SetErr(ios.ErrOut)
	root.AddCommand(
		newInitCmd(ios, g),
		newLsCmd(ios, g, nil),
		newCatCmd(ios, g, nil),
		newGrepCmd(ios, g, nil),
		newWriteCmd(ios, g, nil),
		newRunCmd(ios, g, nil),
		newFindCmd(ios, g),
		newDelegateCmd(ios, g),
		newDoctorCmd(ios, g, nil),
		newVersionCmd(ios),
		newDemoCmd(ios, g),
		newSimCmd(ios, g),
		newCpCmd(ios, g, nil),
		newServeCmd(ios, g),
		newWatchCmd(ios, g),
	)
	// cobra adds its completion verbs when it runs (help has no Args);
	// added now, so that theirs are wrapped too.
	root.InitDefaultCompletionCmd()
	withBashShim(root)
	usageArgs(root)
	return root
}

// bashShim stands in for the two functions of the bash-completion package
// that cobra's bash script calls, when that package is not installed, so
// that `source <(smctl completion bash)` works in a plain bash. Words are
// split on blanks only (a path may hold ':' or '='), and a completion of a
// word holding ':' is trimmed as bash-completion trims it.
const bashShim = `# smctl: without the bash-completion package, minimal stand-ins.
if ! declare -F _get_comp_words_by_ref >/dev/null 2>&1; then
_get_comp_words_by_ref() {
	local line="${COMP_LINE:0:COMP_POINT}"
	read -r -a words <<< "$line"
	[[ -z "$line" || "$line" =~ [[:space:]]$ ]] && words+=("")
	cword=$(( ${#words[@]} - 1 ))
	cur="${words[cword]}"
	prev="${words[cword-1]}"
}
fi
if ! declare -F __ltrim_colon_completions >/dev/null 2>&1; then
__ltrim_colon_completions() {
	if [[ "$1" == *:* && "$COMP_WORDBREAKS" == *:* ]]; then
		local colon_word=${1%"${1##*:}"}
		local i=${#COMPREPLY[*]}
		while [[ $((--i)) -ge 0 ]]; do
			COMPREPLY[$i]=${COMPREPLY[$i]#"$colon_word"}
		done
	fi
}
fi
`

// bashBaseNames follows cobra's script: it completes with cobra's
// function, and when the completions are paths it sets compopt -o
// filenames, so that readline lists them by their base names, as bash
// lists files (n1/ n2/, not /systems/servers/n1/ ...), while what it
// inserts stays the whole path. Readline then quotes what it inserts
// itself: the one completion that cobra quoted (printf %q) is unquoted
// first, or "my file" would be inserted as my\\\ file. %[1]s is the
// command's name.
const bashBaseNames = `# smctl: paths are listed by their base names, as bash lists files.
__%[1]s_start_paths() {
	__start_%[1]s "$@"
	local rc=$? c
	for c in "${COMPREPLY[@]}"; do
		if [[ $c == */* ]]; then
			compopt -o filenames 2>/dev/null
			if ((${#COMPREPLY[@]} == 1)); then
				IFS= read -d '' c <<<"${COMPREPLY[0]}"
				COMPREPLY[0]=${c%%$'\n'}
			fi
			break
		fi
	done
	return $rc
}
if [[ $(type -t compopt) = "builtin" ]]; then
	complete -o default -F __%[1]s_start_paths %[1]s
else
	complete -o default -o nospace -F __%[1]s_start_paths %[1]s
fi
`

// withBashShim makes `completion bash` print bashShim before cobra's
// script, and bashBaseNames after it.
func withBashShim(root *cobra.Command) {
	c, _, err := root.Find([]string{"completion", "bash"})
	if err != nil || c.Name() != "bash" {
		return
	}
	run, runE := c.Run, c.RunE
	c.Run = nil
	c.RunE = func(cmd *cobra.Command, args []string) error {
		fmt.Fprint(cmd.OutOrStdout(), bashShim)
		if runE != nil {
			if err := runE(cmd, args); err != nil {
				return err
			}
		} else {
			run(cmd, args)
		}
		fmt.Fprintf(cmd.OutOrStdout(), bashBaseNames, root.Name())
		return nil
	}
}

// check refuses values of the global flags given (changed reports which)
// that would mean no bound or no work: --timeout or --connect-timeout 0 or
// negative, --fanout below 1. A flag not given keeps its zero, which means
// smctl.yaml's setting. verb, when not empty, heads the error. Both ways
// of parsing the global flags come here: cobra's (PersistentPreRunE) and
// find's own (parseGlobalFlags).
func (g *globalOptions) check(changed func(name string) bool, verb string) error {
	var msg string
	switch {
	case changed("timeout") && g.Timeout <= 0:
		msg = fmt.Sprintf("--timeout %s: want a positive duration; the default is smctl.yaml's timeout", durationArg(g.Timeout))
	case changed("connect-timeout") && g.ConnectTimeout <= 0:
		msg = fmt.Sprintf("--connect-timeout %s: want a positive duration; the default is smctl.yaml's ssh connect_timeout", durationArg(g.ConnectTimeout))
	case changed("fanout") && g.Fanout < 1:
		msg = fmt.Sprintf("--fanout %d: want at least 1; the default is smctl.yaml's fanout", g.Fanout)
	default:
		return nil
	}
	if verb != "" {
		msg = verb + ": " + msg
	}
	return usageErr("%s", msg)
}

// durationArg prints d as a command line would give it: 0, not 0s.
func durationArg(d time.Duration) string {
	if d == 0 {
		return "0"
	}
	return d.String()
}

// rootDir resolves the state root.
func (g *globalOptions) rootDir() (string, error) {
	if g.Root != "" {
		return filepath.Abs(g.Root)
	}
	if r := os.Getenv("SMCTL_ROOT"); r != "" {
		return filepath.Abs(r)
	}
	if x := os.Getenv("XDG_DATA_HOME"); x != "" {
		return filepath.Join(x, "smctl"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", usageErr("no state root: set --root or $SMCTL_ROOT (%v)", err)
	}
	return filepath.Join(home, ".local", "share", "smctl"), nil
}

// open opens the tree of the state root with every driver and discovery,
// for the verbs that go through the Tree interface.
func (g *globalOptions) open() (Tree, error) {
	t, _, err := g.openDiscovery()
	if err != nil {
		return nil, err
	}
	return t, nil
}

// openDiscovery is open, also returning the tree's discovery.
func (g *globalOptions) openDiscovery() (*vtree.Tree, *discover.Discovery, error) {
	return g.openWarm(nil)
}

// openWarm is openDiscovery with warm as the drivers' warm connections
// (smctl serve's own, for its periodic refresh); nil: serve's socket's, if
// it runs.
func (g *globalOptions) openWarm(warm any) (*vtree.Tree, *discover.Discovery, error) {
	return g.openWith(warm, discover.New())
}

// openWith is openWarm with d as the tree's discovery (smctl serve keeps
// one between its automatic discoveries) and the extensions exts (high
// availability's section: a new one unless given, for smctl.yaml's ha:).
func (g *globalOptions) openWith(warm any, d *discover.Discovery, exts ...vtree.Extension) (*vtree.Tree, *discover.Discovery, error) {
	if !slices.ContainsFunc(exts, func(e vtree.Extension) bool { _, ok := e.(*ha.Extension); return ok }) {
		exts = append(exts, ha.NewExtension())
	}
	dir, err := g.rootDir()
	if err != nil {
		return nil, nil, err
	}
	drivers := g.drivers(dir)
	if warm != nil {
		drivers = all.Registry().New(driver.Env{ConnectTimeout: g.ConnectTimeout, Warm: warm, Keep: g.keep, Root: dir})
	}
	self, _ := selfPath()
	t, err := vtree.Open(dir, vtree.Options{
		Self:       self,
		KeyFile:    os.Getenv("SMCTL_KEY_FILE"),
		Timeout:    g.Timeout,
		Drivers:    drivers,
		Extensions: append([]vtree.Extension{d}, exts...),
	})
	if err != nil {
		return nil, nil, &exitError{ExitUsage, err}
	}
	return t, d, nil
}

// drivers makes smctl's drivers with the settings of this invocation. dir
// is the state root: when smctl serve runs there (and neither --no-serve
// nor $SMCTL_NO_SERVE=1 says otherwise), SSH commands run over its warm
// connections.
func (g *globalOptions) drivers(dir string) *driver.Set {
	env := driver.Env{ConnectTimeout: g.ConnectTimeout, Root: dir}
	if c := g.serveClient(dir); c != nil {
		env.Warm = c
	}
	return all.Registry().New(env)
}

// serveClient is the client of the serve running on dir, nil if none (or
// not to be used).
func (g *globalOptions) serveClient(dir string) *serve.Client {
	if dir == "" || g.NoServe || os.Getenv("SMCTL_NO_SERVE") == "1" {
		return nil
	}
	c := serve.Available(dir)
	if c != nil && g.ios != nil {
		c.Notice = func(msg string) { g.ios.Errorf("%s", msg) }
	}
	return c
}

// fanout is how many agents run at once: --fanout, else smctl.yaml's
// fanout, clamped to what the open-file limit allows (see maxFanout). It
// says nothing when it clamps; fanoutWarn does.
func (g *globalOptions) fanout(t Tree) int {
	n, _, _ := g.width(t)
	return n
}

// fanoutWarn is fanout, warning once on ErrOut when the open-file limit
// clamps it.
func (g *globalOptions) fanoutWarn(ios *IOStreams, t Tree) int {
	n, want, limit := g.width(t)
	if n < want && !g.warnedFanout {
		g.warnedFanout = true
		ios.Errorf("fan-out %d clamped to %d by the open-file limit (ulimit -n %d)", want, n, limit)
	}
	return n
}

// width returns the fan-out n, the one asked for and the open-file limit.
func (g *globalOptions) width(t Tree) (n, want int, limit uint64) {
	want = g.Fanout
	if want <= 0 {
		want = t.Fanout()
	}
	limit = fileLimit()
	return min(want, maxFanout(limit)), want, limit
}

// Descriptors a fan-out may use: each node in flight holds about two, its
// SSH connection (or the pipes of a local command) and the tree file its
// result is stored through; fdReserve are kept for the rest of the
// process: the SSH pool's idle connections (64), standard streams, the
// tree's directories and lock files, the ssh-agent socket, a spill file.
const (
	fdPerNode = 2
	fdReserve = 128
)

// maxFanout is the widest fan-out an open-file limit allows,
// (limit - fdReserve) / fdPerNode, and at least 1.
func maxFanout(limit uint64) int {
	if limit <= fdReserve+fdPerNode {
		return 1
	}
	n := (limit - fdReserve) / fdPerNode
	if n > math.MaxInt32 {
		return math.MaxInt32
	}
	return int(n)
}

// fileLimit is the soft RLIMIT_NOFILE, already raised to the hard one by
// raiseFileLimit; a variable for tests.
var fileLimit = func() uint64 {
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) != nil {
		return math.MaxInt32 // unknown: do not clamp
	}
	return l.Cur
}

// selfPath is the smctl binary as invoked, for script agents to call back.
func selfPath() (string, error) {
	a := os.Args[0]
	if strings.Contains(a, "/") {
		return filepath.Abs(a)
	}
	if p, err := execLookPath(a); err == nil {
		return filepath.Abs(p)
	}
	return os.Executable()
}

// readLines reads non-empty lines from r.
func readLines(r io.Reader) ([]string, error) {
	var out []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			out = append(out, l)
		}
	}
	return out, sc.Err()
}

// pathArgs returns the paths a verb works on: args, else lines of standard
// input when it is not a terminal.
func pathArgs(ios *IOStreams, args []string) ([]string, error) {
	if len(args) > 0 {
		return args, nil
	}
	if ios.InIsTerminal() {
		return nil, nil
	}
	return readLines(ios.In)
}

// expand expands the patterns in paths (vfs.Expand: node-set ranges such
// as n[001-005], @groups in a device's place, globs); a part of a pattern
// that names nothing (a glob matching nothing, a bad node set, a missing
// group) is reported on ErrOut and counted as a failure. A path a node
// set names that does not exist is kept: its operation reports it.
func expand(ctx context.Context, ios *IOStreams, t vfs.Tree, paths []string) ([]string, int) {
	var out []string
	failed := 0
	for _, p := range paths {
		if !vfs.HasPattern(p) {
			out = append(out, p)
			continue
		}
		ms, errs := vfs.Expand(ctx, t, p)
		for _, err := range errs {
			ios.Errorf("%v", err)
			failed++
		}
		out = append(out, ms...)
	}
	return out, failed
}

// raiseFileLimit lifts the soft limit on open files to the hard one: one
// connection per node of a large fan-out needs one descriptor each. What
// remains bounds the fan-out (maxFanout).
func raiseFileLimit() {
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) == nil && l.Cur < l.Max {
		l.Cur = l.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	}
}
