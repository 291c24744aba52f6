package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"time"

	"github.com/smctl/smctl/pkg/fanout"
	"github.com/smctl/smctl/pkg/vtree"
)

// outcome is the result of one path of a fan-out.
type outcome struct {
	path    string
	op      string
	content []byte
	err     error
	elapsed time.Duration
}

// jsonLine is one line of -o json output.
type jsonLine struct {
	Path      string  `json:"path"`
	Op        string  `json:"op"`
	RC        int     `json:"rc"`
	Content   *string `json:"content,omitempty"`
	Error     string  `json:"error,omitempty"`
	ElapsedMS int64   `json:"elapsed_ms"`
}

func writeJSON(w io.Writer, o outcome) {
	l := jsonLine{Path: o.path, Op: o.op, RC: vtree.RC(o.err), ElapsedMS: o.elapsed.Milliseconds()}
	if o.err != nil {
		l.Error = o.err.Error()
	} else {
		s := string(o.content)
		l.Content = &s
	}
	b, _ := json.Marshal(l)
	fmt.Fprintf(w, "%s\n", b)
}

// heapLimit is the soft memory limit of a fan-out of the given width:
// 64 MiB for the process and 2 MiB per slot: the window holds at most two
// results per slot (a command printing 1 MiB on every node fits), and
// results held past it weigh at most heldBudget.
//
// Main collects garbage only when the heap has grown to five times what
// is live (GOGC 400), which keeps small fan-outs fast; with large results
// that lets 2000 nodes printing 1 MiB each reach 800 MB of RSS for 160 MB
// live. Under the limit the collector runs sooner instead: peak RSS stays
// near the limit while what is live fits in it. The limit is soft: a fan-out
// holding more only costs more collections, and $GOMEMLIMIT overrides it.
func heapLimit(width int) int64 {
	return 64<<20 + int64(max(width, 1))*2<<20
}

// limitHeap applies heapLimit unless $GOMEMLIMIT is set.
func limitHeap(width int) {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(heapLimit(width))
	}
}

// heldBudget is what outcomes waiting behind a slow node (to be emitted in
// input order) may weigh, past the fan-out's window: small outcomes (a
// write's, a status) never stall the run behind a node that hangs, large
// ones are bounded.
const heldBudget = 32 << 20

// outcomeWeight is what an outcome holds until it is emitted: its content
// and path, and the bookkeeping around it.
func outcomeWeight(o outcome) int64 { return int64(len(o.content)+len(o.path)) + 512 }

// runAll applies fn to every path through the fan-out and hands each
// outcome to emit in input order. It returns the number that failed.
// Memory is bounded by the width, not the number of paths (see limitHeap,
// heldBudget and the fanout package).
func runAll(ctx context.Context, ios *IOStreams, width int, verb string, paths []string,
	fn func(ctx context.Context, p string) ([]byte, error), emit func(outcome)) int {
	limitHeap(width)
	prog := startProgress(ios, len(paths), verb)
	failed := 0
	w := fanout.Weight[outcome]{Of: outcomeWeight, Budget: heldBudget}
	fanout.EachWeighed(ctx, len(paths), width, w, func(ctx context.Context, i int) (outcome, error) {
		start := time.Now()
		b, err := fn(ctx, paths[i])
		prog.add(err == nil)
		return outcome{path: paths[i], content: b, err: err, elapsed: time.Since(start)}, nil
	}, func(r fanout.Result[outcome]) {
		o := r.Value
		if r.Err != nil { // cancelled before it started
			o = outcome{path: paths[r.Index], err: r.Err}
		}
		if o.err != nil {
			failed++
		}
		emit(o)
	})
	prog.finish()
	return failed
}
