// Package filecopy copies files between this machine and many nodes at
// once, as pdcp and rpdcp do: Push copies local files to the same place on
// every node, Pull copies files of every node into one local directory,
// each saved as NAME.NODE. It never prints: each node's copy yields one
// ops.Outcome (op "cp"), in input order, which the CLI's printers print
// as they print a write's (the folded summary, -o json).
//
// A node is reached through its transport's optional file ability
// (transport.OpenFiles: SFTP on the pooled SSH connection, plain file
// operations for the local machine). The fan-out is bounded (Options.Width)
// and one node's failure never stops the others.
//
// # Semantics
//
// As cp and scp: -r (Options.Recursive) copies directories, -p
// (Options.Preserve) keeps modes and modification times; without -p a new
// file gets its source's permissions less the umask and a replaced one
// keeps its own. A file is written under a temporary name beside its
// destination (.NAME.smctl-RANDOM) and renamed over it once whole, so a
// node never shows a torn file; a copy cut short may leave the temporary
// file. A destination is a directory when it ends in /, when several
// sources are given, or when it is one on the node.
//
// # Trust
//
// Pull writes only inside its local directory, whatever the nodes send:
// it works through an os.Root of that directory, creates every file with
// O_EXCL under a temporary name and renames it into place (a symlink
// planted under the final name is replaced, never followed), enters no
// directory that is a symlink, and refuses a name from a node's directory
// listing that is empty, ".", ".." or holds a / (that node's copy fails,
// naming it). Modes from a node never carry setuid, setgid or sticky bits.
//
// # Time
//
// Options.Idle bounds how long one node's copy may go without moving a
// byte (connecting included): past it the node fails with status 124. A
// copy that keeps moving is never cut, however large.
package filecopy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/smctl/smctl/pkg/fanout"
	"github.com/smctl/smctl/pkg/ops"
	"github.com/smctl/smctl/pkg/status"
	"github.com/smctl/smctl/pkg/transport"
)

// Op is the operation of the outcomes of a copy.
const Op ops.Op = "cp"

// Tree gives a device's transport: *vtree.Tree.
type Tree interface {
	Transport(ctx context.Context, dev string) (transport.Transport, error)
}

// Options tune Push and Pull.
type Options struct {
	Width     int           // nodes at once (fanout.DefaultLimit when < 1)
	Recursive bool          // copy directories (-r)
	Preserve  bool          // keep modes and modification times (-p)
	Idle      time.Duration // a node's copy moving no byte for this long fails; 0: no bound
	// Done, when set, is called as each node finishes, from its worker; it
	// must be safe for concurrent use.
	Done func(failed bool)
}

// ErrIdle is wrapped by the error of a node whose copy moved no byte for
// Options.Idle; it is a status.ErrTimeout (status 124).
var ErrIdle = status.Mark(errors.New("no progress"), status.ErrTimeout)

// usageErr is an error of the arguments, found before any node is
// contacted: status 2.
func usageErr(format string, args ...any) error {
	return status.Mark(fmt.Errorf(format, args...), status.ErrUsage)
}

// NodeName is the name a device's copies are known by: the base name of
// its directory (/systems/servers/n0042 -> n0042).
func NodeName(dev string) string { return path.Base(dev) }

// job is one device's copy: it returns the destinations it wrote, one per
// source, for the outcome's content.
type job func(ctx context.Context, w *watch, f transport.Files, node string) ([]string, error)

// run fans fn out over devs and emits each device's outcome in input
// order; it returns how many failed.
func run(ctx context.Context, t Tree, devs []string, o Options, fn job, emit func(ops.Outcome)) int {
	failed := 0
	fanout.Each(ctx, len(devs), o.Width, func(ctx context.Context, i int) (ops.Outcome, error) {
		return one(ctx, t, devs[i], i, o, fn), nil
	}, func(r fanout.Result[ops.Outcome]) {
		out := r.Value
		if r.Err != nil { // cancelled before it started
			out = ops.Outcome{Index: r.Index, Path: devs[r.Index], Label: NodeName(devs[r.Index]), Op: Op,
				Err: fmt.Errorf("%s: interrupted before it started: %w", NodeName(devs[r.Index]), r.Err)}
			out.RC = status.Of(out.Err)
			out.Class = out.RC.Class()
		}
		if out.Err != nil {
			failed++
		}
		emit(out)
	})
	return failed
}

// one copies to or from one device.
func one(ctx context.Context, t Tree, dev string, i int, o Options, fn job) ops.Outcome {
	start := time.Now()
	node := NodeName(dev)
	out := ops.Outcome{Index: i, Path: dev, Label: node, Op: Op}
	nctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	w := newWatch(nctx, cancel, o.Idle)
	defer w.stop()
	written, err := func() ([]string, error) {
		tr, err := t.Transport(nctx, dev)
		if err != nil {
			return nil, err
		}
		f, err := transport.OpenFiles(nctx, tr)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		w.tick()
		return fn(nctx, w, f, node)
	}()
	if err != nil {
		out.Err = w.explain(node, err)
	}
	if len(written) > 0 {
		out.Content = []byte(strings.Join(written, "\n") + "\n")
		out.HasContent = true
	}
	out.Elapsed = time.Since(start)
	out.RC = status.Of(out.Err)
	out.Class = out.RC.Class()
	if o.Done != nil {
		o.Done(out.Err != nil)
	}
	return out
}

// watch follows one node's copy: the path it is at, for errors, and its
// progress, cancelling its context with ErrIdle when none came for idle.
type watch struct {
	ctx   context.Context
	idle  time.Duration
	timer *time.Timer
	mu    sync.Mutex
	at    string
}

func newWatch(ctx context.Context, cancel context.CancelCauseFunc, idle time.Duration) *watch {
	w := &watch{ctx: ctx, idle: idle}
	if idle > 0 {
		w.timer = time.AfterFunc(idle, func() {
			cancel(fmt.Errorf("%w for %s", ErrIdle, idle))
		})
	}
	return w
}

func (w *watch) stop() {
	if w.timer != nil {
		w.timer.Stop()
	}
}

// tick records progress.
func (w *watch) tick() {
	if w.timer != nil {
		w.timer.Reset(w.idle)
	}
}

// enter records the path being copied.
func (w *watch) enter(p string) {
	w.mu.Lock()
	w.at = p
	w.mu.Unlock()
}

// explain names the node in err, and, when the node's context ended (^C,
// no progress), says so at the path it was copying, as the cause whatever
// error the cut gave.
func (w *watch) explain(node string, err error) error {
	if cause := context.Cause(w.ctx); cause != nil && w.ctx.Err() != nil {
		w.mu.Lock()
		at := w.at
		w.mu.Unlock()
		if errors.Is(cause, context.Canceled) {
			cause = fmt.Errorf("interrupted: %w", cause)
		}
		if at != "" {
			return fmt.Errorf("%s: %s: %w", node, at, cause)
		}
		return fmt.Errorf("%s: %w", node, cause)
	}
	return fmt.Errorf("%s: %w", node, err)
}

// reader counts progress on a source, and gives its size so that an SFTP
// file writes with requests in flight (sftp.File.ReadFrom).
type reader struct {
	r    io.Reader
	w    *watch
	size int64
}

func (r *reader) Read(b []byte) (int, error) {
	if r.w.ctx.Err() != nil {
		return 0, context.Cause(r.w.ctx)
	}
	n, err := r.r.Read(b)
	if n > 0 {
		r.w.tick()
	}
	return n, err
}

func (r *reader) Size() int64 { return r.size }

// writer counts progress on a destination.
type writer struct {
	wr io.Writer
	w  *watch
}

func (w *writer) Write(b []byte) (int, error) {
	if w.w.ctx.Err() != nil {
		return 0, context.Cause(w.w.ctx)
	}
	n, err := w.wr.Write(b)
	if n > 0 {
		w.w.tick()
	}
	return n, err
}

// tempName is the temporary name beside p a file is written under.
func tempName(p string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return path.Join(path.Dir(p), "."+path.Base(p)+".smctl-"+hex.EncodeToString(b[:]))
}

// modeBits are the bits of a mode copied with -p to a node.
const modeBits = fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky

// umask is this process's file mode creation mask, read once.
var umask = sync.OnceValue(func() fs.FileMode {
	b, err := os.ReadFile("/proc/self/status")
	if err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "Umask:"); ok {
				if n, err := strconv.ParseUint(strings.TrimSpace(v), 8, 32); err == nil {
					return fs.FileMode(n) & fs.ModePerm
				}
			}
		}
	}
	return 0o022
})

// cause is err without the path an *fs.PathError repeats (the messages
// name the path already), keeping its operation.
func cause(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) && pe.Error() == err.Error() {
		msg := pe.Err.Error()
		switch {
		case pe.Err == fs.ErrNotExist: // SFTP's, bare
			msg = "no such file or directory"
		case pe.Err == fs.ErrPermission:
			msg = "permission denied"
		}
		return pe.Op + ": " + msg
	}
	return err.Error()
}

// pathErr is an error at path p of a node (its name comes with explain).
type pathErr struct {
	path string
	err  error
}

func (e *pathErr) Error() string { return e.path + ": " + cause(e.err) }
func (e *pathErr) Unwrap() error { return e.err }

// at wraps err as failing at p: "n0003: /tmp/x: create: permission
// denied" once explain has named the node.
func at(p string, err error) error {
	if err == nil {
		return nil
	}
	var pe *pathErr
	if errors.As(err, &pe) {
		return err
	}
	return &pathErr{path: p, err: err}
}
