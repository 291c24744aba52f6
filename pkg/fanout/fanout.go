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
package fanout

import (
	"context"

	"golang.org/x/sync/errgroup"
)

// DefaultLimit is the parallelism used when a limit below 1 is given.
const DefaultLimit = 64

// Result is the outcome of one item.
type Result[T any] struct {
	Index int
	Value T
	Err   error
}

// Each runs fn(ctx, i) for i in [0, n) with at most limit running at once and
// calls emit for each result in index order, from the calling goroutine.
// It returns when every started fn has returned and every result has been
// emitted; no goroutine outlives it. A caller wanting progress counts
// finished items inside fn.
func Each[T any](ctx context.Context, n, limit int, fn func(ctx context.Context, i int) (T, error), emit func(Result[T])) {
	if limit < 1 {
		limit = DefaultLimit
	}
	results := make([]Result[T], n)
	ready := make([]chan struct{}, n)
	for i := range ready {
		ready[i] = make(chan struct{})
	}
	var g errgroup.Group // not WithContext: a failed item must not cancel the rest
	g.SetLimit(limit)
	dispatched := make(chan struct{})
	go func() {
		defer close(dispatched)
		for i := 0; i < n; i++ {
			if err := ctx.Err(); err != nil {
				results[i] = Result[T]{Index: i, Err: err}
				close(ready[i])
				continue
			}
			g.Go(func() error {
				v, err := fn(ctx, i)
				results[i] = Result[T]{Index: i, Value: v, Err: err}
				close(ready[i])
				return nil
			})
		}
	}()
	for i := 0; i < n; i++ {
		<-ready[i]
		emit(results[i])
	}
	<-dispatched
	_ = g.Wait() // workers never return errors; this only waits for them
}

// All runs fn over n items and returns every result in input order.
func All[T any](ctx context.Context, n, limit int, fn func(ctx context.Context, i int) (T, error)) []Result[T] {
	out := make([]Result[T], 0, n)
	Each(ctx, n, limit, fn, func(r Result[T]) { out = append(out, r) })
	return out
}
