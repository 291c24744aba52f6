package cli

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/smctl/smctl/pkg/nodeset"
	"github.com/smctl/smctl/pkg/vtree/vfs"
)

// -w, -g and -x are repeatable, and a comma stays in its node set.
func TestNodeFlagsRegister(t *testing.T) {
	var f nodeFlags
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	f.register(fs)
	err := fs.Parse([]string{"-w", "n[1,3]", "--nodes=m1,m2", "-g", "web", "--group", "@db", "-x", "n3", "--exclude", "@old"})
	if err != nil {
		t.Fatal(err)
	}
	want := nodeFlags{nodes: []string{"n[1,3]", "m1,m2"}, groups: []string{"web", "@db"}, exclude: []string{"n3", "@old"}}
	if !slices.Equal(f.nodes, want.nodes) || !slices.Equal(f.groups, want.groups) || !slices.Equal(f.exclude, want.exclude) {
		t.Errorf("parsed %+v, want %+v", f, want)
	}
	// -g completes group names, on whatever command holds the flag.
	cmd := &cobra.Command{Use: "run"}
	var g nodeFlags
	g.register(cmd.Flags())
	if _, ok := cmd.GetFlagCompletionFunc("group"); !ok {
		t.Error("-g has no completion")
	}
}

// selectRoot is a state root with servers localhost, m01, m02, n1..n3 and
// groups.
func selectRoot(t *testing.T) string {
	t.Helper()
	root := newRoot(t, "server n[1-3] transport=local\nserver m[01-02] transport=local")
	for name, def := range map[string]string{
		"web":   "n[1-2]\n",
		"db":    "# databases\nm01\n",
		"both":  "@web\n@db\n",
		"ghost": "n9,m01\n",
		"loop":  "@loop\n",
	} {
		if code, _, e := runIn(t, root, "", "write", "/groups/"+name, def); code != 0 {
			t.Fatalf("write /groups/%s: %s", name, e)
		}
	}
	return root
}

func TestNodeFlagsDevices(t *testing.T) {
	root := selectRoot(t)
	tr, err := (&globalOptions{Root: root}).open()
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	s := func(names ...string) []string {
		var out []string
		for _, n := range names {
			out = append(out, "/systems/servers/"+n)
		}
		return out
	}
	for _, tc := range []struct {
		name    string
		f       nodeFlags
		want    []string
		missing []string
		err     string
		is      error
	}{
		{name: "every node", want: s("localhost", "m01", "m02", "n1", "n2", "n3")},
		{name: "-w range", f: nodeFlags{nodes: []string{"n[1-2]"}}, want: s("n1", "n2")},
		{name: "-w sorted as the tree", f: nodeFlags{nodes: []string{"n3,m01,n1"}}, want: s("m01", "n1", "n3")},
		{name: "-w repeated", f: nodeFlags{nodes: []string{"n1", "n1,n2"}}, want: s("n1", "n2")},
		{name: "-w missing", f: nodeFlags{nodes: []string{"n[2-5]"}}, want: s("n2", "n3"), missing: []string{"n4", "n5"}},
		{name: "-w @group", f: nodeFlags{nodes: []string{"@web,n3"}}, want: s("n1", "n2", "n3")},
		{name: "-g", f: nodeFlags{groups: []string{"web"}}, want: s("n1", "n2")},
		{name: "-g @name", f: nodeFlags{groups: []string{"@db"}}, want: s("m01")},
		{name: "-g nested", f: nodeFlags{groups: []string{"both"}}, want: s("m01", "n1", "n2")},
		{name: "-g and -w", f: nodeFlags{nodes: []string{"n3"}, groups: []string{"web", "both"}}, want: s("m01", "n1", "n2", "n3")},
		{name: "-g member missing", f: nodeFlags{groups: []string{"ghost"}}, want: s("m01"), missing: []string{"n9"}},
		{name: "-x alone", f: nodeFlags{exclude: []string{"n[1-2]"}}, want: s("localhost", "m01", "m02", "n3")},
		{name: "-x @group", f: nodeFlags{exclude: []string{"@both"}}, want: s("localhost", "m02", "n3")},
		{name: "-x of -w", f: nodeFlags{nodes: []string{"n[1-3]"}, exclude: []string{"n2", "zz"}}, want: s("n1", "n3")},
		{name: "-x a missing name", f: nodeFlags{nodes: []string{"n[3-4]"}, exclude: []string{"n4"}}, want: s("n3")},
		{name: "-x everything", f: nodeFlags{nodes: []string{"n1"}, exclude: []string{"n1"}}},
		{name: "unknown group", f: nodeFlags{groups: []string{"nope"}}, err: "no group nope: /groups/nope does not exist", is: vfs.ErrNoGroup},
		{name: "unknown group in -w", f: nodeFlags{nodes: []string{"n1,@nope"}}, err: "-w n1,@nope: no group nope: /groups/nope does not exist", is: vfs.ErrNoGroup},
		{name: "unknown group in -x", f: nodeFlags{exclude: []string{"@nope"}}, err: "-x @nope: no group nope", is: vfs.ErrNoGroup},
		{name: "cycle", f: nodeFlags{groups: []string{"loop"}}, err: "group cycle: @loop -> @loop", is: nodeset.ErrCycle},
		{name: "bad node set", f: nodeFlags{nodes: []string{"n[3-1]"}}, err: `-w n[3-1]: node set "n[3-1]": bad range "3-1": end before start`},
		{name: "bad group name", f: nodeFlags{groups: []string{"../x"}}, err: "bad group name", is: nodeset.ErrGroupName},
	} {
		t.Run(tc.name, func(t *testing.T) {
			devs, missing, err := tc.f.devices(context.Background(), tr)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("devices = %q, %q, %v; want error %q", devs, missing, err, tc.err)
				}
				if tc.is != nil && !errors.Is(err, tc.is) {
					t.Errorf("error %v is not %v", err, tc.is)
				}
				return
			}
			if err != nil || !slices.Equal(devs, tc.want) || !slices.Equal(missing, tc.missing) {
				t.Fatalf("devices = %q, missing %q, %v; want %q, missing %q", devs, missing, err, tc.want, tc.missing)
			}
		})
	}
}

// Only devices with a command file are nodes; in a root without a group
// web, -g web says which file it would be.
func TestNodeFlagsDevicesOnly(t *testing.T) {
	root := newRoot(t, "server n1 transport=local\nchassis 10.10.1.1 blades=127.0.0.1:[16231-16232]")
	if code, _, e := runIn(t, root, "", "write", "/discover_master", "remove server localhost"); code != 0 {
		t.Fatal(e)
	}
	tr, err := (&globalOptions{Root: root}).open()
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if _, err := tr.Stat(context.Background(), "/systems/chassis/10.10.1.1/blades/1"); err != nil {
		t.Fatalf("no blade to leave out: %v", err)
	}
	all, err := commandDevices(context.Background(), tr)
	if err != nil || !slices.Equal(all, []string{"/systems/servers/n1"}) {
		t.Errorf("command devices = %q, %v; want n1 alone (not the chassis, its blades, or the groups)", all, err)
	}
	devs, _, err := (&nodeFlags{groups: []string{"web"}}).devices(context.Background(), tr)
	if err == nil || err.Error() != "no group web: /groups/web does not exist" {
		t.Errorf("-g web without groups = %q, %v", devs, err)
	}
}

func TestCompareTreePaths(t *testing.T) {
	ps := []string{"/a-c", "/a/b", "/a", "/b", "/a/b/c", "/a0"}
	slices.SortFunc(ps, compareTreePaths)
	if want := []string{"/a", "/a/b", "/a/b/c", "/a-c", "/a0", "/b"}; !slices.Equal(ps, want) {
		t.Errorf("sorted %q, want %q", ps, want)
	}
}

// -g completes the group names of the state root --root names.
func TestCompleteGroups(t *testing.T) {
	root := selectRoot(t)
	cmd := &cobra.Command{Use: "run"}
	cmd.Flags().String("root", "", "")
	if err := cmd.Flags().Set("root", root); err != nil {
		t.Fatal(err)
	}
	cmd.SetContext(context.Background())
	got, dir := completeGroups(cmd, nil, "")
	if want := []string{"both", "db", "ghost", "loop", "web"}; !slices.Equal(got, want) || dir&cobra.ShellCompDirectiveError != 0 {
		t.Errorf("completeGroups = %q, %v; want %q", got, dir, want)
	}
	if got, _ := completeGroups(cmd, nil, "w"); !slices.Equal(got, []string{"web"}) {
		t.Errorf("completeGroups(w) = %q", got)
	}
}
