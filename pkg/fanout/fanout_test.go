package fanout

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
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

// TestWindow checks that at most Window(limit) = 2*limit items are
// outstanding (started and not yet emitted) at any time, and that a slow
// first item lets exactly a full window of later items run before the
// rest wait for it.
func TestWindow(t *testing.T) {
	tests := []struct {
		name      string
		n, limit  int
		slowFirst bool
		window    int // the most items outstanding at once
	}{
		{"limit 1, jittered", 20, 1, false, 2},
		{"limit 2, slow first", 20, 2, true, 4},
		{"limit 3, slow first", 50, 3, true, 6},
		{"limit 8, slow first", 200, 8, true, 16},
		{"limit 64, slow first", 2000, 64, true, 128},
		{"window larger than n", 5, 4, true, 5},
		{"limit 4, jittered", 300, 4, false, 8},
		{"limit 16, jittered", 500, 16, false, 32},
		{"default limit", 300, 0, true, 2 * DefaultLimit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var outstanding, peak, started, finished atomic.Int64
			startedBeforeFirst := int64(-1)
			emitted := 0
			Each(context.Background(), tt.n, tt.limit, func(ctx context.Context, i int) (int, error) {
				o := outstanding.Add(1)
				for {
					p := peak.Load()
					if o <= p || peak.CompareAndSwap(p, o) {
						break
					}
				}
				started.Add(1)
				defer finished.Add(1)
				switch {
				case i == 0 && tt.slowFirst:
					// Wait until the rest of the window is done, then give
					// a fan-out without a window time to start more.
					deadline := time.Now().Add(5 * time.Second)
					for finished.Load() < int64(tt.window-1) && time.Now().Before(deadline) {
						time.Sleep(time.Millisecond)
					}
					time.Sleep(30 * time.Millisecond)
					startedBeforeFirst = started.Load()
				case !tt.slowFirst:
					time.Sleep(time.Duration((i*7919)%5) * time.Millisecond / 2)
				}
				return i, nil
			}, func(r Result[int]) {
				if r.Value != emitted || r.Index != emitted {
					t.Fatalf("emitted %d (index %d), want %d", r.Value, r.Index, emitted)
				}
				emitted++
				outstanding.Add(-1)
			})
			if emitted != tt.n {
				t.Fatalf("emitted %d results, want %d", emitted, tt.n)
			}
			if p := peak.Load(); p > int64(tt.window) {
				t.Errorf("%d items outstanding at once, want at most %d", p, tt.window)
			}
			if tt.slowFirst {
				if startedBeforeFirst != int64(tt.window) {
					t.Errorf("%d items started while the first was running, want the window (%d)", startedBeforeFirst, tt.window)
				}
			}
		})
	}
}

// TestEmitPanic checks that a panic in emit reaches the caller, that
// nothing more starts, and that no worker outlives Each.
func TestEmitPanic(t *testing.T) {
	tests := []struct {
		name     string
		limit    int
		panicsAt int
	}{
		{"first", 2, 0},
		{"later", 4, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var running, started atomic.Int64
			func() {
				defer func() {
					if r := recover(); r != "boom" {
						t.Errorf("recovered %v, want boom", r)
					}
				}()
				Each(context.Background(), 1000, tt.limit, func(ctx context.Context, i int) (int, error) {
					running.Add(1)
					defer running.Add(-1)
					started.Add(1)
					time.Sleep(time.Millisecond)
					return i, nil
				}, func(r Result[int]) {
					if r.Index == tt.panicsAt {
						panic("boom")
					}
				})
			}()
			if r := running.Load(); r != 0 {
				t.Errorf("%d workers still running after Each returned", r)
			}
			if s, most := started.Load(), int64(tt.panicsAt+1+2*Window(tt.limit)); s > most {
				t.Errorf("%d items started, want at most %d after emit panicked at %d", s, most, tt.panicsAt)
			}
		})
	}
}

// With weighed results, a slow item stalls nothing while the results
// waiting behind it are light, and as many as the budget allows when they
// are heavy.
func TestWeighedWindow(t *testing.T) {
	for _, tt := range []struct {
		name          string
		weight        int64
		budget        int64
		limit, n      int
		wantStartedLE int // most items started while item 0 is held; -1: all
	}{
		{"light results never stall", 1, 1 << 20, 4, 200, -1},
		{"heavy results stop at the budget", 100, 1000, 4, 200, 2*4 + 1000/100 + 4},
		{"no weight: the window alone", 0, 0, 4, 200, 2 * 4},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := Weight[int]{Budget: tt.budget}
			if tt.weight > 0 {
				w.Of = func(int) int64 { return tt.weight }
			}
			s, finish := runHeld(tt.n, tt.limit, w)
			switch {
			case tt.wantStartedLE < 0 && s != int64(tt.n):
				t.Errorf("%d of %d started behind a held item with light results", s, tt.n)
			case tt.wantStartedLE >= 0 && s > int64(tt.wantStartedLE):
				t.Errorf("%d started behind a held item, want at most %d", s, tt.wantStartedLE)
			case tt.wantStartedLE >= 0 && s < int64(tt.limit):
				t.Errorf("only %d started", s)
			}
			checkInOrder(t, finish(), tt.n)
		})
	}
}

func TestWindowSize(t *testing.T) {
	for _, tt := range []struct{ limit, want int }{
		{1, 2}, {3, 6}, {64, 128}, {0, 2 * DefaultLimit}, {-5, 2 * DefaultLimit},
	} {
		t.Run(fmt.Sprint(tt.limit), func(t *testing.T) {
			if got := Window(tt.limit); got != tt.want {
				t.Errorf("Window(%d) = %d, want %d", tt.limit, got, tt.want)
			}
		})
	}
}

// The budget is a strict bound: once the results waiting behind a held
// item weigh the budget exactly, nothing more starts past the window.
func TestWeighedBudgetIsStrict(t *testing.T) {
	const limit, n, budget = 2, 50, 1000
	for _, tt := range []struct {
		name       string
		heavy      int64 // the weight of item 1; every other result weighs 0
		budget     int64
		mostInRun  int // most items started while item 0 is held
		allStarted bool
	}{
		{"results weigh the budget", budget, budget, 2 * limit, false},
		{"results weigh less than the budget", budget - 1, budget, n, true},
		{"zero budget, weightless results", 0, 0, 2 * limit, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := Weight[int]{Budget: tt.budget, Of: func(i int) int64 {
				if i == 1 {
					return tt.heavy
				}
				return 0
			}}
			s, finish := runHeld(n, limit, w)
			if s > int64(tt.mostInRun) || tt.allStarted && s != n {
				t.Errorf("%d of %d items started behind a held item, want at most %d", s, n, tt.mostInRun)
			}
			checkInOrder(t, finish(), n)
		})
	}
}

// No item, or fewer than none: nothing runs, nothing is emitted.
func TestNoItems(t *testing.T) {
	for _, n := range []int{0, -1} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			Each(context.Background(), n, 4, func(ctx context.Context, i int) (int, error) {
				t.Errorf("fn(%d) called", i)
				return 0, nil
			}, func(r Result[int]) { t.Errorf("emit(%v) called", r) })
			if res := All(context.Background(), n, 4, func(ctx context.Context, i int) (int, error) { return i, nil }); len(res) != 0 {
				t.Errorf("All over %d items = %v", n, res)
			}
		})
	}
}

// runHeld runs EachWeighed over n items with item 0 held until finish is
// called, lets the run go as far as it can meanwhile, and returns how many
// items started; finish releases item 0 and returns the results.
func runHeld(n, limit int, w Weight[int]) (int64, func() []int) {
	release := make(chan struct{})
	var started, finished atomic.Int64
	done := make(chan []int)
	go func() {
		var got []int
		EachWeighed(context.Background(), n, limit, w, func(ctx context.Context, i int) (int, error) {
			started.Add(1)
			if i == 0 {
				<-release
			}
			finished.Add(1)
			return i, nil
		}, func(r Result[int]) { got = append(got, r.Value) })
		done <- got
	}()
	var last int64 = -1
	for i := 0; i < 200; i++ {
		time.Sleep(5 * time.Millisecond)
		if s := started.Load(); s == last && finished.Load() == s-1 {
			break
		} else {
			last = s
		}
	}
	return started.Load(), func() []int { close(release); return <-done }
}

// checkInOrder fails unless got is 0..n-1 in order.
func checkInOrder(t *testing.T, got []int, n int) {
	t.Helper()
	if len(got) != n {
		t.Fatalf("%d results, want %d", len(got), n)
	}
	for i, v := range got {
		if v != i {
			t.Fatalf("result %d is %d: out of order", i, v)
		}
	}
}

// goid is the running goroutine's id, from its stack trace's first line.
func goid() string {
	b := make([]byte, 64)
	b = b[:runtime.Stack(b, false)]
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return ""
	}
	return f[1]
}

// Items run on at most limit workers, each taking item after item: not a
// goroutine (and a new stack to grow) per item.
func TestWorkersReused(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]int{}
	Each(context.Background(), 1000, 4, func(ctx context.Context, i int) (int, error) {
		id := goid()
		mu.Lock()
		seen[id]++
		mu.Unlock()
		return i, nil
	}, func(Result[int]) {})
	if len(seen) == 0 || len(seen) > 4 {
		t.Errorf("1000 items ran on %d goroutines, want at most 4", len(seen))
	}
}
