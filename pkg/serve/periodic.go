package serve

import (
	"context"
	"hash/fnv"
	"time"

	"github.com/smctl/smctl/pkg/config"
	"github.com/smctl/smctl/pkg/fanout"
	"github.com/smctl/smctl/pkg/vtree"
	"github.com/smctl/smctl/pkg/vtree/vfs"
)

// RefreshTree is what Refresh needs of a tree: walk it, read its files,
// and know when each last ran.
type RefreshTree interface {
	vfs.Tree
	Last(ctx context.Context, p string) (vtree.Last, bool)
}

// Refreshed is what one pass of Refresh did.
type Refreshed struct {
	Files  int           // files of a periodic model seen
	Read   int           // of them due, their read agent run
	Failed int           // of those, failed (their status says why)
	Next   time.Duration // until the next comes due; 0 if none is periodic
}

// Refresh runs the read agents of the files whose caching model is
// periodic (policy: the tree's caching policy, which gives the period) and
// whose content is due: older than the period less a jitter of up to a
// tenth of it, fixed per path, so that 2000 nodes do not come due in the
// same instant. It walks the tree from its root, not into live
// directories, and runs at most width agents at once; a failure is
// recorded in the file's status as any read's.
func Refresh(ctx context.Context, t RefreshTree, policy func(string) (string, time.Duration), width int) (Refreshed, error) {
	var r Refreshed
	var due []string
	now := time.Now()
	next := time.Duration(-1)
	err := vfs.Walk(ctx, t, "/", vfs.WalkOptions{MaxDepth: -1}, func(p string, e *vtree.Entry, err error) error {
		if err != nil || e == nil || e.IsDir() {
			return nil // a directory that cannot be listed holds nothing due
		}
		model, every := policy(p)
		if model != config.Periodic || every <= 0 {
			return nil
		}
		r.Files++
		left := every - jitter(p, every)
		// Due by when its last run ended, failed or not (a failure
		// leaves no new content): a failing agent is tried again at its
		// period, not at every pass.
		if last, ok := t.Last(ctx, p); ok && !last.At.IsZero() {
			left -= now.Sub(last.At)
		} else {
			left = 0 // never run: due now
		}
		if left > 0 {
			if next < 0 || left < next {
				next = left
			}
			return nil
		}
		due = append(due, p)
		if next < 0 || every < next {
			next = every
		}
		return nil
	})
	if err != nil {
		return r, err
	}
	force := vtree.ReadOptions{HasMaxAge: true} // max age 0: the agent runs
	for _, res := range fanout.All(ctx, len(due), width, func(ctx context.Context, i int) (struct{}, error) {
		_, err := t.Read(ctx, due[i], force)
		return struct{}{}, err
	}) {
		r.Read++
		if res.Err != nil {
			r.Failed++
		}
	}
	r.Next = max(next, 0)
	return r, ctx.Err()
}

// jitter is a fixed fraction of every, up to a tenth, for the path p.
func jitter(p string, every time.Duration) time.Duration {
	h := fnv.New32a()
	h.Write([]byte(p))
	return every / 10 * time.Duration(h.Sum32()%1000) / 1000
}
