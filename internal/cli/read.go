package cli

import (
	"context"
	"os"
	"runtime/debug"

	"github.com/smctl/smctl/pkg/ops"
)

// heapLimit is the soft memory limit of a fan-out of the given width:
// 64 MiB for the process and 2 MiB per slot: the window holds at most two
// results per slot (a command printing 1 MiB on every node fits), and
// results held past it weigh at most ops.DefaultHeldBudget.
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

// runOps runs op over paths through the operations layer with a progress
// report on a terminal, handing each outcome to p in input order. It
// returns the number of paths whose operation failed. Memory is bounded by
// the width, not the number of paths (see limitHeap and package ops).
func runOps(ctx context.Context, ios *IOStreams, t ops.Tree, verb string, op ops.Op, paths []string, o ops.Options, p printer) int {
	limitHeap(o.Width)
	prog := startProgress(ios, len(paths), verb)
	o.Done = func(failed bool) { prog.add(!failed) }
	n := ops.Run(ctx, t, op, paths, o, p.Print)
	prog.finish()
	return n
}
