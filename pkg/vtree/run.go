package vtree

import (
	"context"
	"errors"
	"fmt"
	"io/fs"

	"github.com/smctl/smctl/pkg/agent"
	"github.com/smctl/smctl/pkg/status"
	"github.com/smctl/smctl/pkg/transport"
	"github.com/smctl/smctl/pkg/vtree/store"
	"github.com/smctl/smctl/pkg/vtree/vpath"
)

// lastValue is the stored content of n that a failed read agent leaves in
// place, as a stale Result with the failure's code; nil if there is none.
func (t *Tree) lastValue(n *node, max int64, rc int) *Result {
	b, err := t.store.ReadFile(n.rel, max+1)
	if err != nil || len(b) == 0 || int64(len(b)) > max {
		return nil
	}
	return &Result{Content: b, Ran: true, RC: rc, Stale: true}
}

// writeStatus records a run that stored nothing else. A user with read
// access only cannot record status: that is not an error (the outcome
// still reaches them); any other failure to store it is.
func (t *Tree) writeStatus(n *node, st store.Status) error {
	if err := t.store.WriteStatus(n.rel, st); err != nil && !errors.Is(err, fs.ErrPermission) {
		return fmt.Errorf("storing %s%s: %w", n.path, statusSuffix, unwrapPath(err))
	}
	return nil
}

// storeResult stores an agent run's content and its status together
// (store.StoreResult); a user with read access only still records the
// status.
func (t *Tree) storeResult(n *node, res agent.Result, content []byte, op agent.Op, input []byte) error {
	st := store.Status{RC: res.RC, Message: res.Message, Ran: op.Ran(input)}
	err := t.store.StoreResult(n.rel, store.Result{Content: content, Stderr: res.Stderr, HasStderr: res.Keep, Status: st})
	if errors.Is(err, fs.ErrPermission) {
		if serr := t.writeStatus(n, st); serr != nil {
			return serr
		}
	}
	return err
}

// runAgent runs a on n under the locks of n's directories, with the
// timeout, and records NAME.status.
func (t *Tree) runAgent(ctx context.Context, n *node, op agent.Op, a agent.Agent, input []byte, belowRoot bool) (agent.Result, error) {
	_, name := vpath.Split(n.path)
	label := name + "." + string(op)
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	fail := func(rc int, err error) (agent.Result, error) {
		msg := agent.Escape(err.Error())
		if RC(err) == int(status.Usage) {
			rc = int(status.Usage)
		}
		if parent.Err() != nil {
			rc, msg = int(status.Interrupted), "interrupted"
		} else if errors.Is(err, context.DeadlineExceeded) || rc == int(status.Timeout) {
			rc = int(status.Timeout)
			if le := (*lockError)(nil); !errors.As(err, &le) {
				msg = agent.TimedOut(label, t.timeout, msg)
			}
		}
		if serr := t.writeStatus(n, store.Status{RC: rc, Message: msg, Ran: op.Ran(input)}); serr != nil {
			msg += "; " + serr.Error()
		}
		return agent.Result{}, &AgentError{Agent: label, RC: rc, Msg: msg}
	}
	t.device(n.devPath) // its listing answers for its lock file too
	unlock, err := t.acquireLocks(ctx, n, belowRoot)
	if err != nil {
		rc := int(status.Timeout)
		if errors.Is(err, fs.ErrPermission) {
			rc = int(status.Failed)
		}
		return fail(rc, err)
	}
	defer unlock()
	req, err := t.request(ctx, n, op, input)
	if err != nil {
		return fail(int(status.Failed), err)
	}
	res, err := a.Run(ctx, req)
	res.Message = agent.Escape(res.Message)
	if err != nil {
		rc := int(status.Failed)
		var ae *agent.Error
		if errors.As(err, &ae) {
			rc = ae.RC
		}
		return fail(rc, err)
	}
	// Output that becomes content is stored with its status by the caller
	// (storeResult); a failure that stores nothing records its status here.
	if res.RC != 0 {
		msg := res.Message
		if !res.Keep {
			if serr := t.writeStatus(n, store.Status{RC: res.RC, Message: res.Message, Ran: op.Ran(input)}); serr != nil {
				msg += "; " + serr.Error()
			}
		}
		return res, &AgentError{Agent: label, RC: res.RC, Msg: msg}
	}
	return res, nil
}

// request builds the agent request for n.
func (t *Tree) request(ctx context.Context, n *node, op agent.Op, input []byte) (*agent.Request, error) {
	dev := t.device(n.devPath)
	if dev.Err != nil {
		return nil, dev.Err
	}
	req := &agent.Request{
		Path:      n.path,
		Op:        op,
		Device:    dev.Path,
		Type:      dev.Type,
		Host:      dev.Host(),
		Root:      t.Root,
		Attrs:     dev.Attrs,
		Input:     input,
		MaxOutput: int64(t.Config.MaxOutput),
		Timeout:   t.timeout,
		KeyFile:   t.keyFile,
		Stored:    func(name string) ([]byte, error) { return t.ReadTrusted(ctx, n.devPath+"/"+name, 1<<24) },
	}
	if dev.Path == "/" {
		req.Host = ""
	}
	dir, _ := store.SplitRel(n.rel)
	pair, err := t.ids.Nearest(dir)
	if err != nil {
		return nil, err
	}
	if pair != nil {
		req.User, req.Password = pair.User, pair.Password
	}
	req.Peer = func(ctx context.Context, p string) (agent.Peer, error) {
		d := t.device(p)
		if d.Err != nil || d.Type == "" {
			return agent.Peer{Type: d.Type}, d.Err
		}
		tr, err := t.transport(ctx, p)
		return agent.Peer{Type: d.Type, Attrs: d.Attrs, Transport: tr}, err
	}
	if dev.Path != "/" {
		dev.User, dev.Password = req.User, req.Password
		tr, err := t.opts.Drivers.Transport(ctx, dev)
		if err != nil {
			tr = transport.Broken{Err: err}
		}
		req.Transport = tr
	}
	return req, nil
}
