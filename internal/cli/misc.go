package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/spf13/cobra"

	smctl "github.com/smctl/smctl"
	"github.com/smctl/smctl/pkg/discover"
	"github.com/smctl/smctl/pkg/ha"
	"github.com/smctl/smctl/pkg/stateroot"
	"github.com/smctl/smctl/pkg/vtree"
)

// Version is set at build time with -ldflags "-X .../internal/cli.Version=...".
var Version = ""

// readBuildInfo is debug.ReadBuildInfo; a variable for tests.
var readBuildInfo = debug.ReadBuildInfo

// versionLine is what smctl version and smctl --version print (without the
// newline): "smctl VERSION (GO, OS/ARCH; VCS)", as formatVersion makes it
// from this binary's build information.
func versionLine() string {
	bi, ok := readBuildInfo()
	if !ok {
		bi = nil
	}
	return formatVersion(Version, bi, runtime.Version(), runtime.GOOS+"/"+runtime.GOARCH)
}

// formatVersion makes smctl's version line. VERSION is ldVersion (set
// with -ldflags), else the main module's version (a tag, or a
// pseudo-version go build derives from the commit), else "devel". VCS is
// what go build stamped from version control (-buildvcs): the revision
// (12 digits), its time and "modified" when the work tree had changes; or
// "no VCS information" when it stamped nothing (go run, go test, a build
// outside a repository or with -buildvcs=false), so that "devel" alone
// never leaves the build unidentified (a version with no VCS information,
// as go install ...@v1.2.0 builds, says nothing of it). The line starts "smctl VERSION
// (GO", one word for VERSION, for scripts that read it.
func formatVersion(ldVersion string, bi *debug.BuildInfo, goVersion, platform string) string {
	v := ldVersion
	var vcs []string
	if bi != nil {
		if v == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
		var rev, at string
		modified := false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.time":
				at = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		if rev != "" {
			if len(rev) > 12 {
				rev = rev[:12]
			}
			vcs = append(vcs, "revision "+rev)
			if at != "" {
				vcs = append(vcs, at)
			}
			if modified {
				vcs = append(vcs, "modified")
			}
		}
	}
	if v == "" {
		v = "devel"
	}
	switch {
	case len(vcs) > 0:
		return fmt.Sprintf("smctl %s (%s, %s; %s)", v, goVersion, platform, strings.Join(vcs, ", "))
	case v == "devel":
		return fmt.Sprintf("smctl devel (%s, %s; no VCS information)", goVersion, platform)
	default: // a version alone identifies a build: go install ...@v1.2.0
		return fmt.Sprintf("smctl %s (%s, %s)", v, goVersion, platform)
	}
}

func newVersionCmd(ios *IOStreams) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print smctl's version (also smctl --version)",
		Long: `Print one line: "smctl VERSION (GO, OS/ARCH; VCS)". VERSION is the module
version go build or go install recorded (a tag such as v1.2.0, or a
pseudo-version derived from the commit), else "devel". VCS is the commit
the binary was built from, as go build stamps it from the work tree: its
revision (12 digits), its time, and "modified" when the tree had changes;
or "no VCS information" for a build that has none (go run, -buildvcs=false),
so that a build never goes unidentified. The first two words are stable,
for scripts.`,
		Example: `  smctl version
  smctl --version | cut -d' ' -f2     # the version alone`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			fmt.Fprintln(ios.Out, versionLine())
			return nil
		},
	}
}

func newInitCmd(ios *IOStreams, g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "init",
		Short: "Create a state root: smctl.yaml, the backing tree, agents, key",
		Long: `Create the state root (--root, else $SMCTL_ROOT, else $XDG_DATA_HOME/smctl):
smctl.yaml, the backing tree with /discover_master and the localhost server,
the default agents in agents.d, and the key that encrypts ids files
($SMCTL_KEY_FILE, else key in the root). An existing root is left as it is.`,
		Example: `  smctl init                              # ~/.local/share/smctl
  smctl --root /srv/smctl init            # a root of its own, e.g. for a team
  SMCTL_ROOT=/tmp/lab smctl init && SMCTL_ROOT=/tmp/lab smctl doctor`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, err := g.rootDir()
			if err != nil {
				return err
			}
			err = stateroot.Init(cmd.Context(), dir, stateroot.Options{
				Agents:     smctl.Agents(),
				KeyFile:    os.Getenv("SMCTL_KEY_FILE"),
				Drivers:    g.drivers(""),
				Extensions: []vtree.Extension{discover.New(), ha.NewExtension()},
				// The built-in localhost server, reached with no SSH.
				Discover: "server localhost transport=local\n",
			})
			if errors.Is(err, stateroot.ErrInitialized) {
				fmt.Fprintf(ios.ErrOut, "smctl: %s is already a state root; nothing changed\n", dir)
				return nil
			}
			if err != nil {
				return &exitError{ExitFailed, fmt.Errorf("init %s: %w", dir, err)}
			}
			fmt.Fprintf(ios.Out, "initialised smctl state root %s\n", dir)
			return nil
		},
	}
}

// completionBound bounds one completion: what the tree cannot list by then
// (a node that does not answer) completes to nothing.
const completionBound = time.Second

// completePaths completes tree paths: a tab on /systems/servers/ lists the
// servers. Directories get a trailing slash and no space.
func completePaths(g *globalOptions) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		t, err := g.open()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveError
		}
		defer t.Close()
		if toComplete == "" {
			toComplete = "/"
		}
		dir, prefix := "/", toComplete
		if i := strings.LastIndexByte(toComplete, '/'); i >= 0 {
			dir, prefix = toComplete[:i+1], toComplete[i+1:]
		}
		// A Tab must not freeze the shell: listing a live directory asks
		// the node, which may hang until the agent timeout.
		ctx, cancel := context.WithTimeout(cmd.Context(), completionBound)
		defer cancel()
		es, err := t.ReadDir(ctx, dir)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveError
		}
		var out []string
		for _, e := range es {
			if !strings.HasPrefix(e.Name(), prefix) {
				continue
			}
			c := dir + e.Name()
			if e.IsDir() {
				c += "/"
			}
			out = append(out, c)
		}
		return out, cobra.ShellCompDirectiveNoSpace | cobra.ShellCompDirectiveNoFileComp
	}
}
