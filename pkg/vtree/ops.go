package vtree

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"syscall"
	"time"

	"github.com/smctl/smctl/pkg/agent"
	"github.com/smctl/smctl/pkg/config"
	"github.com/smctl/smctl/pkg/creds"
	"github.com/smctl/smctl/pkg/status"
	"github.com/smctl/smctl/pkg/vtree/store"
	"github.com/smctl/smctl/pkg/vtree/vpath"
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
	Stderr  []byte // a command's whole standard error (NAME.stderr)
	// Stale marks Content as the last value a read agent fetched, kept
	// when this run failed (returned with the run's error).
	Stale  bool
	Stored bool  // Content was read as stored (no agent ran), and
	Last   *Last // the status its last run left (nil: none did)
}

// Last is what a file's last agent run left: its status (code, message,
// what ran), when it ended, and whether the content is older than a
// failed run.
type Last = store.Last

// AgentError is a failed agent run: RC and Msg are what NAME.status holds
// (agent.RunError).
type AgentError = agent.RunError

// RC returns the status code that err records: status.Of as a number.
func RC(err error) int { return int(status.Of(err)) }

// refuse fails an operation on a file of a device that refuses to act
// (untrusted inputs): the status records code 2 and the one-line reason.
func (t *Tree) refuse(n *node, op, p string, err error) error {
	msg := agent.Escape(err.Error())
	if n.rel != "" && !n.isDir && n.special == "" {
		_ = t.writeStatus(n, store.Status{RC: int(status.Usage), Message: msg})
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
	max := int64(t.Config.MaxOutput)
	if n := t.storedFile(ctx, p); n != nil {
		// Its open tells what it is: missing or a directory, it is
		// looked up as anything else.
		res, err := t.readStored(n, max)
		if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.EISDIR) && !errors.Is(err, syscall.ENOTDIR) {
			return res, err
		}
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
		defer t.store.Hold(n.rel)()
		res, err := t.runAgent(ctx, n, agent.Read, n.hook.read, nil, false)
		if err != nil {
			// A failure keeps the last value: returned with the error,
			// marked stale, never as a success.
			return t.lastValue(n, max, RC(err)), pathErr("read", p, err)
		}
		out := &Result{Content: res.Output, Ran: true, RC: res.RC, Message: res.Message}
		if err := t.storeResult(n, res, res.Output, agent.Read, nil); err != nil {
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
	return t.readStored(n, max)
}

// storedFile is the node of the file p of a stored directory when reading
// it reads what is stored (no read agent, not ids), without looking p
// itself up: the read's open does; nil for anything else.
func (t *Tree) storedFile(ctx context.Context, p string) *node {
	dir, el := vpath.Split(p)
	d := t.storedDir(ctx, dir, true)
	if el == "" || d == nil || d.devErr != nil || t.shadowed(d, el) {
		return nil
	}
	n := t.child(d, el, p, store.JoinRel(d.rel, el), false)
	if n.special == specialIDs || n.hook != nil && n.hook.read != nil {
		return nil
	}
	return n
}

// storedDir is the node of the stored directory dir, nil if it is not one.
// With indexed, a device its parent's index names is taken as the
// directory discovery made before writing its line, without a lookup of
// its own: a read opens its files from the parent's descriptor.
func (t *Tree) storedDir(ctx context.Context, dir string, indexed bool) *node {
	if parent, name := vpath.Split(dir); indexed && name != "" {
		if _, ok, err := t.store.DeviceType(vpath.Rel(dir)); ok && err == nil {
			if p := t.storedDir(ctx, parent, false); p != nil && !t.shadowed(p, name) {
				return t.child(p, name, dir, vpath.Rel(dir), true)
			}
		}
	}
	t.mu.Lock()
	d, ok := t.dirs[dir]
	t.mu.Unlock()
	if !ok { // resolved once per command, as types are (forgetType)
		var err error
		if d, err = t.resolve(ctx, dir, false); err != nil || !d.isDir || !d.exists || d.live != "" {
			return nil
		}
		t.mu.Lock()
		t.dirs[dir] = d
		t.mu.Unlock()
	}
	return d
}

// readStored reads the stored file n and the status its last run left.
func (t *Tree) readStored(n *node, max int64) (*Result, error) {
	b, last, ok, err := t.store.ReadResult(n.rel, max+1)
	if err != nil {
		return nil, pathErr("read", n.path, unwrapPath(err))
	}
	if int64(len(b)) > max {
		return nil, pathErr("read", n.path, fmt.Errorf("larger than max_output (%d bytes)", max))
	}
	if !ok {
		return &Result{Content: b, Stored: true}, nil
	}
	return &Result{Content: b, Stored: true, Last: &last}, nil
}

// stale reports whether the read agent of n must run before a read: the
// file's caching model (config.Stale), or --max-age as a ttl.
func (t *Tree) stale(n *node, opts ReadOptions) bool {
	model, ttl := t.Config.CachePolicy(n.path)
	if opts.HasMaxAge {
		model, ttl = config.TTL, opts.MaxAge
	}
	return !n.exists || config.Stale(model, ttl, func() (fs.FileInfo, error) { return t.store.Lstat(n.rel) })
}

// Write writes data to the file at virtual path p: through its write agent
// if it has one, as credentials for ids, as a lock for lock, else as plain
// stored data (creating the file in an existing directory).
func (t *Tree) Write(ctx context.Context, p string, data []byte) (*Result, error) {
	return t.write(ctx, p, data, false)
}

// RunDiscovery runs the write agent of the device p's file (its
// discovery, DiscoverAgent; its removal, RemoveAgent) with input, as Write
// does, within a run of /discover_master: the root directory's lock, which
// that run holds, is not taken again. It returns what the agent printed
// (a discovery's statements), also with its failure when it kept them.
func (t *Tree) RunDiscovery(ctx context.Context, p, file string, input []byte) ([]byte, error) {
	res, err := t.write(ctx, vpath.Join(p, file), input, true)
	if res == nil {
		return nil, err
	}
	return res.Content, err
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
		return t.writeLive(ctx, n, data)
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
		if err := t.store.CheckWritable(n.rel, n.exists); err != nil {
			return nil, pathErr("write", p, err)
		}
		defer t.store.Hold(n.rel)() // its directory, open until the result is stored
		res, err := t.runAgent(ctx, n, agent.Write, n.hook.write, data, belowRoot)
		if err != nil && !res.Keep {
			return nil, pathErr("write", p, err)
		}
		content := res.Output
		if len(content) == 0 && !res.Keep {
			content = data
		}
		if serr := t.storeResult(n, res, content, agent.Write, data); serr != nil {
			return nil, pathErr("write", p, unwrapPath(serr))
		}
		out := &Result{Content: content, Ran: true, RC: res.RC, Message: res.Message, Stderr: res.Stderr}
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
	if d, _ := vpath.Split(p); d == n.devPath {
		t.forgetDevice(d) // it may be an attribute (address, port, ...)
	}
	return &Result{Content: data}, nil
}

// writeLock creates the lock file (any value but 0 or off) or removes it.
func (t *Tree) writeLock(n *node, data []byte) (*Result, error) {
	defer t.store.ForgetFile(n.rel)
	v := strings.TrimSpace(string(data))
	on := v != "0" && v != "off"
	if err := t.store.SetLock(n.rel, on); err != nil {
		return nil, pathErr("write", n.path, unwrapPath(err))
	}
	if !on {
		return &Result{}, nil
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
	return t.store.ReadStatus(vpath.Rel(p))
}

// Last returns what the last agent run on the file at p left, false if no
// agent has run on it.
func (t *Tree) Last(ctx context.Context, p string) (Last, bool) {
	p, err := Clean(p)
	if err != nil || p == "/" {
		return Last{}, false
	}
	return t.store.Last(vpath.Rel(p))
}

// forgetIDs, forgetIDsUnder and forgetAllIDs drop decrypted ids after a
// change of the ids file at backing path rel, of anything at or below the
// backing directory dir, of anything in the backing tree.
func (t *Tree) forgetIDs(rel string)      { t.ids.Forget(rel) }
func (t *Tree) forgetIDsUnder(dir string) { t.ids.ForgetUnder(dir) }
func (t *Tree) forgetAllIDs()             { t.ids.ForgetAll() }
