package cli

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"

	smctl "github.com/smctl/smctl"
	"github.com/smctl/smctl/pkg/discover"
	"github.com/smctl/smctl/pkg/stateroot"
	"github.com/smctl/smctl/pkg/vtree"
)

// Version is set at build time with -ldflags "-X .../internal/cli.Version=...".
var Version = ""

func version() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

func newVersionCmd(ios *IOStreams) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print smctl's version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			fmt.Fprintf(ios.Out, "smctl %s (%s, %s/%s)\n", version(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
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
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, err := g.rootDir()
			if err != nil {
				return err
			}
			err = stateroot.Init(cmd.Context(), dir, stateroot.Options{
				Agents:     smctl.Agents(),
				KeyFile:    os.Getenv("SMCTL_KEY_FILE"),
				Drivers:    g.drivers(),
				Extensions: []vtree.Extension{discover.New()},
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
		es, err := t.ReadDir(cmd.Context(), dir)
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
