package ha

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// tick is how often high availability looks at the tree.
const tick = 500 * time.Millisecond

// Run is high availability's part of smctl serve, until ctx ends: every
// tick, over a tree opened for it (so a changed smctl.yaml, new devices
// and operators' writes are seen), the checks that are due and a Pass.
// It returns once the work it started in the background has ended.
func (h *HA) Run(ctx context.Context, open Opener) {
	defer h.wg.Wait() // the work in the background ends with ctx too
	for first := true; ; first = false {
		t, s, err := open()
		h.mu.Lock()
		h.openErr = err
		h.mu.Unlock()
		if err == nil {
			h.mu.Lock()
			h.settings = s
			h.mu.Unlock()
			if first {
				ensureLog(ctx, t) // there to be watched before anything happens
			}
			h.scheduleChecks(ctx, t, open)
			h.Pass(ctx, t, open)
			t.Close()
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(tick):
		}
	}
}

// Status is what smctl serve --status shows of high availability: why it
// does not run, or how many checks it runs and how many of them are in a
// HARD problem, the failed hypervisors, and its last event.
func (h *HA) Status() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.openErr != nil {
		return []string{"not running: " + h.openErr.Error()}
	}
	devs := map[string]bool{}
	hard := 0
	for k := range h.next {
		dev, _, _ := strings.Cut(k, "\x00")
		devs[dev] = true
		if st := h.states[k]; strings.Contains(st, " HARD ") && !strings.HasPrefix(st, "OK ") {
			hard++
		}
	}
	out := []string{fmt.Sprintf("checks: %d on %d devices, %d in a HARD problem", len(h.next), len(devs), hard)}
	if len(h.failedHosts) > 0 {
		out = append(out, "failed hypervisors: "+strings.Join(h.failedHosts, ", "))
	}
	if h.lastLog != "" {
		out = append(out, "last event: "+h.lastLog)
	}
	return out
}
