package vtree

import (
	"context"
	"errors"
	"io/fs"

	"github.com/smctl/smctl/pkg/vtree/store"
	"github.com/smctl/smctl/pkg/vtree/vpath"
)

// GroupsDir holds the node groups, a file each (see pkg/vtree/vfs).
const GroupsDir = "/groups"

// SubscriptionsDir holds smctl serve's subscriptions, a file each.
const SubscriptionsDir = "/subscriptions"

// ReadTrusted reads at most max bytes of the stored file p (a group) as
// attributes are read: p and the directories above it must pass the trust
// check, or the error is a *trust.Error naming them; a missing p is an
// *fs.PathError wrapping fs.ErrNotExist. It runs no agent.
func (t *Tree) ReadTrusted(_ context.Context, p string, max int64) ([]byte, error) {
	p, err := Clean(p)
	if err != nil {
		return nil, err
	}
	dir, _ := store.SplitRel(vpath.Rel(p))
	var b []byte
	if err = t.dirTrust(dir); err == nil {
		b, err = t.store.ReadTrusted(vpath.Rel(p), max)
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil, pathErr("read", p, fs.ErrNotExist)
	}
	return b, err
}
