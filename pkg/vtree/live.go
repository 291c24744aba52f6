package vtree

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/smctl/smctl/pkg/agent"
	"github.com/smctl/smctl/pkg/status"
	"github.com/smctl/smctl/pkg/transport"
	"github.com/smctl/smctl/pkg/vtree/store"
	"github.com/smctl/smctl/pkg/vtree/vpath"
)

// Live files are the node's, read and written through its transport. A
// write reaches the node only where a driver acts on it
// (transport.Writer: the linux driver's proc/sys/..., os/hostname, ...),
// by a user who may write the device's directory (who manages the device),
// under the device's locks; its outcome is kept as NAME.status in the
// backing tree under the device's directory, at the live file's own path
// (DEV/proc/sys/kernel/hostname.status), which the live directory shadows
// in listings and which reads of NAME.status find.

// liveRel is the backing path of the live entry n: under its device's
// directory, at its path in the node.
func liveRel(n *node) string {
	return store.JoinRel(vpath.Rel(n.devPath), strings.TrimPrefix(n.live, "/"))
}

// liveResult is the node of NAME.status (or .stderr) beside the live entry
// n/NAME: a stored file at the live path.
func (t *Tree) liveResult(n *node, el string) *node {
	return &node{path: vpath.Join(n.path, el), rel: store.JoinRel(liveRel(n), el), devPath: n.devPath, devType: n.devType, special: specialStatus, exists: true}
}

// liveWriter is the transport of the live entry n's device when it acts
// on writes.
func (t *Tree) liveWriter(ctx context.Context, n *node) (transport.Writer, error) {
	tr, err := t.transport(ctx, n.devPath)
	if err != nil {
		return nil, err
	}
	if w, ok := tr.(transport.Writer); ok {
		return w, nil
	}
	return nil, ErrLiveWrite
}

// writeLive writes data to the live file n through its device's transport.
func (t *Tree) writeLive(ctx context.Context, n *node, data []byte) (*Result, error) {
	rel := liveRel(n)
	dev := vpath.Rel(n.devPath)
	// Who may write the device's directory manages the device.
	if err := t.store.CheckWritable(dev, true); err != nil {
		return nil, pathErr("write", n.path, err)
	}
	ctx, cancel := t.liveContext(ctx)
	defer cancel()
	w, err := t.liveWriter(ctx, n)
	if err != nil {
		return nil, pathErr("write", n.path, err)
	}
	locked := &node{path: n.path, rel: rel, devPath: n.devPath}
	unlock, err := t.acquireLocks(ctx, locked, false)
	if err != nil {
		return nil, pathErr("write", n.path, &AgentError{RC: int(status.Timeout), Msg: err.Error()})
	}
	defer unlock()
	out, err := w.WriteFile(ctx, n.live, data)
	if errors.Is(err, transport.ErrNotWritable) {
		return nil, pathErr("write", n.path, ErrLiveWrite)
	}
	st := store.Status{Ran: agent.Write.Ran(data)}
	if err != nil {
		err = t.liveErr(ctx, err)
		st.RC, st.Message = int(status.Failed), agent.Escape(err.Error())
		if ae := (*AgentError)(nil); errors.As(err, &ae) {
			st.RC, st.Message = ae.RC, ae.Msg
		}
		err = &AgentError{RC: st.RC, Msg: st.Message}
	}
	if dir, _ := store.SplitRel(rel); t.store.Root().MkdirAll(dir, 0o777) == nil {
		if serr := t.writeStatus(locked, st); serr != nil && err == nil {
			err = serr
		}
	}
	res := &Result{Content: out, Ran: true, RC: st.RC, Message: st.Message}
	if err != nil {
		return res, pathErr("write", n.path, err)
	}
	return res, nil
}

// liveSpec is what the driver acting on writes to the live file n
// declares of it: the values that destroy.
func (t *Tree) liveSpec(ctx context.Context, n *node) File {
	ctx, cancel := t.liveContext(ctx)
	defer cancel()
	if w, err := t.liveWriter(ctx, n); err == nil {
		return File{Destructive: w.Destructive(n.live)}
	}
	return File{}
}

// liveContext bounds an access to a live directory (which asks the node
// and runs no agent) by the agent timeout.
func (t *Tree) liveContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, t.timeout)
}

// liveErr names a live access that ran out of time as such.
func (t *Tree) liveErr(ctx context.Context, err error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return &AgentError{RC: int(status.Timeout), Msg: fmt.Sprintf("the node did not answer within %s", t.timeout)}
	}
	return unwrapPath(err)
}
