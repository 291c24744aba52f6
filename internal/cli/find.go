package cli

import (
	"context"
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/smctl/smctl/pkg/vtree"
	"github.com/smctl/smctl/pkg/vtree/vfs"
)

// FindOptions are the expressions of smctl find.
type FindOptions struct {
	Paths    []string
	Names    []string // -name
	INames   []string // -iname
	PathPats []string // -path
	Type     string   // -type f|d
	MaxDepth int      // -maxdepth, -1 for none
	MinDepth int      // -mindepth

	// The tests compiled once (compile): a find matches every entry of
	// the walk against them.
	names, inames []func(string) bool
	paths         []*regexp.Regexp
}

const findUsage = "find [PATH...] [-name GLOB] [-iname GLOB] [-path GLOB] [-type f|d] [-maxdepth N] [-mindepth N]"

func newFindCmd(ios *IOStreams, g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   findUsage,
		Short: "Walk the tree and print matching paths, running no agents",
		Long: `Walk the tree below each PATH (default /, or the paths on standard input) and
print the paths that match every test, as find(1) does. Walking runs no agents
and does not enter live directories (proc, sys) unless a PATH is inside one.
The output is made for piping into smctl cat, grep and write.`,
		Example: `  smctl find /systems -name power | smctl grep -l on
  smctl find /systems/servers -name command | smctl write --stdin-paths vmstat`,
		DisableFlagParsing: true, // find's single-dash long tests
		ValidArgsFunction:  completePaths(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, a := range args {
				if a == "--help" || a == "-help" {
					return cmd.Help()
				}
			}
			// Global flags are ours to parse when flag parsing is off.
			args, err := parseGlobalFlags(g, args)
			if err != nil {
				return err
			}
			opts, err := parseFind(args)
			if err != nil {
				return err
			}
			return findRun(cmd.Context(), ios, g, opts)
		},
	}
	return cmd
}

// parseGlobalFlags takes the global flags (--root, --timeout, --fanout,
// --connect-timeout) out of args into g, as cobra would: find turns flag
// parsing off for its single-dash tests. The timeout matters to find: it
// bounds listing and stat of a live directory, which ask the node.
//
// The values are checked as cobra's are for the other verbs (g.check): an
// explicit --timeout 0 or --fanout 0 is refused, a flag not given keeps
// smctl.yaml's setting.
func parseGlobalFlags(g *globalOptions, args []string) ([]string, error) {
	var rest []string
	given := map[string]bool{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, val, hasVal := strings.Cut(a, "=")
		switch name {
		case "--root", "--timeout", "--fanout", "--connect-timeout":
		case "--no-serve": // find runs no command: nothing to send to serve
			continue
		default:
			rest = append(rest, a)
			continue
		}
		if !hasVal {
			if i+1 >= len(args) {
				return nil, usageErr("find: %s needs an argument", name)
			}
			i++
			val = args[i]
		}
		given[strings.TrimPrefix(name, "--")] = true
		switch name {
		case "--root":
			g.Root = val
		case "--timeout", "--connect-timeout":
			d, err := time.ParseDuration(val)
			if err != nil {
				return nil, usageErr("find: %s %s: want a duration such as 5s", name, val)
			}
			if name == "--timeout" {
				g.Timeout = d
			} else {
				g.ConnectTimeout = d
			}
		case "--fanout":
			// Find runs no agents and walks one directory at a time; the
			// fan-out is checked for uniformity with the other verbs.
			n, err := strconv.Atoi(val)
			if err != nil {
				return nil, usageErr("find: --fanout %s: want a number", val)
			}
			g.Fanout = n
		}
	}
	if err := g.check(func(name string) bool { return given[name] }, "find"); err != nil {
		return nil, err
	}
	return rest, nil
}

func parseFind(args []string) (*FindOptions, error) {
	o := &FindOptions{MaxDepth: -1}
	i := 0
	for ; i < len(args) && !strings.HasPrefix(args[i], "-"); i++ {
		o.Paths = append(o.Paths, args[i])
	}
	for ; i < len(args); i++ {
		test := args[i]
		if !strings.HasPrefix(test, "-") {
			return nil, usageErr("find: paths must come before tests: %q", test)
		}
		if i+1 >= len(args) {
			return nil, usageErr("find: %s needs an argument (usage: smctl %s)", test, findUsage)
		}
		i++
		v := args[i]
		switch test {
		case "-name":
			o.Names = append(o.Names, v)
		case "-iname":
			o.INames = append(o.INames, strings.ToLower(v))
		case "-path", "-wholename":
			o.PathPats = append(o.PathPats, v)
		case "-type":
			if v != "f" && v != "d" {
				return nil, usageErr("find: -type %s: want f or d", v)
			}
			o.Type = v
		case "-maxdepth", "-mindepth":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return nil, usageErr("find: %s %s: want a number >= 0", test, v)
			}
			if test == "-maxdepth" {
				o.MaxDepth = n
			} else {
				o.MinDepth = n
			}
		default:
			return nil, usageErr("find: unknown test %s (usage: smctl %s)", test, findUsage)
		}
	}
	if err := o.compile(); err != nil {
		return nil, err
	}
	return o, nil
}

// compile prepares the -name, -iname and -path tests: a pattern without
// metacharacters is compared as a string, -path's regular expression is
// built once.
func (o *FindOptions) compile() error {
	glob := func(pat string) (func(string) bool, error) {
		if _, err := path.Match(pat, ""); err != nil {
			return nil, usageErr("find: bad pattern %q", pat)
		}
		if !strings.ContainsAny(pat, `*?[\`) {
			return func(s string) bool { return s == pat }, nil
		}
		return func(s string) bool { ok, _ := path.Match(pat, s); return ok }, nil
	}
	o.names, o.inames, o.paths = nil, nil, nil
	for _, pat := range o.Names {
		m, err := glob(pat)
		if err != nil {
			return err
		}
		o.names = append(o.names, m)
	}
	for _, pat := range o.INames {
		m, err := glob(pat)
		if err != nil {
			return err
		}
		o.inames = append(o.inames, m)
	}
	for _, pat := range o.PathPats {
		if _, err := path.Match(pat, ""); err != nil {
			return usageErr("find: bad pattern %q", pat)
		}
		re, err := regexp.Compile(wholeGlobRegexp(pat))
		if err != nil {
			return usageErr("find: bad pattern %q: %v", pat, err)
		}
		o.paths = append(o.paths, re)
	}
	return nil
}

// match reports whether the entry at p, named base, passes the tests
// (compiled by compile).
func (o *FindOptions) match(p, base string, isDir bool, depth int) bool {
	if depth < o.MinDepth {
		return false
	}
	if o.Type == "f" && isDir || o.Type == "d" && !isDir {
		return false
	}
	for _, m := range o.names {
		if !m(base) {
			return false
		}
	}
	if len(o.inames) > 0 {
		lower := strings.ToLower(base)
		for _, m := range o.inames {
			if !m(lower) {
				return false
			}
		}
	}
	for _, re := range o.paths {
		if !re.MatchString(p) {
			return false
		}
	}
	return true
}

// wholeGlobRegexp translates a glob to an anchored regexp whose * and ?
// cross '/', as find -path does.
func wholeGlobRegexp(pat string) string {
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(pat); i++ {
		switch c := pat[i]; c {
		case '*':
			b.WriteString(".*")
		case '?':
			b.WriteString(".")
		case '\\':
			if i+1 < len(pat) {
				i++
			}
			b.WriteString(regexp.QuoteMeta(pat[i : i+1]))
		case '[':
			end := strings.IndexByte(pat[i+1:], ']')
			if end < 0 {
				b.WriteString(`\[`)
				continue
			}
			class := pat[i+1 : i+1+end]
			if strings.HasPrefix(class, "!") {
				class = "^" + class[1:]
			}
			b.WriteString("[" + class + "]")
			i += end + 1
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString("$")
	return b.String()
}

func findRun(ctx context.Context, ios *IOStreams, g *globalOptions, opts *FindOptions) error {
	t, err := g.open()
	if err != nil {
		return err
	}
	defer t.Close()
	starts := opts.Paths
	if len(starts) == 0 && !ios.InIsTerminal() {
		if starts, err = readLines(ios.In); err != nil {
			return err
		}
	}
	if len(starts) == 0 {
		starts = []string{"/"}
	}
	defer ios.BufferOut()()
	failed := 0
	for _, s := range starts {
		clean, err := vtree.Clean(s)
		if err != nil {
			ios.Errorf("%v", err)
			failed++
			continue
		}
		baseDepth := depthOf(clean)
		err = vfs.Walk(ctx, t, clean, vfs.WalkOptions{MaxDepth: opts.MaxDepth}, func(p string, e *vtree.Entry, err error) error {
			if err != nil {
				ios.Errorf("%v", err)
				failed++
				return nil
			}
			isDir, base := true, path.Base(p)
			if e != nil {
				isDir, base = e.IsDir(), e.Name()
			} else if info, err := t.Stat(ctx, p); err == nil {
				isDir = info.IsDir()
			}
			if opts.match(p, base, isDir, depthOf(p)-baseDepth) {
				fmt.Fprintln(ios.Out, p)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	if failed > 0 {
		return errSomeFailed
	}
	return nil
}

func depthOf(p string) int {
	if p == "/" {
		return 0
	}
	return strings.Count(p, "/")
}
