// Package fanout runs one function over many inputs with bounded
// parallelism and hands back the results in input order.
//
// It is an errgroup with SetLimit in which every worker records its own
// result in its own slot and returns nil, so one failing item never cancels
// the others. Only the caller's context ends the run early: items not yet
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
// emitted, and at most Window(limit) = 2*limit items are outstanding at
// once: item i does not start before item i-Window(limit) has been
// emitted. A result is dropped as soon as emit returns. A run over 2000
// nodes printing 1 MiB each with a limit of 64 thus holds at most 128
// results (128 MiB), not 2000.
//
// The window is the price of input order. Without one, a slow first item
// would keep every later result in memory until it finished; with a
// window of exactly limit, one slow item would stop every other from
// starting. Twice the limit lets the other workers run on through a full
// window of results past a slow item (limit more once the running ones are
// done) before they wait for it, while keeping memory O(limit * output).
package fanout

import (
	"context"

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
	r    Result[T]
	done chan struct{}
}

// Each runs fn(ctx, i) for i in [0, n) with at most limit running at once and
// calls emit for each result in index order, from the calling goroutine.
// At most Window(limit) items are started and not yet emitted at any time
// (see the package comment). It returns when every started fn has returned
// and every result has been emitted; no goroutine outlives it, even if emit
// panics. A caller wanting progress counts finished items inside fn.
func Each[T any](ctx context.Context, n, limit int, fn func(ctx context.Context, i int) (T, error), emit func(Result[T])) {
	if n <= 0 {
		return
	}
	if limit < 1 {
		limit = DefaultLimit
	}
	window := min(Window(limit), n)
	// tokens holds one token per outstanding item: the dispatcher puts
	// one in before starting an item, the emitter takes it out after
	// emitting that item.
	tokens := make(chan struct{}, window)
	// order hands the emitter each item's slot in index order; it never
	// holds more than window slots since each has a token.
	order := make(chan *slot[T], window)
	stop := make(chan struct{}) // closed when Each returns
	var g errgroup.Group        // not WithContext: a failed item must not cancel the rest
	g.SetLimit(limit)
	dispatched := make(chan struct{})
	go func() {
		defer close(dispatched)
		defer close(order)
		for i := 0; i < n; i++ {
			select {
			case <-stop: // emit panicked: start nothing more
				return
			default:
			}
			select {
			case tokens <- struct{}{}:
			case <-stop:
				return
			}
			s := &slot[T]{done: make(chan struct{})}
			order <- s
			if err := ctx.Err(); err != nil {
				s.r = Result[T]{Index: i, Err: err}
				close(s.done)
				continue
			}
			g.Go(func() error {
				v, err := fn(ctx, i)
				s.r = Result[T]{Index: i, Value: v, Err: err}
				close(s.done)
				return nil
			})
		}
	}()
	defer func() {
		close(stop)
		<-dispatched
		_ = g.Wait() // workers never return errors; this only waits for them
	}()
	for s := range order {
		<-s.done
		r := s.r
		s.r = Result[T]{} // the emitter's copy is the last one
		emit(r)
		<-tokens
	}
}

// All runs fn over n items and returns every result in input order.
// Unlike Each it keeps every result, so its memory grows with n.
func All[T any](ctx context.Context, n, limit int, fn func(ctx context.Context, i int) (T, error)) []Result[T] {
	out := make([]Result[T], 0, max(n, 0))
	Each(ctx, n, limit, fn, func(r Result[T]) { out = append(out, r) })
	return out
}
