package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os/user"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/smctl/smctl/pkg/delegate"
	"github.com/smctl/smctl/pkg/vtree"
)

// DelegateOptions are the flags of smctl delegate.
type DelegateOptions struct {
	Group  string   // a group name or numeric gid
	Paths  []string // virtual directories (globs allowed)
	Revoke bool     // --revoke
}

func newDelegateCmd(ios *IOStreams, g *globalOptions) *cobra.Command {
	return delegateCmd(ios, g, nil)
}

// delegateCmd builds the verb; runF, when set, receives the parsed options
// instead of delegateRun (for tests of the flags).
func delegateCmd(ios *IOStreams, g *globalOptions, runF func(*DelegateOptions) error) *cobra.Command {
	opts := &DelegateOptions{}
	cmd := &cobra.Command{
		Use:   "delegate [--revoke] GROUP PATH...",
		Short: "Let a Unix group manage the devices of a subtree",
		Long: `Let the members of GROUP (a name or a numeric gid) act on every device at or
below each PATH, as Sysman's security section promises: "a user or a group
can be restricted to accessing only a subtree". For each device it gives the
group the device directory (chgrp GROUP, g+rwx), the files that act, those
with a write agent for its type (power, command, bootorder, ...), and their
NAME.status (chgrp GROUP, g+rw; a missing one is created empty first), and
the device's lock if it has one (runs take locks open for writing).

Nothing else changes: attribute files (address, port, user, transport, ...),
.type and ids decide what smctl runs, where it connects and what it sends,
and stay the owner's; smctl refuses to act on a device whose such files its
group or others may write. The directories above the devices and their
locks are not changed either: the group needs to search those directories,
and to write those locks to act under them; delegate says so on standard
error when it cannot. So it does for a key file the group cannot read when
the devices inherit credentials (ids).

--revoke takes group write away from every directory at or below each PATH
whose group is GROUP (device or not: a member may have removed its .type)
and from the acting, status and lock files in them. Such a file that a
member made their own while they could write the directory is taken back:
replaced by a copy the running user owns. Anything else a member left there
(a .type, ids or attribute file of theirs) is named on standard error, for
the owner to judge. The group of what stays is left as it is (read access
stays as the group bits give it; chgrp to take that too).

Each change is printed, one line each, as chmod -v and chgrp -v do; running
it again changes nothing. Run it as the owner of the tree, or as root.`,
		Example: `  smctl delegate ops /systems/servers/alicebox
  smctl delegate ops '/systems/chassis/*'
  smctl delegate --revoke ops /systems/servers/alicebox`,
		Args:              cobra.MinimumNArgs(2),
		ValidArgsFunction: completePaths(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Group, opts.Paths = args[0], args[1:]
			if runF != nil {
				return runF(opts)
			}
			return delegateRun(cmd.Context(), ios, g, opts)
		},
	}
	cmd.Flags().BoolVar(&opts.Revoke, "revoke", false, "take group write away instead of giving it")
	return cmd
}

// lookupGroup resolves a group name or numeric gid; an unknown name is a
// usage error. A number names a gid even without an entry in the group
// database, as for chgrp.
func lookupGroup(s string) (delegate.Delegation, error) {
	if s == "" {
		return delegate.Delegation{}, usageErr("delegate: empty group")
	}
	if id, err := strconv.ParseUint(s, 10, 31); err == nil {
		d := delegate.Delegation{GID: int(id)}
		if g, err := user.LookupGroupId(s); err == nil {
			d.Group = g.Name
		}
		return d, nil
	}
	g, err := user.LookupGroup(s)
	if err != nil {
		return delegate.Delegation{}, usageErr("delegate: unknown group %q: give a group name or number of the group database (getent group)", s)
	}
	id, err := strconv.Atoi(g.Gid)
	if err != nil {
		return delegate.Delegation{}, usageErr("delegate: group %q has gid %q", s, g.Gid)
	}
	return delegate.Delegation{GID: id, Group: g.Name}, nil
}

func delegateRun(ctx context.Context, ios *IOStreams, g *globalOptions, opts *DelegateOptions) error {
	d, err := lookupGroup(opts.Group)
	if err != nil {
		return err
	}
	d.Revoke = opts.Revoke
	// Delegation works on this machine's backing tree itself, never
	// through a server: it needs the tree, not the Tree interface.
	t, _, err := g.openDiscovery()
	if err != nil {
		return err
	}
	defer t.Close()
	paths, failed := expand(ctx, ios, t, opts.Paths)
	names := groupNames{}
	noted := map[string]bool{}
	for _, p := range paths {
		if cp, err := vtree.Clean(p); err == nil {
			p = cp
		}
		cs, err := delegate.Apply(ctx, t, p, d)
		if err != nil && ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			ios.Errorf("%v", err)
			failed++
			continue
		}
		changed, errs := false, 0
		for _, c := range cs {
			switch {
			case c.Err != nil:
				ios.Errorf("delegate: %s", delegateFailure(c, d, names))
				errs++
			case c.Note():
				key := fmt.Sprint(c.Kind, c.File)
				if !noted[key] {
					noted[key] = true
					ios.Errorf("delegate: %s", delegateNote(c, d, names))
				}
			case c.Changed():
				changed = true
				fmt.Fprintln(ios.Out, delegateLine(c, d, names))
			}
		}
		failed += errs
		if !changed && errs == 0 && !hasKind(cs, delegate.NoDevices) {
			if d.Revoke {
				fmt.Fprintf(ios.Out, "nothing to change: group %s has no write access under %s\n", d, p)
			} else {
				fmt.Fprintf(ios.Out, "nothing to change: %s is delegated to group %s\n", p, d)
			}
		}
	}
	if failed > 0 {
		return errSomeFailed
	}
	return nil
}

func hasKind(cs []delegate.Change, k delegate.Kind) bool {
	for _, c := range cs {
		if c.Kind == k {
			return true
		}
	}
	return false
}

// delegateLine prints a change as chmod -v and chgrp -v would, in short:
//
//	chgrp ops /systems/servers/alicebox (was root)
//	g+w /systems/servers/alicebox (group ops)
//	create /systems/servers/alicebox/power (group ops, -rw-rw-r--)
func delegateLine(c delegate.Change, d delegate.Delegation, names groupNames) string {
	switch c.Kind {
	case delegate.Create:
		return fmt.Sprintf("create %s (group %s, %s)", c.Path, d, c.Mode)
	case delegate.Chgrp:
		return fmt.Sprintf("chgrp %s %s (was %s)", d, c.Path, names.name(c.OldGID))
	case delegate.Chmod:
		return fmt.Sprintf("%s %s (group %s)", groupBits(c.OldMode, c.Mode), c.Path, names.name(c.GID))
	case delegate.Reclaim:
		return fmt.Sprintf("take back %s (was %s's; now %s's, %s)", c.Path, delegUserName(c.OldUID), delegUserName(c.UID), c.Mode)
	}
	return fmt.Sprintf("%s: %v", c.Path, c.Kind)
}

// groupBits names what changed in the group's permission bits: g+w, g-w,
// g+rwx.
func groupBits(old, now fs.FileMode) string {
	o, n := uint32(old.Perm()>>3&7), uint32(now.Perm()>>3&7)
	add, del := n&^o, o&^n
	s := ""
	if add != 0 {
		s += "g+" + rwx(add)
	}
	if del != 0 {
		if s != "" {
			s += ","
		}
		s += "g-" + rwx(del)
	}
	if s == "" {
		return "chmod " + fmt.Sprintf("%04o", uint32(now.Perm()))
	}
	return s
}

func rwx(b uint32) string {
	s := ""
	for i, c := range "rwx" {
		if b&(4>>i) != 0 {
			s += string(c)
		}
	}
	return s
}

// delegateNote says what the owner should know about the subtree.
func delegateNote(c delegate.Change, d delegate.Delegation, names groupNames) string {
	where := c.Path
	if where == "" {
		where = c.File
	}
	owner := fmt.Sprintf("%s %s:%s", c.Mode, delegUserName(c.UID), names.name(c.GID))
	switch c.Kind {
	case delegate.Unreachable:
		if c.Path != "" {
			where = fmt.Sprintf("%s (%s)", c.Path, c.File)
		}
		perm := uint32(c.Mode.Perm() & 7)
		if c.GID == d.GID {
			perm = uint32(c.Mode.Perm() >> 3 & 7)
		}
		if perm&1 == 0 {
			return fmt.Sprintf("group %s cannot search %s (%s): its members cannot reach the devices below; left as it is", d, where, owner)
		}
		return fmt.Sprintf("group %s cannot read %s (%s): its members can reach the devices below by name but not list them; left as it is", d, where, owner)
	case delegate.UntrustedType:
		return fmt.Sprintf("%s: its type marker %s is %s, not to be trusted (it must be a regular file with one link, owned by root or the running user and not writable by group or others): smctl does not act on it; left alone", c.Path, c.Marker, owner)
	case delegate.AttrAgent:
		return fmt.Sprintf("%s has a write agent but is an attribute, which decides where smctl connects: left to the owner in every device of its type", c.Path)
	case delegate.KeyUnreadable:
		return fmt.Sprintf("the devices inherit ids credentials and group %s cannot read the key file %s (%s): every agent its members run there will fail", d, c.File, owner)
	case delegate.Stray:
		return fmt.Sprintf("%s is %s's (%s), left while group %s could write its directory: check it, and remove it if it is not wanted", c.Path, delegUserName(c.UID), c.Mode, d)
	case delegate.LockAbove:
		return fmt.Sprintf("group %s cannot write the lock %s (%s): its members cannot act on the devices below it; left as it is", d, c.Path, owner)
	case delegate.NoDevices:
		return fmt.Sprintf("no devices at or below %s: nothing to delegate", c.Path)
	}
	return fmt.Sprintf("%s: %v", where, c.Kind)
}

// delegateFailure says which change failed and why.
func delegateFailure(c delegate.Change, d delegate.Delegation, names groupNames) string {
	what := delegateLine(c, d, names)
	switch c.Kind {
	case delegate.Skip:
		return fmt.Sprintf("%s: %v", c.Path, c.Err)
	case delegate.Chgrp:
		what = fmt.Sprintf("chgrp %s %s", d, c.Path)
	case delegate.Chmod:
		what = fmt.Sprintf("%s %s", groupBits(c.OldMode, c.Mode), c.Path)
	case delegate.Create:
		what = "create " + c.Path
	case delegate.Reclaim:
		what = "take back " + c.Path
	}
	msg := fmt.Sprintf("%s: %v", what, c.Err)
	if errors.Is(c.Err, fs.ErrPermission) && c.Kind != delegate.Create {
		msg += fmt.Sprintf(" (owned by %s: run as its owner or as root)", delegUserName(c.UID))
	}
	return msg
}

// groupNames caches gid -> name lookups.
type groupNames map[int]string

func (g groupNames) name(gid int) string {
	if n, ok := g[gid]; ok {
		return n
	}
	n := strconv.Itoa(gid)
	if gr, err := user.LookupGroupId(n); err == nil {
		n = gr.Name
	}
	g[gid] = n
	return n
}

func delegUserName(uid int) string {
	s := strconv.Itoa(uid)
	if u, err := user.LookupId(s); err == nil {
		return u.Username
	}
	return s
}
