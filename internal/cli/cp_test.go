package cli

import (
	"reflect"
	"testing"
)

// TestCpFlags checks that cp's flags land in CpOptions through the runF
// hook: a flag that is not wired fails here.
func TestCpFlags(t *testing.T) {
	ios, _, _ := Test("")
	g := &globalOptions{}
	for _, tc := range []struct {
		name string
		args []string
		want *CpOptions
	}{
		{"defaults", []string{"f", "/tmp/"}, &CpOptions{Args: []string{"f", "/tmp/"}}},
		{"to nodes", []string{"-w", "n[1,3]", "-w", "m1", "-g", "web", "-x", "n3", "-r", "-p", "-o", "json", "a", "b", "/tmp/"},
			&CpOptions{Args: []string{"a", "b", "/tmp/"}, Nodes: nodeFlags{nodes: []string{"n[1,3]", "m1"}, groups: []string{"web"}, exclude: []string{"n3"}},
				Recursive: true, Preserve: true, Output: "json"}},
		{"from nodes, long names", []string{"--from", "--nodes", "n1", "--group", "db", "--exclude", "n2", "--recursive", "--preserve", "--output", "json", "/etc/ssh", "out"},
			&CpOptions{Args: []string{"/etc/ssh", "out"}, Nodes: nodeFlags{nodes: []string{"n1"}, groups: []string{"db"}, exclude: []string{"n2"}},
				From: true, Recursive: true, Preserve: true, Output: "json"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got *CpOptions
			cmd := newCpCmd(ios, g, func(o *CpOptions) error { got = o; return nil })
			cmd.SetArgs(tc.args)
			if err := cmd.Execute(); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("options = %+v\nwant      %+v", got, tc.want)
			}
		})
	}
}

// TestCpUsage: cp with fewer than two operands, or a bad output format,
// is a usage error (exit 2).
func TestCpUsage(t *testing.T) {
	root := t.TempDir()
	for _, args := range [][]string{
		{"cp"},
		{"cp", "onlyone"},
		{"cp", "-o", "yaml", "a", "/tmp/"},
	} {
		code, _, errOut := run(t, append([]string{"--root", root}, args...)...)
		if code != ExitUsage {
			t.Errorf("smctl %v: exit %d, want %d (stderr %q)", args, code, ExitUsage, errOut)
		}
	}
}
