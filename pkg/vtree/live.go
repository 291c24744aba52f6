package vtree

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
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
// under the device's locks; its outcome is kept as a status file in the
// device's own directory, named after the live path (liveName), where
// reads of NAME.status beside the live file find it: the device's
// directory is the one the tree trusts and writes statuses in for its
// agents, and a dot name is not listed.

// liveName is the name in its device's directory of the status of the
// live file at node path live: ".live" and the path with its slashes
// escaped, or a digest of a path too long for a name.
func liveName(live string) string {
	name := ".live" + strings.ReplaceAll(strings.ReplaceAll(live, "%", "%25"), "/", "%2F")
	if len(name) > 200 {
		sum := sha256.Sum256([]byte(live))
		name = ".live-" + hex.EncodeToString(sum[:16])
	}
	return name
}

// liveRel is the backing path of the status of the live entry n.
func liveRel(n *node) string {
	return store.JoinRel(vpath.Rel(n.devPath), liveName(n.live))
}

// liveResult is the node of NAME.status (or .stderr) beside the live entry
// n/NAME.
func (t *Tree) liveResult(n *node, el string) *node {
	name := strings.TrimSuffix(strings.TrimSuffix(el, statusSuffix), stderrSuffix)
	live := &node{devPath: n.devPath, live: n.live + "/" + name}
	return &node{path: vpath.Join(n.path, el), rel: liveRel(live) + el[len(name):], devPath: n.devPath, devType: n.devType, special: specialStatus, exists: true}
}

// liveWriter is the transport of the live entry n's device when it acts
// on writes.
func (t *Tree) liveWriter(ctx context.Context, n *node) (transport.Writer, error) {
	tr, err := t.transport(ctx, n.devPath)
	w, ok := tr.(transport.Writer)
	if err == nil && !ok {
		err = ErrLiveWrite
	}
	return w, err
}

// writeLive writes data to the live file n through its device's transport.
func (t *Tree) writeLive(ctx context.Context, n *node, data []byte) (*Result, error) {
	rel := liveRel(n)
	// Who may write the device's directory manages the device.
	if err := t.store.CheckWritable(vpath.Rel(n.devPath), true); err != nil {
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
		st.RC, st.Message = cmp.Or(int(status.Of(err)), int(status.Failed)), agent.Escape(err.Error())
		if ae := (*AgentError)(nil); errors.As(err, &ae) {
			st.Message = ae.Msg
		}
		if errors.Is(err, fs.ErrNotExist) { // no such file on the node: no status
			return nil, pathErr("write", n.path, err)
		}
		err = &AgentError{RC: st.RC, Msg: st.Message}
	}
	if serr := t.writeStatus(locked, st); serr != nil && err == nil {
		err = serr
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
		return File{Writable: w.Writable(n.live), Destructive: w.Destructive(n.live)}
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
