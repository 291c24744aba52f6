package ha

import (
	"context"
	"time"
)

// tick is how often high availability looks at the tree.
const tick = 500 * time.Millisecond

// Run is high availability's part of smctl serve, until ctx ends: every
// tick, over a tree opened for it (so a changed smctl.yaml, new devices
// and operators' writes are seen), the checks that are due and a Pass.
func (h *HA) Run(ctx context.Context, open Opener) {
	for first := true; ; first = false {
		if t, s, err := open(); err == nil {
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
