package cli

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/smctl/smctl/pkg/vtree"
	"github.com/smctl/smctl/pkg/vtree/vfs"
)

// Node selection for the verbs that act on nodes (run, cp), as
// ClusterShell's clush selects them: -w NODES (a node set such as
// n[001-100,150], @groups allowed), -g GROUP (the group's members) and
// -x NODES (taken out). A node is named by the base name of its device
// directory; the devices are those with a command file.

// commandFile is the file that makes a device one a command runs on.
const commandFile = "command"

// nodeFlags are the -w/-g/-x flags of run and cp.
type nodeFlags struct{ nodes, groups, exclude []string }

// register adds -w NODES (repeatable), -g GROUP (repeatable), -x NODES
// (repeatable) to fs. -g completes group names.
func (f *nodeFlags) register(fs *pflag.FlagSet) {
	// StringArray, not StringSlice: a comma belongs to the node set
	// (n[1,3]), it must not split the value.
	fs.StringArrayVarP(&f.nodes, "nodes", "w", nil, "nodes to act on: a node set such as n[001-100,150], @GROUP allowed (repeatable)")
	fs.StringArrayVarP(&f.groups, "group", "g", nil, "act on the members of the group /groups/GROUP (repeatable)")
	fs.StringArrayVarP(&f.exclude, "exclude", "x", nil, "nodes to leave out: a node set, @GROUP allowed (repeatable)")
	registerGroupCompletion(fs.Lookup("group"))
}

// registerGroupCompletion makes flag complete group names. Cobra keeps
// flag completions by flag, whichever command registered them: a command
// holding this flag alone registers it, so register needs no command.
func registerGroupCompletion(flag *pflag.Flag) {
	c := &cobra.Command{}
	c.Flags().AddFlag(flag)
	_ = c.RegisterFlagCompletionFunc(flag.Name, completeGroups)
}

// completeGroups lists the group names of the state root --root names.
func completeGroups(cmd *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	g := &globalOptions{}
	if fl := cmd.Flag("root"); fl != nil {
		g.Root = fl.Value.String()
	}
	t, err := g.open()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveError
	}
	defer t.Close()
	ctx, cancel := context.WithTimeout(cmd.Context(), completionBound)
	defer cancel()
	var out []string
	for _, n := range vfs.GroupNames(ctx, t) {
		if strings.HasPrefix(n, toComplete) {
			out = append(out, n)
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// devices resolves the selection to device directories (virtual paths such
// as /systems/servers/n001, sorted as the tree sorts, deduplicated) of
// devices that have a `command` file. Without -w/-g: every such device.
// missing lists the names given that name no device (the verb reports
// "NAME: no such node" and counts it failed); err is a usage/config error
// (bad node-set syntax, unknown group, group cycle, untrusted group file)
// that the verb turns into exit 2 with usageErr.
func (f *nodeFlags) devices(ctx context.Context, t Tree) (devs []string, missing []string, err error) {
	all, err := commandDevices(ctx, t)
	if err != nil {
		return nil, nil, err
	}
	byName := map[string][]string{}
	for _, d := range all {
		byName[path.Base(d)] = append(byName[path.Base(d)], d)
	}
	var names []string
	for _, s := range f.nodes {
		ns, err := vfs.ExpandNodes(ctx, t, s)
		if err != nil {
			return nil, nil, fmt.Errorf("-w %s: %w", s, err)
		}
		names = append(names, ns...)
	}
	for _, g := range f.groups {
		g = strings.TrimPrefix(g, "@")
		ns, err := vfs.ExpandNodes(ctx, t, "@"+g)
		if err != nil {
			return nil, nil, err
		}
		names = append(names, ns...)
	}
	excluded := map[string]bool{}
	for _, s := range f.exclude {
		ns, err := vfs.ExpandNodes(ctx, t, s)
		if err != nil {
			return nil, nil, fmt.Errorf("-x %s: %w", s, err)
		}
		for _, n := range ns {
			excluded[n] = true
		}
	}
	selected := map[string]bool{}
	if len(f.nodes) == 0 && len(f.groups) == 0 {
		for _, d := range all {
			selected[d] = true
		}
	}
	seenMissing := map[string]bool{}
	for _, n := range names {
		ds := byName[n]
		switch {
		case excluded[n]:
		case len(ds) == 0:
			if !seenMissing[n] {
				seenMissing[n] = true
				missing = append(missing, n)
			}
		case len(ds) > 1:
			return nil, nil, fmt.Errorf("node %s is ambiguous: %s are devices with a command file; name one by its path", n, strings.Join(ds, ", "))
		default:
			selected[ds[0]] = true
		}
	}
	for _, d := range all { // all is in tree order
		if selected[d] && !excluded[path.Base(d)] {
			devs = append(devs, d)
		}
	}
	return devs, missing, nil
}

// commandDevices returns the device directories of t that have a command
// file, sorted as the tree sorts (by path element). It runs no agents and
// does not enter live directories.
func commandDevices(ctx context.Context, t vfs.Tree) ([]string, error) {
	var devs []string
	err := vfs.Walk(ctx, t, "/", vfs.WalkOptions{MaxDepth: -1}, func(p string, e *vtree.Entry, err error) error {
		switch {
		case err != nil && p == "/":
			return err
		case err != nil:
			return nil // a directory that cannot be listed holds no device to select
		case e != nil && e.Name() == commandFile && !e.IsDir() && !e.Live():
			devs = append(devs, path.Dir(p))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	slices.SortFunc(devs, compareTreePaths)
	return slices.Compact(devs), nil
}

// compareTreePaths orders virtual paths as a walk of the tree visits them:
// element by element, so that /a/b comes before /a-c.
func compareTreePaths(a, b string) int {
	return slices.Compare(strings.Split(a, "/"), strings.Split(b, "/"))
}
