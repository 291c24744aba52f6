package ha

import (
	"context"
	"maps"
	"path"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/smctl/smctl/pkg/status"
	"github.com/smctl/smctl/pkg/vtree"
)

// Opener opens the tree (serve's, over its warm connections) for one piece
// of work, which closes it, with the ha: section its smctl.yaml sets.
type Opener func() (*vtree.Tree, Settings, error)

// staleEvery is how often a failed hypervisor is asked whether it answers
// again (its stale definitions are then removed).
const staleEvery = 10 * time.Second

// Pass is one round of what high availability does without a check's
// word: each failed and fenced hypervisor's HA VMs that still name it are
// restarted elsewhere (an operator's fenced yes completes an evacuation
// so); a failed hypervisor that answers again has its stale definitions
// removed (it takes no VMs until an operator writes no to its failed
// file); every VMEvery, each HA VM's state is read (which keeps its last
// known state for an evacuation), and one that crashed is started again
// where it is. Long work runs in the background, on trees of its own.
func (h *HA) Pass(ctx context.Context, t *vtree.Tree, open Opener) {
	failed := map[string]bool{}
	var vms []vm
	listed := false
	haVMsOnce := func() []vm { // read only when needed: a failed hypervisor, or the VMs' pass
		if !listed {
			vms, listed = haVMs(ctx, t), true
		}
		return vms
	}
	for _, hv := range devicesOf(t, HypervisorDir, "hypervisor") {
		fenced, ferr := attr(ctx, t, hv, "fenced")
		if f, err := attr(ctx, t, hv, "failed"); err != nil || !yes(f) {
			// A fenced yes belongs to one failure: a hypervisor not
			// failed (an operator cleared it) is not fenced, so that its
			// next failure is fenced again before anything restarts.
			if err == nil && ferr == nil && yes(fenced) {
				if _, err := t.Write(ctx, path.Join(hv, "fenced"), []byte("no\n")); err == nil {
					h.Log(ctx, t, "%s: not failed, so not fenced (fenced no)", hv)
				}
			}
			continue
		}
		failed[path.Base(hv)] = true
		pending := slices.ContainsFunc(haVMsOnce(), func(v vm) bool { return v.host == path.Base(hv) && v.on })
		switch {
		case ferr == nil && yes(fenced) && pending && h.dueEvery("evacuate "+hv, time.Second):
			h.background(ctx, hv, open, func(ctx context.Context, t *vtree.Tree) { h.evacuate(ctx, t, hv) })
		case !yes(fenced) && pending && h.dueEvery("fence "+hv, fenceAgain):
			// Marked failed by an operator, or not fenced yet, with HA
			// VMs to restart: fence it first.
			h.background(ctx, hv, open, func(ctx context.Context, t *vtree.Tree) { h.fenceAndEvacuate(ctx, t, hv) })
		}
		if h.dueEvery("stale "+hv, staleEvery) {
			h.background(ctx, hv+" stale", open, func(ctx context.Context, t *vtree.Tree) { h.removeStale(ctx, t, hv) })
		}
	}
	h.mu.Lock()
	h.failedHosts = slices.Sorted(maps.Keys(failed))
	h.mu.Unlock()
	if !h.dueEvery("vms", h.cfg().VMEvery.Duration) {
		return
	}
	var watch []vm
	for _, v := range haVMsOnce() {
		if !failed[v.host] { // else its hypervisor's recovery decides
			watch = append(watch, v)
		}
	}
	// In the background, a few at a time: a hung libvirtd must not hold
	// the checks and the recoveries up.
	h.background(ctx, "vms", open, func(ctx context.Context, t *vtree.Tree) {
		var g errgroup.Group
		g.SetLimit(vmWidth)
		for _, v := range watch {
			g.Go(func() error { h.watchVM(ctx, t, v); return nil })
		}
		g.Wait()
	})
}

// vmWidth is how many HA VMs are looked at at once.
const vmWidth = 16

// background runs f on a tree of its own, unless work on key runs.
func (h *HA) background(ctx context.Context, key string, open Opener, f func(context.Context, *vtree.Tree)) {
	if !h.claim(key) {
		return
	}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		defer h.release(key)
		t, _, err := open()
		if err != nil {
			return
		}
		defer t.Close()
		f(ctx, t)
	}()
}

// since is how long ago the work key was last marked done (a long time
// when never).
func (h *HA) since(key string) time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	at, ok := h.done[key]
	if !ok {
		return 1 << 62
	}
	return time.Since(at)
}

// mark marks the work key done now.
func (h *HA) mark(key string) { h.dueEvery(key, 0) }

// dueEvery says whether the work key is due, not done within every, and
// marks it done when it is.
func (h *HA) dueEvery(key string, every time.Duration) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if at, ok := h.done[key]; ok && time.Since(at) < every {
		return false
	}
	if h.done == nil {
		h.done = map[string]time.Time{}
	}
	h.done[key] = time.Now()
	return true
}

// removeStale removes from the failed hypervisor hv, when it answers, the
// definitions of the VMs the tree has on another (restarted there).
func (h *HA) removeStale(ctx context.Context, t *vtree.Tree, hv string) {
	list, err := fresh(ctx, t, path.Join(hv, "vms"))
	if err != nil {
		return // still down
	}
	// It answers: it is on, so no longer fenced.
	if f, err := attr(ctx, t, hv, "fenced"); err == nil && yes(f) {
		if _, err := t.Write(ctx, path.Join(hv, "fenced"), []byte("no\n")); err == nil {
			h.Log(ctx, t, "%s answers again: no longer fenced (fenced no)", hv)
		}
	}
	for _, l := range strings.Split(list, "\n") {
		name, _, _ := strings.Cut(l, " ")
		if name == "" {
			continue
		}
		host, err := attr(ctx, t, path.Join(VMDir, name), "host")
		if err != nil || host == "" || host == path.Base(hv) {
			continue
		}
		// The VM of that name the tree knows, by its UUID: a VM of
		// another's that merely has its name is not touched.
		x, err := t.ReadTrusted(ctx, path.Join(VMDir, name, "xml"), 1<<20)
		uuid := domainUUID(string(x))
		if err != nil || uuid == "" {
			h.Log(ctx, t, "%s answers again: its definition of %s is left: the tree knows no UUID of %s to compare (%v)", hv, name, name, err)
			continue
		}
		res, err := t.Write(ctx, path.Join(hv, "undefine_stale"), []byte(name+" "+uuid+"\n"))
		if err != nil {
			h.Log(ctx, t, "%s answers again: its stale definition of %s NOT removed: %v", hv, name, err)
			continue
		}
		h.Log(ctx, t, "%s answers again: %s", hv, res.Message)
	}
}

// crashed says whether a VM's state is one high availability restarts:
// it stopped by itself, not by anyone's hand.
func crashed(state string) bool {
	return strings.HasPrefix(state, "crashed") || state == "shut off (crashed)" || state == "shut off (failed)"
}

// xmlEvery is how old an HA VM's stored definition may get.
const xmlEvery = time.Minute

// watchVM reads the HA VM v's state (and its definition, when older than
// xmlEvery: what an evacuation restarts it from), and starts it again
// where it is when it crashed.
func (h *HA) watchVM(ctx context.Context, t *vtree.Tree, v vm) {
	_, _ = t.Read(ctx, path.Join(v.path, "xml"), vtree.ReadOptions{MaxAge: xmlEvery, HasMaxAge: true})
	// An HA VM is started by high availability, not by its host's boot:
	// a fenced host powered on again would start its stale definition
	// while the VM runs elsewhere.
	if res, err := t.Read(ctx, path.Join(v.path, "autostart"), vtree.ReadOptions{MaxAge: xmlEvery, HasMaxAge: true}); err == nil && strings.TrimSpace(string(res.Content)) == "on" {
		if _, err := t.Write(ctx, path.Join(v.path, "autostart"), []byte("off\n")); err == nil {
			h.Log(ctx, t, "%s: autostart turned off (high availability starts it)", v.path)
		}
	}
	st, err := fresh(ctx, t, path.Join(v.path, "state"))
	if err != nil || !crashed(st) || !h.claim(v.path) {
		return
	}
	defer h.release(v.path)
	h.Log(ctx, t, "%s on %s: %s", v.path, v.host, st)
	start := time.Now()
	if _, err := t.Write(ctx, path.Join(v.path, "power"), []byte("on\n")); err != nil {
		vmStatus(t, v.path, status.Failed, "%s; not started again on %s: %v", st, v.host, err)
		h.Log(ctx, t, "%s NOT started again on %s: %v", v.path, v.host, err)
		return
	}
	vmStatus(t, v.path, status.OK, "%s; started again on %s in %.2f s", st, v.host, time.Since(start).Seconds())
	h.Log(ctx, t, "%s started again on %s in %.2f s", v.path, v.host, time.Since(start).Seconds())
}
