package vtree

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/smctl/smctl/pkg/agent"
	"github.com/smctl/smctl/pkg/config"
	"github.com/smctl/smctl/pkg/creds"
	"github.com/smctl/smctl/pkg/status"
	"github.com/smctl/smctl/pkg/transport"
	"github.com/smctl/smctl/pkg/vtree/store"
)

// ReadOptions tune Read.
type ReadOptions struct {
	// MaxAge, when HasMaxAge is set, replaces the file's caching model:
	// the read agent runs when the stored content is older (0: always).
	MaxAge    time.Duration
	HasMaxAge bool
}

// Result is the outcome of a Read or Write.
type Result struct {
	Content []byte // what the file holds now
	Ran     bool   // an agent ran
	RC      int    // its status code (0 when none ran)
	Message string // its status message
}

// AgentError is a failed agent run: RC and Msg are what NAME.status holds.
// Without an Agent it is a live access to a node that failed so (RC 124).
type AgentError struct {
	Agent string // e.g. "power.read"
	RC    int
	Msg   string
}

func (e *AgentError) Error() string {
	if e.Agent == "" {
		return e.Msg
	}
	if e.Msg == "" {
		return fmt.Sprintf("agent %s: exit %d", e.Agent, e.RC)
	}
	if strings.Contains(e.Msg, e.Agent) {
		return e.Msg
	}
	return fmt.Sprintf("agent %s: exit %d: %s", e.Agent, e.RC, e.Msg)
}

// StatusCode implements status.Coder: the code NAME.status records.
func (e *AgentError) StatusCode() status.Code { return status.Code(e.RC) }

// RC returns the status code that err records: status.Of as a number.
func RC(err error) int { return int(status.Of(err)) }

// refuse fails an operation on a file of a device that refuses to act
// (untrusted inputs): the status records code 2 and the one-line reason.
func (t *Tree) refuse(n *node, op, p string, err error) error {
	msg := agent.Escape(err.Error())
	if n.rel != "" && !n.isDir && n.special == "" {
		_ = t.writeStatus(n, int(status.Usage), msg)
	}
	return pathErr(op, p, &AgentError{RC: int(status.Usage), Msg: msg})
}

// Read returns the content of the file at virtual path p, running its read
// agent first when its caching model says so.
func (t *Tree) Read(ctx context.Context, p string, opts ReadOptions) (*Result, error) {
	p, err := Clean(p)
	if err != nil {
		return nil, err
	}
	n, err := t.resolve(ctx, p, false)
	if err != nil {
		return nil, err
	}
	if n.isDir {
		return nil, pathErr("read", p, ErrIsDir)
	}
	if n.devErr != nil {
		return nil, t.refuse(n, "read", p, n.devErr)
	}
	max := int64(t.Config.MaxOutput)
	if n.live != "" {
		ctx, cancel := t.liveContext(ctx)
		defer cancel()
		tr, err := t.transport(ctx, n.devPath)
		if err != nil {
			return nil, pathErr("read", p, err)
		}
		b, err := tr.ReadFile(ctx, n.live, max)
		if err != nil {
			return nil, pathErr("read", p, t.liveErr(ctx, err))
		}
		return &Result{Content: b}, nil
	}
	if n.special == specialIDs {
		pairs, err := t.ids.At(n.rel)
		if err != nil {
			return nil, pathErr("read", p, err)
		}
		return &Result{Content: creds.Masked(pairs)}, nil
	}
	if n.hook != nil && n.hook.read != nil && t.stale(n, opts) {
		// A user who may not read the file must not learn its value from
		// the agent either (the stored read below checks by itself).
		if err := t.store.CheckReadable(n.rel); err != nil {
			return nil, pathErr("read", p, unwrapPath(err))
		}
		res, err := t.runAgent(ctx, n, agent.Read, n.hook.read, nil, false)
		if err != nil {
			return nil, pathErr("read", p, err)
		}
		out := &Result{Content: res.Output, Ran: true, RC: res.RC, Message: res.Message}
		if err := t.storeResult(n, res.Output, res.RC, res.Message); err != nil {
			// A user with read access only still gets the fresh value;
			// it is just not kept.
			if !errors.Is(err, fs.ErrPermission) {
				return nil, pathErr("read", p, unwrapPath(err))
			}
		}
		return out, nil
	}
	if !n.exists {
		return &Result{}, nil
	}
	b, err := t.store.ReadFile(n.rel, max+1)
	if err != nil {
		return nil, pathErr("read", p, unwrapPath(err))
	}
	if int64(len(b)) > max {
		return nil, pathErr("read", p, fmt.Errorf("larger than max_output (%d bytes)", max))
	}
	return &Result{Content: b}, nil
}

// stale reports whether the read agent of n must run before a read.
func (t *Tree) stale(n *node, opts ReadOptions) bool {
	if !n.exists {
		return true
	}
	model, ttl := t.Config.CachePolicy(n.path)
	if opts.HasMaxAge {
		model, ttl = config.TTL, opts.MaxAge
	}
	switch model {
	case config.Cached:
		// Only while the file has no content.
		st, err := t.store.Lstat(n.rel)
		return err != nil || st.Size() == 0
	case config.TTL:
		if ttl <= 0 {
			// A fresh reading, whatever time the content has (a clock
			// that was ahead, a restored backup).
			return true
		}
		st, err := t.store.Lstat(n.rel)
		return err != nil || time.Since(st.ModTime()) >= ttl
	}
	return true
}

// Write writes data to the file at virtual path p: through its write agent
// if it has one, as credentials for ids, as a lock for lock, else as plain
// stored data (creating the file in an existing directory).
func (t *Tree) Write(ctx context.Context, p string, data []byte) (*Result, error) {
	return t.write(ctx, p, data, false)
}

// RunDiscovery runs the discovery agent of the container device at p (its
// write-only "discover" file) with input, as Write does, within a run of
// /discover_master: the root directory's lock, which that run holds, is
// not taken again. It returns what the agent printed: the statements of
// what the container holds.
func (t *Tree) RunDiscovery(ctx context.Context, p string, input []byte) ([]byte, error) {
	res, err := t.write(ctx, join(p, DiscoverAgent), input, true)
	if err != nil {
		return nil, err
	}
	return res.Content, nil
}

func (t *Tree) write(ctx context.Context, p string, data []byte, belowRoot bool) (*Result, error) {
	p, err := Clean(p)
	if err != nil {
		return nil, err
	}
	if p == "/" {
		return nil, pathErr("write", p, ErrIsDir)
	}
	n, err := t.resolve(ctx, p, true)
	if err != nil {
		return nil, err
	}
	switch {
	case n.isDir:
		return nil, pathErr("write", p, ErrIsDir)
	case n.live != "":
		return nil, pathErr("write", p, ErrLiveWrite)
	case n.special == specialStatus:
		return nil, pathErr("write", p, ErrStatusFile)
	case n.special == specialIDs:
		masked, err := t.ids.Write(n.rel, n.path, data)
		if err != nil {
			return nil, err
		}
		return &Result{Content: masked}, nil
	case n.special == specialLock:
		return t.writeLock(n, data)
	case n.devErr != nil:
		return nil, t.refuse(n, "write", p, n.devErr)
	}
	if n.hook != nil && n.hook.write != nil {
		// Refuse before acting: a user who may not write the file must not
		// be able to power a node off through it.
		if err := t.checkAccess(n); err != nil {
			return nil, pathErr("write", p, err)
		}
		res, err := t.runAgent(ctx, n, agent.Write, n.hook.write, data, belowRoot)
		if err != nil && !res.Keep {
			return nil, pathErr("write", p, err)
		}
		content := res.Output
		if len(content) == 0 && !res.Keep {
			content = data
		}
		if serr := t.storeResult(n, content, res.RC, res.Message); serr != nil {
			return nil, pathErr("write", p, unwrapPath(serr))
		}
		out := &Result{Content: content, Ran: true, RC: res.RC, Message: res.Message}
		if err != nil {
			return out, pathErr("write", p, err)
		}
		return out, nil
	}
	if n.hook != nil && n.hook.read != nil {
		return nil, pathErr("write", p, ErrReadOnly)
	}
	if err := t.store.WriteFile(n.rel, data); err != nil {
		return nil, pathErr("write", p, unwrapPath(err))
	}
	if d, _ := splitPath(p); d == n.devPath {
		t.forgetDevice(d) // it may be an attribute (address, port, ...)
	}
	return &Result{Content: data}, nil
}

// checkAccess fails unless the current user may write n's backing file
// (or create it in its directory).
func (t *Tree) checkAccess(n *node) error {
	full := filepath.Join(t.store.Dir(), filepath.FromSlash(n.rel))
	if !n.exists {
		full = filepath.Dir(full)
	}
	if err := syscall.Access(full, 2 /* W_OK */); err != nil {
		if errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EROFS) {
			return fs.ErrPermission
		}
		return err
	}
	return nil
}

// writeLock creates the lock file (any value but 0) or removes it (0). The
// lock file is never replaced, since flock locks belong to its inode.
func (t *Tree) writeLock(n *node, data []byte) (*Result, error) {
	dir, _ := store.SplitRel(n.rel)
	defer t.forgetSpecial(dir, LockName)
	v := strings.TrimSpace(string(data))
	if v == "0" || v == "off" {
		if err := t.store.Root().Remove(n.rel); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, pathErr("write", n.path, unwrapPath(err))
		}
		return &Result{}, nil
	}
	if err := t.store.CreateLock(n.rel); err != nil {
		return nil, pathErr("write", n.path, unwrapPath(err))
	}
	return &Result{Content: []byte("1\n")}, nil
}

// Status returns the status recorded for the file at p: its code and
// message, and false if no agent has run on it.
func (t *Tree) Status(ctx context.Context, p string) (int, string, bool) {
	p, err := Clean(p)
	if err != nil || p == "/" {
		return 0, "", false
	}
	return t.store.ReadStatus(rel(p))
}

// writeStatus records a run that stored nothing else. A user with read
// access only cannot record status: that is not an error (the outcome
// still reaches them); any other failure to store it is.
func (t *Tree) writeStatus(n *node, rc int, msg string) error {
	err := t.store.WriteFile(n.rel+statusSuffix, store.StatusLine(rc, msg))
	if err == nil || errors.Is(err, fs.ErrPermission) {
		return nil
	}
	return fmt.Errorf("storing %s%s: %w", n.path, statusSuffix, unwrapPath(err))
}

// storeResult stores an agent run's content and its status together
// (store.StoreResult); a user with read access only still records the
// status.
func (t *Tree) storeResult(n *node, content []byte, rc int, msg string) error {
	err := t.store.StoreResult(n.rel, content, rc, msg)
	if errors.Is(err, fs.ErrPermission) {
		if serr := t.writeStatus(n, rc, msg); serr != nil {
			return serr
		}
	}
	return err
}

// runAgent runs a on n under the locks of n's directories, with the
// timeout, and records NAME.status.
func (t *Tree) runAgent(ctx context.Context, n *node, op agent.Op, a agent.Agent, input []byte, belowRoot bool) (agent.Result, error) {
	_, name := splitPath(n.path)
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
				msg = fmt.Sprintf("agent %s timed out after %s", label, t.timeout)
			}
		}
		if serr := t.writeStatus(n, rc, msg); serr != nil {
			msg += "; " + serr.Error()
		}
		return agent.Result{}, &AgentError{Agent: label, RC: rc, Msg: msg}
	}
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
			if serr := t.writeStatus(n, res.RC, res.Message); serr != nil {
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
		KeyFile:   t.keyFile,
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

// forgetIDs, forgetIDsUnder and forgetAllIDs drop decrypted ids after a
// change of the ids file at backing path rel, of anything at or below the
// backing directory dir, of anything in the backing tree.
func (t *Tree) forgetIDs(rel string)      { t.ids.Forget(rel) }
func (t *Tree) forgetIDsUnder(dir string) { t.ids.ForgetUnder(dir) }
func (t *Tree) forgetAllIDs()             { t.ids.ForgetAll() }

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
