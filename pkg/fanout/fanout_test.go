package fanout

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

func TestOrderAndIsolation(t *testing.T) {
	const n = 200
	var running, peak atomic.Int32
	res := All(context.Background(), n, 8, func(ctx context.Context, i int) (string, error) {
		r := running.Add(1)
		for {
			p := peak.Load()
			if r <= p || peak.CompareAndSwap(p, r) {
				break
			}
		}
		defer running.Add(-1)
		time.Sleep(time.Duration((n-i)%7) * time.Millisecond)
		if i%10 == 3 {
			return "", fmt.Errorf("item %d failed", i)
		}
		return fmt.Sprint(i), nil
	})
	if len(res) != n {
		t.Fatalf("got %d results, want %d", len(res), n)
	}
	for i, r := range res {
		if r.Index != i {
			t.Fatalf("result %d has index %d", i, r.Index)
		}
		if i%10 == 3 {
			if r.Err == nil {
				t.Errorf("item %d: want error", i)
			}
			continue
		}
		if r.Err != nil || r.Value != fmt.Sprint(i) {
			t.Errorf("item %d = %q, %v", i, r.Value, r.Err)
		}
	}
	if p := peak.Load(); p > 8 || p < 2 {
		t.Errorf("peak parallelism %d, want 2..8", p)
	}
}

func TestCancelStopsStarting(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var started atomic.Int32
	res := All(ctx, 100, 1, func(ctx context.Context, i int) (int, error) {
		started.Add(1)
		if i == 4 {
			cancel()
		}
		return i, nil
	})
	if s := started.Load(); s > 6 {
		t.Errorf("%d items started after cancel at item 4", s)
	}
	if !errors.Is(res[99].Err, context.Canceled) {
		t.Errorf("last item error = %v, want context.Canceled", res[99].Err)
	}
}

func TestEmitStreamsInOrder(t *testing.T) {
	// Item 0 is slow; items after it must wait for it to be emitted first.
	var order []int
	Each(context.Background(), 5, 5, func(ctx context.Context, i int) (int, error) {
		if i == 0 {
			time.Sleep(20 * time.Millisecond)
		}
		return i, nil
	}, func(r Result[int]) { order = append(order, r.Value) })
	for i, v := range order {
		if v != i {
			t.Fatalf("emit order %v", order)
		}
	}
}

func BenchmarkEach2000(b *testing.B) {
	for b.Loop() {
		All(context.Background(), 2000, 64, func(ctx context.Context, i int) (int, error) { return i, nil })
	}
}
