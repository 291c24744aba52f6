package cli

import (
	"errors"
	"io/fs"
	"os/user"
	"slices"
	"strings"
	"testing"

	"github.com/smctl/smctl/pkg/delegate"
)

// TestDelegateFlags checks that every flag and argument reaches
// DelegateOptions, through the runF hook.
func TestDelegateFlags(t *testing.T) {
	tests := []struct {
		args []string
		want DelegateOptions
		err  string
	}{
		{args: []string{"ops", "/systems/servers/a"}, want: DelegateOptions{Group: "ops", Paths: []string{"/systems/servers/a"}}},
		{args: []string{"--revoke", "ops", "/a", "/b"}, want: DelegateOptions{Group: "ops", Paths: []string{"/a", "/b"}, Revoke: true}},
		{args: []string{"1000", "/a", "--revoke"}, want: DelegateOptions{Group: "1000", Paths: []string{"/a"}, Revoke: true}},
		{args: []string{"ops"}, err: "requires at least 2 arg(s)"},
		{args: []string{"--nope", "ops", "/a"}, err: "unknown flag"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			ios, _, _ := Test("")
			var got *DelegateOptions
			cmd := delegateCmd(ios, &globalOptions{}, func(o *DelegateOptions) error {
				got = o
				return nil
			})
			cmd.SetArgs(tt.args)
			cmd.SetOut(ios.Out)
			cmd.SetErr(ios.ErrOut)
			err := cmd.Execute()
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || !isUsage(err) {
					t.Fatalf("error = %v, want a usage error with %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got == nil || got.Group != tt.want.Group || got.Revoke != tt.want.Revoke || !slices.Equal(got.Paths, tt.want.Paths) {
				t.Errorf("options = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestLookupGroup(t *testing.T) {
	root, err := user.LookupGroupId("0")
	if err != nil {
		t.Skip("no group 0 in the group database")
	}
	tests := []struct {
		in    string
		gid   int
		name  string
		usage bool
	}{
		{in: "0", gid: 0, name: root.Name},
		{in: root.Name, gid: 0, name: root.Name},
		{in: "424242", gid: 424242}, // a number need not have a name, as for chgrp
		{in: "no-such-group-smctl", usage: true},
		{in: "", usage: true},
		{in: "-1", usage: true},
	}
	for _, tt := range tests {
		d, err := lookupGroup(tt.in)
		if tt.usage {
			var ee *exitError
			if !errors.As(err, &ee) || ee.code != ExitUsage {
				t.Errorf("lookupGroup(%q) = %+v, %v; want a usage error", tt.in, d, err)
			}
			continue
		}
		if g, lerr := user.LookupGroupId(tt.in); tt.name == "" && lerr == nil {
			tt.name = g.Name // 424242 has a name here
		}
		if err != nil || d.GID != tt.gid || d.Group != tt.name {
			t.Errorf("lookupGroup(%q) = %+v, %v; want gid %d name %q", tt.in, d, err, tt.gid, tt.name)
		}
	}
}

func TestDelegateLines(t *testing.T) {
	d := delegate.Delegation{GID: 4242, Group: "ops"}
	names := groupNames{0: "root", 4242: "ops"}
	tests := []struct {
		c    delegate.Change
		want string
	}{
		{delegate.Change{Kind: delegate.Chgrp, Path: "/systems/servers/alicebox", Dir: true, OldGID: 0, GID: 4242},
			"chgrp ops /systems/servers/alicebox (was root)"},
		{delegate.Change{Kind: delegate.Chmod, Path: "/systems/servers/alicebox", Dir: true, GID: 4242, OldMode: fs.ModeDir | 0o755, Mode: fs.ModeDir | 0o775},
			"g+w /systems/servers/alicebox (group ops)"},
		{delegate.Change{Kind: delegate.Chmod, Path: "/a/power", GID: 4242, OldMode: 0o600, Mode: 0o660},
			"g+rw /a/power (group ops)"},
		{delegate.Change{Kind: delegate.Chmod, Path: "/a/power", GID: 4242, OldMode: 0o664, Mode: 0o644},
			"g-w /a/power (group ops)"},
		{delegate.Change{Kind: delegate.Create, Path: "/a/command", GID: 4242, Mode: 0o664},
			"create /a/command (group ops, -rw-rw-r--)"},
	}
	for _, tt := range tests {
		if got := delegateLine(tt.c, d, names); got != tt.want {
			t.Errorf("delegateLine = %q, want %q", got, tt.want)
		}
	}
}
