// Package fanout runs one function over many inputs with bounded
// parallelism and hands back the results in input order.
//
// It is an errgroup of at most limit workers in which every item records
// its own result in its own slot and every worker returns nil, so one
// failing item never cancels the others. Only the caller's context ends the run early: items not yet
// started then get the context's error as their result.
//
// Results are delivered in input order as soon as every earlier item is
// done, so a caller printing them streams output for thousands of nodes
// without waiting for the slowest one to start printing.
//
// # Memory
//
// Memory is bounded by the parallelism, not by the number of items. An
// item is outstanding from the moment it starts until its result has been
// emitted. By default at most Window(limit) = 2*limit items are
// outstanding at once: item i does not start before item i-Window(limit)
// has been emitted. A result is dropped as soon as emit returns. A run over
// 2000 nodes printing 1 MiB each with a limit of 64 thus holds at most 128
// results (128 MiB), not 2000.
//
// The window is the price of input order. Without one, a slow first item
// would keep every later result in memory until it finished; with a
// window of exactly limit, one slow item would stop every other from
// starting. But a count alone stalls a run whose results are small: over
// 2000 nodes of which 40 hang until their timeout, every hung node holds
// the window shut for its whole timeout, one after another. EachWeighed
// therefore also lets items start past the window while the results
// waiting to be emitted weigh less than a budget (Weight): small results
// never stall, and large ones are still bounded by the budget.
package fanout

import (
	"context"
	"sync"

	"golang.org/x/sync/errgroup"
)

// DefaultLimit is the parallelism used when a limit below 1 is given.
const DefaultLimit = 64

// Window is how many items may be outstanding (started and not yet
// emitted) at once for a given limit: twice the limit.
func Window(limit int) int {
	if limit < 1 {
		limit = DefaultLimit
	}
	return 2 * limit
}

// Result is the outcome of one item.
type Result[T any] struct {
	Index int
	Value T
	Err   error
}

// slot holds one outstanding item's result until it is emitted.
type slot[T any] struct {
	r      Result[T]
	weight int64
	done   chan struct{}
}

// Each runs fn(ctx, i) for i in [0, n) with at most limit running at once and
// calls emit for each result in index order, from the calling goroutine.
// At most Window(limit) items are started and not yet emitted at any time
// (see the package comment). It returns when every started fn has returned
// and every result has been emitted; no goroutine outlives it, even if emit
// panics. A caller wanting progress counts finished items inside fn.
func Each[T any](ctx context.Context, n, limit int, fn func(ctx context.Context, i int) (T, error), emit func(Result[T])) {
	EachWeighed(ctx, n, limit, Weight[T]{}, fn, emit)
}

// Weight tells EachWeighed what results hold. Of returns the bytes a result
// holds until it is emitted (its content, plus what the caller keeps per
// item); items may start past the window while the results waiting to be
// emitted weigh at most Budget in all. A zero Weight keeps the window alone.
type Weight[T any] struct {
	Of     func(T) int64
	Budget int64
}

// EachWeighed is Each where the window may open further while the
// results waiting to be emitted weigh less than w.Budget (see Weight and
// the package comment).
func EachWeighed[T any](ctx context.Context, n, limit int, w Weight[T], fn func(ctx context.Context, i int) (T, error), emit func(Result[T])) {
	if n <= 0 {
		return
	}
	if limit < 1 {
		limit = DefaultLimit
	}
	window := min(Window(limit), n)
	var (
		mu          sync.Mutex
		cond        = sync.NewCond(&mu)
		queue       []*slot[T] // started, not yet taken by the emitter, in order
		outstanding int        // started and not yet emitted
		held        int64      // weight of results finished and not yet emitted
		allStarted  bool       // the dispatcher is done
		stopped     bool       // Each is returning (emit panicked)
	)
	// mayStart: within the window, or the results waiting weigh less than
	// the budget.
	mayStart := func() bool {
		return outstanding < window || w.Of != nil && held < w.Budget
	}
	// The work: each item's fn, its result recorded in its slot.
	type job struct {
		i int
		s *slot[T]
	}
	run := func(j job) {
		v, err := fn(ctx, j.i)
		j.s.r = Result[T]{Index: j.i, Value: v, Err: err}
		if w.Of != nil {
			j.s.weight = w.Of(v)
			mu.Lock()
			held += j.s.weight
			mu.Unlock()
		}
		close(j.s.done)
	}
	// Workers live for the whole run and take items one after another: a
	// goroutine per item would grow a new stack for each (copying it a few
	// times on the way down an operation), which cost a sixth of the CPU
	// of a cat of 2000 stored files. One is started whenever an item finds
	// none idle, up to limit.
	var g errgroup.Group // not WithContext: a failed item must not cancel the rest
	jobs := make(chan job)
	workers := 0
	dispatched := make(chan struct{})
	go func() {
		defer close(dispatched)
		defer func() {
			close(jobs)
			mu.Lock()
			allStarted = true
			cond.Broadcast()
			mu.Unlock()
		}()
		for i := 0; i < n; i++ {
			s := &slot[T]{done: make(chan struct{})}
			mu.Lock()
			for !mayStart() && !stopped {
				cond.Wait()
			}
			if stopped {
				mu.Unlock()
				return
			}
			outstanding++
			queue = append(queue, s)
			cond.Broadcast()
			mu.Unlock()
			if err := ctx.Err(); err != nil {
				s.r = Result[T]{Index: i, Err: err}
				close(s.done)
				continue
			}
			select {
			case jobs <- job{i, s}:
				continue
			default:
			}
			if workers < limit {
				workers++
				g.Go(func() error {
					for j := range jobs {
						run(j)
					}
					return nil
				})
			}
			jobs <- job{i, s}
		}
	}()
	defer func() {
		mu.Lock()
		stopped = true
		cond.Broadcast()
		mu.Unlock()
		<-dispatched
		_ = g.Wait() // workers never return errors; this only waits for them
	}()
	for {
		mu.Lock()
		for len(queue) == 0 && !allStarted {
			cond.Wait()
		}
		if len(queue) == 0 {
			mu.Unlock()
			return
		}
		s := queue[0]
		queue[0] = nil
		queue = queue[1:]
		mu.Unlock()
		<-s.done
		r := s.r
		s.r = Result[T]{} // the emitter's copy is the last one
		emit(r)
		mu.Lock()
		outstanding--
		held -= s.weight
		cond.Broadcast()
		mu.Unlock()
	}
}

// All runs fn over n items and returns every result in input order.
// Unlike Each it keeps every result, so its memory grows with n.
func All[T any](ctx context.Context, n, limit int, fn func(ctx context.Context, i int) (T, error)) []Result[T] {
	out := make([]Result[T], 0, max(n, 0))
	Each(ctx, n, limit, fn, func(r Result[T]) { out = append(out, r) })
	return out
}
