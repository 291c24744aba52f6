package ha

import (
	"context"
	"fmt"
	"hash/fnv"
	"os/exec"
	"path"
	"time"

	"github.com/smctl/smctl/pkg/check"
	"github.com/smctl/smctl/pkg/driver"
	"github.com/smctl/smctl/pkg/vtree"
)

// Checks are scheduled on every device of their types, each every Every
// (the first run spread over one period, so that a thousand devices do
// not run at once); a result goes through the check's state
// (check.Status.Next: SOFT until Attempts non-OK results in a row, then
// HARD; flapping), kept by the checks driver. A HARD change and the start
// or end of flapping are lines of /ha/log; a HARD problem runs the check's
// on_hard action, unless the check is flapping (reported instead).

// scheduleChecks starts the checks of t's devices that are due.
func (h *HA) scheduleChecks(ctx context.Context, t *vtree.Tree, open Opener) {
	c := t.Drivers().Checker()
	if c == nil {
		return
	}
	now := time.Now()
	for typ, ty := range t.DeviceTypes() {
		cs := c.Checks(typ)
		if len(cs) == 0 || !path.IsAbs(ty.Dir) {
			continue // (devices inside containers: not scheduled yet)
		}
		for _, dev := range h.devicesOf(t, ty.Dir, typ) {
			for _, ck := range cs {
				key := dev + "\x00" + ck.Name
				h.mu.Lock()
				if h.next == nil {
					h.next = map[string]time.Time{}
				}
				next, seen := h.next[key]
				if !seen {
					next = now.Add(spread(key, ck.Every))
				}
				if now.Before(next) {
					h.next[key] = next
					h.mu.Unlock()
					continue
				}
				h.next[key] = now.Add(ck.Every)
				h.mu.Unlock()
				h.background(ctx, "check "+key, open, func(ctx context.Context, t *vtree.Tree) { h.runCheck(ctx, t, dev, ck.Name) })
			}
		}
	}
}

// listEvery is how long the devices of a type are listed once for the
// checks (a tick is every 500 ms; the devices change far less often).
const listEvery = 5 * time.Second

// devicesOf is devicesOf, listed again every listEvery.
func (h *HA) devicesOf(t *vtree.Tree, dir, typ string) []string {
	if h.dueEvery("list "+typ, listEvery) {
		ds := devicesOf(t, dir, typ)
		h.mu.Lock()
		if h.listed == nil {
			h.listed = map[string][]string{}
		}
		h.listed[typ] = ds
		h.mu.Unlock()
		return ds
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.listed[typ]
}

// spread is where in its first period a check of key first runs.
func spread(key string, every time.Duration) time.Duration {
	f := fnv.New64a()
	f.Write([]byte(key))
	return time.Duration(f.Sum64() % uint64(max(every, time.Millisecond)))
}

// device is dev as the drivers see it: its type and trusted attributes.
func device(ctx context.Context, t *vtree.Tree, dev string) (driver.Device, error) {
	d := driver.Device{Path: dev, Type: t.DeviceType(dev), Attrs: map[string]string{}}
	for _, a := range t.DeviceAttrs(d.Type) {
		v, err := attr(ctx, t, dev, a)
		if err != nil {
			return d, err
		}
		if v != "" {
			d.Attrs[a] = v
		}
	}
	return d, nil
}

// runCheck runs the check name of dev once (as the tree t's smctl.yaml
// has it), keeps its state and acts on a HARD problem.
func (h *HA) runCheck(ctx context.Context, t *vtree.Tree, dev, name string) {
	c := t.Drivers().Checker()
	if c == nil {
		return
	}
	var ck driver.Check
	for _, x := range c.Checks(t.DeviceType(dev)) {
		if x.Name == name {
			ck = x
		}
	}
	if ck.Name == "" {
		return // gone from smctl.yaml since
	}
	var res check.Result
	d, err := device(ctx, t, dev)
	if err == nil {
		tr, _ := t.Transport(ctx, dev) // a Broken one says why when it is used
		res, err = c.Run(ctx, ck, d, tr)
	}
	if h.runFailed(dev+"\x00"+name, err) {
		// smctl could not run the plugin (not found, not trusted, the node
		// not reached): no result, so no state change and no action. A
		// typo in smctl.yaml must not fence every hypervisor.
		h.Log(ctx, t, "%s check %s: not run: %v", dev, name, err)
	}
	if err != nil {
		return
	}
	st, _, err := c.LoadStatus(dev, name)
	if err != nil {
		h.Log(ctx, t, "%s check %s: its kept state is not used: %v", dev, name, err)
		st = check.Status{}
	}
	st, ch := st.Next(res.State, time.Now(), check.Policy{MaxAttempts: ck.Attempts})
	h.mu.Lock()
	if h.states == nil {
		h.states = map[string]string{}
	}
	h.states[dev+"\x00"+name] = st.String()
	h.mu.Unlock()
	if err := c.SaveStatus(dev, name, st); err != nil {
		h.Log(ctx, t, "%s check %s: keeping its state: %v", dev, name, err)
	}
	if ch.Hard() || ch.FlapStarted || ch.FlapStopped {
		h.Log(ctx, t, "%s check %s: %s: %s (%s)", dev, name, st, res.Message, ch)
	}
	// Only a CRITICAL state acts: a WARNING, or an UNKNOWN (the plugin
	// could not tell), is reported, not acted on.
	if ch.Event != check.HardProblem || st.State != check.Critical || ck.OnHard.Kind == "" {
		return
	}
	if st.Flapping {
		h.Log(ctx, t, "%s check %s: flapping: %s not run", dev, name, ck.OnHard.Kind)
		return
	}
	h.act(ctx, t, dev, ck, st, res)
}

// act runs the check ck's on_hard action for dev.
func (h *HA) act(ctx context.Context, t *vtree.Tree, dev string, ck driver.Check, st check.Status, res check.Result) {
	why := fmt.Sprintf("check %s %s: %s", ck.Name, st, res.Message)
	switch a := ck.OnHard; a.Kind {
	case "evacuate":
		if t.DeviceType(dev) != "hypervisor" {
			h.Log(ctx, t, "%s: evacuate NOT done: only a hypervisor is evacuated (%s)", dev, why)
			return
		}
		h.HostFailed(ctx, t, dev, why)
	case "restart-service":
		p := path.Join(dev, "services", a.Arg, "state")
		if _, err := t.Write(ctx, p, []byte("restart\n")); err != nil {
			h.Log(ctx, t, "%s: restarting %s NOT done: %v", dev, a.Arg, err)
			return
		}
		h.Log(ctx, t, "%s: %s restarted (%s)", dev, a.Arg, why)
		h.recheck(dev, ck.Name)
	case "restart-vm":
		if _, err := t.Write(ctx, path.Join(dev, "power"), []byte("cycle\n")); err != nil {
			h.Log(ctx, t, "%s: restarting it NOT done: %v", dev, err)
			return
		}
		h.Log(ctx, t, "%s: restarted (%s)", dev, why)
		h.recheck(dev, ck.Name)
	case "reboot":
		if _, err := t.Write(ctx, path.Join(dev, "os", "reboot"), []byte("now\n")); err != nil {
			h.Log(ctx, t, "%s: reboot NOT done: %v", dev, err)
			return
		}
		h.Log(ctx, t, "%s: rebooted (%s)", dev, why)
	case "exec":
		ctx, cancel := context.WithTimeout(ctx, execTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, "/bin/sh", "-c", a.Arg)
		cmd.Dir = "/"
		cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C",
			"SMCTL_DEVICE=" + dev, "SMCTL_CHECK=" + ck.Name, "SMCTL_STATE=" + st.String(), "SMCTL_MESSAGE=" + res.Message}
		out, err := cmd.CombinedOutput()
		if err != nil {
			h.Log(ctx, t, "%s: %s failed: %v: %s", dev, a.Arg, err, out)
			return
		}
		h.Log(ctx, t, "%s: ran %s", dev, a.Arg)
	}
}

// execTimeout bounds an exec action.
const execTimeout = time.Minute

// runFailed records whether the check key could not be run (err), and
// says whether that is news to log (the first failure, or another one).
func (h *HA) runFailed(key string, err error) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.runErr == nil {
		h.runErr = map[string]string{}
	}
	was := h.runErr[key]
	if err == nil {
		delete(h.runErr, key)
		return false
	}
	h.runErr[key] = err.Error()
	return was != err.Error()
}

// recheck makes the check name of dev due at once (after an action).
func (h *HA) recheck(dev, name string) {
	h.mu.Lock()
	h.next[dev+"\x00"+name] = time.Now()
	h.mu.Unlock()
}
