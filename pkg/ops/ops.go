// Package ops runs file operations over many paths of a tree: read, write
// and grep, fanned out with a bound, yielding one Outcome per path in input
// order. Gathering identical results (Gather), the summary by class
// (Tally), the node labels of paths (Labels) and re-targeting by last
// status (Only) live here too, so that every printer of the CLI sees the
// same outcomes: the CLI only chooses how to print them.
//
// The shape is rclone's fs/operations and ClusterShell's MsgTree: the
// library yields results, the command prints them.
//
// # Memory
//
// Run holds at most fanout.Window(width) outcomes at once plus results
// waiting behind a slow path up to a byte budget (HeldBudget): a run over
// 2000 nodes costs what its width costs, not what 2000 results cost.
// Gather keeps each distinct content once and moves them to an unlinked
// temporary file past a budget.
package ops

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/smctl/smctl/pkg/fanout"
	"github.com/smctl/smctl/pkg/status"
	"github.com/smctl/smctl/pkg/vtree"
)

// Tree is what operations need of a tree: *vtree.Tree, or a client of a
// process serving one.
type Tree interface {
	Read(ctx context.Context, p string, opts vtree.ReadOptions) (*vtree.Result, error)
	Write(ctx context.Context, p string, data []byte) (*vtree.Result, error)
	StatusReader
}

// StatusReader gives the status a path's last agent run left.
type StatusReader interface {
	Status(ctx context.Context, p string) (rc int, msg string, ok bool)
	// Last is the whole of it: what ran, when, and whether the content
	// is older than a failed run.
	Last(ctx context.Context, p string) (vtree.Last, bool)
}

var _ Tree = (*vtree.Tree)(nil)

// Op is an operation on many paths.
type Op string

// The operations.
const (
	Read  Op = "read"
	Write Op = "write"
	Grep  Op = "grep"
)

// Outcome is what one path's operation gave.
type Outcome struct {
	Index int    // position in the input
	Path  string // virtual path
	Label string // what tells it apart from the other paths (the node name)
	Op    Op
	// Content is the file's content (Read), what the write left in the
	// file (Write, with Options.KeepContent), or the selected lines (Grep).
	// A failure may have content too: a command's output when it exited
	// non-zero, the last value a failed read agent left (Stale).
	Content []byte
	Matches int   // Grep: lines selected
	Err     error // the operation failed, or the file's last run did (*LastRunError)
	// RC is the operation's code: status.Of(Err) as the tree reports it;
	// for a stored file whose last run failed, that run's code.
	RC status.Code
	// Class is how a summary counts the path: the class of RC.
	Class string
	// HasContent: the file's content was had (Content, possibly empty,
	// is what it holds), whether or not the operation failed.
	HasContent bool
	// Stale: Content is older than the failure Err reports.
	Stale bool
	// Last is the status the file's last agent run left, with
	// Options.Detail (nil when none did).
	Last *vtree.Last
	// Stderr is a command's whole standard error, with Options.Detail.
	Stderr  []byte
	Elapsed time.Duration
}

// ErrLastRunFailed is the error of a read of a stored file whose last
// agent run failed: its content is printed, but never as a success.
var ErrLastRunFailed = errors.New("last run failed")

// LastRunError reports that the file at Path was read as stored, but its
// last agent run failed: Last is that run's status.
type LastRunError struct {
	Path string
	Last vtree.Last
}

func (e *LastRunError) Error() string {
	msg := fmt.Sprintf("%s: %v: exit %d", e.Path, ErrLastRunFailed, e.Last.RC)
	if e.Last.Message != "" {
		msg += ": " + e.Last.Message
	}
	if e.Last.Stale {
		msg += " (the content is from an earlier run)"
	}
	return msg
}

func (e *LastRunError) Unwrap() error { return ErrLastRunFailed }

// StatusCode implements status.Coder: the code of the failed run.
func (e *LastRunError) StatusCode() status.Code { return status.Code(e.Last.RC) }

// Failed reports whether the operation itself failed.
func (o *Outcome) Failed() bool { return o.Err != nil }

// Options tune Run.
type Options struct {
	Width int               // paths at once (fanout.DefaultLimit when < 1)
	Read  vtree.ReadOptions // Read and Grep
	Value []byte            // Write: the value written
	// KeepContent keeps what a write left in the file in Outcome.Content;
	// otherwise writes keep nothing (over thousands of paths, nothing that
	// will not be printed).
	KeepContent bool
	// Match selects the lines of a Grep.
	Match func(line []byte) bool
	// Detail fills Outcome.Last and Outcome.Stderr (for -o json).
	Detail bool
	// Done, when set, is called as each path finishes, from the worker
	// (for progress reports); it must be safe for concurrent use.
	Done func(failed bool)
	// HeldBudget bounds the bytes of outcomes held waiting behind a slow
	// path (DefaultHeldBudget when 0).
	HeldBudget int64
}

// DefaultHeldBudget is what outcomes waiting behind a slow node (to be
// emitted in input order) may weigh, past the fan-out's window: small
// outcomes never stall the run behind a node that hangs, large ones are
// bounded.
const DefaultHeldBudget = 32 << 20

func weight(o Outcome) int64 { return int64(len(o.Content)+len(o.Path)) + 512 }

// Run applies op to every path with at most o.Width at once and hands each
// outcome to emit, in input order, from the calling goroutine. It returns
// the number of paths whose operation failed. One path's failure never
// stops the others; a cancelled ctx gives the paths not yet started its
// error.
func Run(ctx context.Context, t Tree, op Op, paths []string, o Options, emit func(Outcome)) int {
	labels := Labels(paths)
	budget := o.HeldBudget
	if budget == 0 {
		budget = DefaultHeldBudget
	}
	failed := 0
	w := fanout.Weight[Outcome]{Of: weight, Budget: budget}
	fanout.EachWeighed(ctx, len(paths), o.Width, w, func(ctx context.Context, i int) (Outcome, error) {
		start := time.Now()
		out := Outcome{Index: i, Path: paths[i], Label: labels[i], Op: op}
		if err := ctx.Err(); err != nil {
			// ^C came before this path's turn: it is not started.
			out.Err = interrupted(ctx, op, paths[i], err, true)
		} else {
			apply(ctx, t, op, paths[i], &o, &out)
			out.Err = interrupted(ctx, op, paths[i], out.Err, false)
		}
		out.Elapsed = time.Since(start)
		out.RC = code(out.Err)
		out.Class = out.RC.Class()
		if o.Detail {
			detail(ctx, t, &out)
		}
		if o.Done != nil {
			o.Done(out.Err != nil)
		}
		return out, nil
	}, func(r fanout.Result[Outcome]) {
		out := r.Value
		if r.Err != nil { // cancelled before it started
			out = Outcome{Index: r.Index, Path: paths[r.Index], Label: labels[r.Index], Op: op, Err: interrupted(ctx, op, paths[r.Index], r.Err, true)}
			out.RC = code(out.Err)
			out.Class = out.RC.Class()
		}
		if out.Err != nil {
			failed++
		}
		emit(out)
	})
	return failed
}

// interrupted names the path in the error of an operation that ^C (ctx
// cancelled) cut short, and says so: "read P: interrupted", or "write P:
// interrupted before it started" for a path the run never reached, rather
// than the bare "context canceled" the context gives. The error still wraps
// its cause (errors.Is(err, context.Canceled)) and status.ErrInterrupted,
// so its code is 130 and a summary counts it "interrupted". Other errors,
// those of an agent that reported its own interruption among them ("exit
// 130: interrupted"), are kept as they are.
func interrupted(ctx context.Context, op Op, p string, err error, notStarted bool) error {
	if err == nil || ctx.Err() == nil || !errors.Is(err, context.Canceled) {
		return err
	}
	var ae *vtree.AgentError
	if errors.As(err, &ae) {
		return err
	}
	verb := "read" // grep reads
	if op == Write {
		verb = "write"
	}
	msg := "interrupted"
	if notStarted {
		msg = "interrupted before it started"
	}
	return &fs.PathError{Op: verb, Path: p, Err: status.Mark(errors.New(msg), &cause{err})}
}

// cause keeps the chain of an interrupted operation's error (its
// context.Canceled) behind the message interrupted gives it, marked as
// status.ErrInterrupted.
type cause struct{ err error }

func (c *cause) Error() string   { return c.err.Error() }
func (c *cause) Unwrap() []error { return []error{c.err, status.ErrInterrupted} }

// code is the status of an operation's error as the tree reports it and
// records it in NAME.status: vtree.RC, which knows the tree's own errors
// (an agent's failure, a bad .type, credentials in the wrong place).
//
// Compatibility: it becomes status.Of once the tree's errors carry their
// codes (status.Coder) and vtree.RC is status.Of; until then the two differ
// on errors the tree does not classify (a cancelled operation is 1 here).
func code(err error) status.Code { return status.Of(err) }

// apply runs op on p and fills out's Content, Matches, Stale and Err.
func apply(ctx context.Context, t Tree, op Op, p string, o *Options, out *Outcome) {
	if op == Write {
		res, err := t.Write(ctx, p, o.Value)
		out.Err = err
		if res != nil && o.KeepContent {
			out.Content, out.Stderr = res.Content, res.Stderr // a failed command's output too
			out.HasContent = true
		}
		return
	}
	res, err := t.Read(ctx, p, o.Read)
	out.Err = err
	if res == nil {
		return
	}
	content := res.Content
	out.Stale, out.HasContent = res.Stale, true
	if err == nil && !res.Ran {
		// Stored content: never presented as a success when the run
		// that left it failed.
		last, ok := vtree.Last{}, false
		if res.Stored { // read with the content
			if res.Last != nil {
				last, ok = *res.Last, true
			}
		} else {
			last, ok = t.Last(ctx, p)
		}
		if ok && last.RC != 0 {
			out.Err = &LastRunError{Path: p, Last: last}
			out.Stale = last.Stale
		}
	}
	if op == Grep {
		content, out.Matches = Select(content, o.Match)
	}
	out.Content = content
}

// detail fills out.Last and out.Stderr: the status the path's last run
// left and its whole stderr.
func detail(ctx context.Context, t Tree, out *Outcome) {
	if last, ok := t.Last(ctx, out.Path); ok {
		out.Last = &last
	}
	if out.Stderr == nil && out.Last != nil {
		if res, err := t.Read(ctx, out.Path+vtree.StderrSuffix, vtree.ReadOptions{}); err == nil && len(res.Content) > 0 {
			out.Stderr = res.Content
		}
	}
}

// Select returns the lines of content for which match is true, each ending
// in a newline, and their number. A final line without a newline counts
// as a line.
func Select(content []byte, match func([]byte) bool) ([]byte, int) {
	var out []byte
	n := 0
	for _, l := range SplitLines(content) {
		if match == nil || match(l) {
			out = append(append(out, l...), '\n')
			n++
		}
	}
	return out, n
}

// SplitLines splits content into lines without their newlines; a final
// line without a newline counts as a line.
func SplitLines(b []byte) [][]byte {
	if len(b) == 0 {
		return nil
	}
	b = bytes.TrimSuffix(b, []byte("\n"))
	return bytes.Split(b, []byte("\n"))
}
