package ha

import (
	"context"
	"fmt"
	"maps"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/smctl/smctl/pkg/status"
	"github.com/smctl/smctl/pkg/vtree"
)

// HostFailed is the recovery of a failed hypervisor hv (a check's HARD
// state with on_hard evacuate; why says which): (1) marked failed (and
// not fenced); (2) fenced: powered off through its BMC, read back as off;
// (3) its HA VMs that ran there restarted on the others, all at once.
// When the power-off cannot be confirmed nothing is restarted: it is
// reported, fencing is tried again every fenceAgain, and Pass completes
// the evacuation once an operator writes yes to its fenced file.
func (h *HA) HostFailed(ctx context.Context, t *vtree.Tree, hv, why string) {
	if !h.claim(hv) {
		h.Log(ctx, t, "%s failed: %s (its recovery already runs)", hv, why)
		return
	}
	defer h.release(hv)
	h.Log(ctx, t, "%s failed: %s", hv, why)
	for _, w := range [][2]string{{"fenced", "no"}, {"failed", "yes"}} {
		if _, err := t.Write(ctx, path.Join(hv, w[0]), []byte(w[1]+"\n")); err != nil {
			h.Log(ctx, t, "%s: marking it failed: %v: nothing restarted elsewhere", hv, err)
			return
		}
	}
	h.fenceAndEvacuate(ctx, t, hv)
}

// fenceAgain is how often fencing a failed hypervisor that could not be
// fenced is tried again.
const fenceAgain = 2 * time.Minute

// fenceAndEvacuate fences the failed hypervisor hv and, once its power-off
// is confirmed, restarts its HA VMs elsewhere.
func (h *HA) fenceAndEvacuate(ctx context.Context, t *vtree.Tree, hv string) {
	if n, of := failedCount(ctx, t); 2*n > of {
		h.Log(ctx, t, "%s NOT fenced: %d of %d hypervisors are failed at once (a cut network looks so): nothing is fenced or restarted automatically; fence by hand and write yes to %s/fenced", hv, n, of, hv)
		h.mark("fence " + hv)
		return
	}
	h.mark("fence " + hv)
	took, err := h.fence(ctx, t, hv)
	if err != nil {
		h.Log(ctx, t, "%s NOT fenced: %v: none of its VMs is restarted elsewhere; once it is off, write yes to %s/fenced (fencing is tried again in %s)", hv, err, hv, fenceAgain)
		return
	}
	if _, err := t.Write(ctx, path.Join(hv, "fenced"), []byte("yes\n")); err != nil {
		h.Log(ctx, t, "%s: fenced, but recording it failed: %v", hv, err)
		return
	}
	h.Log(ctx, t, "%s fenced: power off confirmed through its BMC in %.2f s", hv, took.Seconds())
	h.evacuate(ctx, t, hv)
}

// failedCount counts the hypervisors whose failed attribute says yes (or
// cannot be read), of all.
func failedCount(ctx context.Context, t *vtree.Tree) (n, of int) {
	for _, hv := range devicesOf(t, HypervisorDir, "hypervisor") {
		of++
		if f, err := attr(ctx, t, hv, "failed"); err != nil || yes(f) {
			n++
		}
	}
	return n, of
}

// fence powers hv off through its BMC (its power file) and reads its
// power until it says off, writing off again every FenceRetry, within
// FenceTimeout; it returns how long that took.
func (h *HA) fence(ctx context.Context, t *vtree.Tree, hv string) (time.Duration, error) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, h.cfg().FenceTimeout.Duration)
	defer cancel()
	var last error
	for {
		if _, err := t.Write(ctx, path.Join(hv, "power"), []byte("off\n")); err != nil {
			last = fmt.Errorf("power off: %w", err)
		}
		retry := time.Now().Add(h.cfg().FenceRetry.Duration)
		for time.Now().Before(retry) {
			p, err := fresh(ctx, t, path.Join(hv, "power"))
			switch {
			case err == nil && p == "off":
				return time.Since(start), nil
			case err == nil:
				last = fmt.Errorf("its power reads %q", p)
			default:
				last = fmt.Errorf("reading its power: %w", err)
			}
			select {
			case <-ctx.Done():
				return 0, fmt.Errorf("not confirmed within %s (%v)", h.cfg().FenceTimeout.Duration, last)
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
}

// target is a hypervisor VMs may be restarted on, as its capacity says.
type target struct {
	name    string
	freeKiB int64
	running int
}

// targets lists the hypervisors that have not failed and answer, with
// their capacity, but not exclude.
func (h *HA) targets(ctx context.Context, t *vtree.Tree, exclude string) []*target {
	var out []*target
	for _, hv := range devicesOf(t, HypervisorDir, "hypervisor") {
		if hv == exclude {
			continue
		}
		if f, err := attr(ctx, t, hv, "failed"); err != nil || yes(f) {
			continue
		}
		c, err := fresh(ctx, t, path.Join(hv, "capacity"))
		if err != nil {
			continue // it does not answer: not a place for VMs now
		}
		tg := &target{name: path.Base(hv)}
		for _, l := range strings.Split(c, "\n") {
			k, v, _ := strings.Cut(l, " ")
			n, _ := strconv.ParseInt(v, 10, 64)
			switch k {
			case "free_memory_kb":
				tg.freeKiB = n
			case "running":
				tg.running = int(n)
			}
		}
		out = append(out, tg)
	}
	return out
}

// place chooses a hypervisor for each VM: enough free memory, then the
// fewest running VMs (then the name), the largest VMs first, each choice
// counted before the next.
func place(vms []vm, ts []*target) map[string]string {
	vms = slices.Clone(vms)
	slices.SortStableFunc(vms, func(a, b vm) int { return int(b.memKiB - a.memKiB) })
	out := map[string]string{}
	for _, v := range vms {
		var best *target
		for _, tg := range ts {
			if tg.freeKiB < v.memKiB {
				continue
			}
			if best == nil || tg.running < best.running || tg.running == best.running && tg.name < best.name {
				best = tg
			}
		}
		if best == nil {
			continue
		}
		best.freeKiB -= v.memKiB
		best.running++
		out[v.path] = best.name
	}
	return out
}

// placeAgain is place, but a VM whose restart was tried on a target that
// still takes VMs goes there again: its outcome was not known (a start
// that outlived its deadline may have happened), and elsewhere it could
// run twice.
func (h *HA) placeAgain(vms []vm, ts []*target) map[string]string {
	h.mu.Lock()
	tried := maps.Clone(h.placed)
	h.mu.Unlock()
	var rest []vm
	out := map[string]string{}
	for _, v := range vms {
		if to, ok := tried[v.path]; ok && slices.ContainsFunc(ts, func(tg *target) bool { return tg.name == to }) {
			out[v.path] = to
			continue
		}
		rest = append(rest, v)
	}
	maps.Copy(out, place(rest, ts))
	h.mu.Lock()
	if h.placed == nil {
		h.placed = map[string]string{}
	}
	maps.Copy(h.placed, out)
	h.mu.Unlock()
	return out
}

// evacuate restarts on the other hypervisors, all at once, the HA VMs
// that ran on the failed and fenced hypervisor hv (the tree knows: their
// host, their last known state), each through its host file, which
// restarts it from its definition as last read.
func (h *HA) evacuate(ctx context.Context, t *vtree.Tree, hv string) {
	name := path.Base(hv)
	var vms []vm
	for _, v := range haVMs(ctx, t) {
		if v.host == name && v.on && h.since("retry "+v.path) >= retryVM {
			if x, err := t.ReadTrusted(ctx, v.path+"/xml", 1<<20); err == nil {
				v.memKiB = memoryKiB(string(x))
			}
			vms = append(vms, v)
		}
	}
	if len(vms) == 0 {
		return
	}
	ts := h.targets(ctx, t, hv)
	where := h.placeAgain(vms, ts)
	var wg sync.WaitGroup
	for _, v := range vms {
		to, ok := where[v.path]
		if !ok {
			h.failedVM(ctx, t, v, fmt.Sprintf("no hypervisor that has not failed has %d KiB free for it", v.memKiB))
			continue
		}
		wg.Go(func() {
			start := time.Now()
			res, err := t.Write(ctx, path.Join(v.path, "host"), []byte(to+"\n"))
			if err != nil {
				h.failedVM(ctx, t, v, fmt.Sprintf("restarting it on %s: %v", to, err))
				return
			}
			msg := res.Message
			if msg == "" {
				msg = "restarted on " + to
			}
			h.mu.Lock()
			delete(h.placed, v.path)
			h.mu.Unlock()
			vmStatus(t, v.path, status.OK, "%s in %.2f s", msg, time.Since(start).Seconds())
			h.Log(ctx, t, "%s: %s in %.2f s", v.path, msg, time.Since(start).Seconds())
		})
	}
	wg.Wait()
}

// failedVM records that the VM v could not be restarted; it is tried again
// after retryVM.
func (h *HA) failedVM(ctx context.Context, t *vtree.Tree, v vm, why string) {
	h.mark("retry " + v.path)
	vmStatus(t, v.path, status.Failed, "not restarted: %s", why)
	h.Log(ctx, t, "%s NOT restarted: %s (tried again in %s)", v.path, why, retryVM)
}

// retryVM is how long a VM that could not be restarted waits.
const retryVM = 30 * time.Second
