package libvirt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	golibvirt "github.com/digitalocean/go-libvirt"

	"github.com/smctl/smctl/pkg/agent"
	"github.com/smctl/smctl/pkg/status"
)

// A hypervisor that has failed cannot send its VMs anywhere. Its failed
// attribute (yes, written by high availability or an operator) says so,
// and its fenced attribute (yes) that it is powered off, confirmed through
// its BMC, so that none of its VMs can still run and write to shared
// storage. Then, and only then, writing a VM's host restarts the VM on
// that hypervisor from its definition as the tree last read it (its xml
// file, trusted): defined there and, when its last known power was on,
// started. A failed hypervisor takes no VMs until an operator clears it
// (failed no); its stale definitions are then removed through its
// undefine_stale file.

// yes reads an attribute that says yes or no.
func yes(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "yes", "on", "1", "true":
		return true
	}
	return false
}

// failed says whether the hypervisor p has failed.
func failed(p agent.Peer) bool { return yes(p.Attrs["failed"]) }

// restartOn restarts the request's VM, whose host src has failed, on the
// hypervisor target.
func (d *Driver) restartOn(ctx context.Context, req *agent.Request, target string, src agent.Peer) (agent.Result, error) {
	name, from := path.Base(req.Device), req.Attrs["host"]
	if !yes(src.Attrs["fenced"]) {
		return agent.Result{}, agent.Fail(status.Usage, fmt.Errorf("%s: %s has failed and is not fenced: the VM may still run there; power it off through its BMC and write yes to %s/fenced",
			req.Device, from, path.Join(HypervisorDir, from)))
	}
	if req.Stored == nil {
		return agent.Result{}, agent.Fail(status.Failed, fmt.Errorf("%s: no stored definition to restart it from", req.Device))
	}
	// One restart of a VM at a time, in any process (an operator's and
	// serve's), and its host read again under that lock: one that ran
	// meanwhile has moved it, and this one must not start it a second time.
	unlock, err := restartLock(ctx, req.Root, name)
	if err != nil {
		return agent.Result{}, agent.Fail(status.Failed, fmt.Errorf("%s: %w", req.Device, err))
	}
	defer unlock()
	if h, err := req.Stored("host"); err != nil || strings.TrimSpace(string(h)) != from {
		return agent.Result{}, agent.Fail(status.Usage, fmt.Errorf("%s: its host is no longer %s (moved meanwhile): not restarted again", req.Device, from))
	}
	x, err := req.Stored("xml")
	if err != nil {
		return agent.Result{}, agent.Fail(status.Of(err), fmt.Errorf("%s: its definition as last read: %w", req.Device, err))
	}
	if err := checkDefinition(string(x), name, nil); err != nil {
		return agent.Result{}, agent.Fail(status.Failed, fmt.Errorf("%s: its definition as last read: %w", req.Device, err))
	}
	start := lastOn(req)
	did := fmt.Sprintf("restarted on %s from its definition (%s failed, fenced)", target, from)
	hv, err := d.withHost(ctx, req, target, func(c *conn) error {
		dom, err := c.DomainDefineXML(string(x))
		if err != nil {
			return fmt.Errorf("defining: %w", err)
		}
		c.forget(name)
		st, _, err := c.DomainGetState(dom, 0)
		if err != nil || !start || isOn(st) {
			if !start {
				did = fmt.Sprintf("defined on %s, not started: its last known power was off (%s failed, fenced)", target, from)
			}
			return err
		}
		return c.DomainCreate(dom)
	})
	if err != nil {
		return agent.Result{}, vmFail(ctx, req, hv, err)
	}
	return agent.Result{Output: []byte(target + "\n"), Message: did}, nil
}

// restartLock takes the exclusive lock of restarts of the VM name: a
// file of the state root's locks directory, waited for. Directory and
// files are their maker's alone (0700, 0600): a user who could open a lock
// could hold it and keep high availability from restarting the VM.
// Restarts elsewhere are the administrator's (serve's).
func restartLock(ctx context.Context, root, name string) (func(), error) {
	if root == "" {
		return func() {}, nil
	}
	dir := filepath.Join(root, "locks")
	_ = os.Mkdir(dir, 0o700) // there already, or made now; Open says if not
	p := filepath.Join(dir, "restart-"+name)
	f, err := os.OpenFile(p, os.O_RDONLY|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, fmt.Errorf("the lock of its restarts: %w", err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if err != syscall.EWOULDBLOCK && err != syscall.EINTR {
			f.Close()
			return nil, fmt.Errorf("the lock of its restarts: %s: %w", p, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("the lock of its restarts: %s: another restart holds it: %w", p, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// lastOn says whether the request's VM was on when the tree last read
// its state (else its power): a VM of a failed hypervisor is started
// elsewhere only if it ran there (or crashed). Nothing known: on.
func lastOn(req *agent.Request) bool {
	if st, err := req.Stored("state"); err == nil {
		s := strings.TrimSpace(string(st))
		return !strings.HasPrefix(s, "shut off") || s == "shut off (crashed)" || s == "shut off (failed)"
	}
	if p, err := req.Stored("power"); err == nil {
		return strings.TrimSpace(string(p)) != "off"
	}
	return true
}

// undefineStale is a hypervisor's undefine_stale file: written a VM's name
// (and, to be sure it is that VM, its UUID: "NAME UUID"), it
// removes that VM's definition from this hypervisor (stopping it if it
// runs), but only a stale one: the tree has the VM on another hypervisor
// (it was restarted there while this one had failed).
func (d *Driver) undefineStale(ctx context.Context, req *agent.Request) (agent.Result, error) {
	ctx, cancel := bounded(ctx)
	defer cancel()
	name, uuid, _ := strings.Cut(strings.TrimSpace(string(req.Input)), " ")
	host := path.Base(req.Device)
	if !hostRE.MatchString(name) {
		return agent.Result{}, agent.Fail(status.Usage, fmt.Errorf("%s: %q is not a VM's name", req.Device, name))
	}
	vm, err := req.Peer(ctx, path.Join(VMDir, name))
	switch {
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return agent.Result{}, agent.Fail(status.Of(err), fmt.Errorf("%s: %s: %w", req.Device, path.Join(VMDir, name), err))
	case err != nil || vm.Type != "vm" || vm.Attrs["host"] == "" || vm.Attrs["host"] == host:
		return agent.Result{}, agent.Fail(status.Usage, fmt.Errorf("%s: %s is not a VM the tree has on another hypervisor: only a stale definition is undefined here (remove vm %s undefines a VM)", req.Device, name, name))
	}
	did := fmt.Sprintf("undefined %s here (the tree has it on %s)", name, vm.Attrs["host"])
	err = d.onOwn(ctx, req, func(c *conn) error {
		dom, err := c.DomainLookupByName(name)
		if golibvirt.IsNotFound(err) {
			did = fmt.Sprintf("%s is not defined here", name)
			return nil
		} else if err != nil {
			return err
		}
		if uuid != "" {
			// Only the VM of that UUID: another one that merely has its
			// name is not the tree's.
			if u, err := parseUUID(uuid); err != nil || !bytes.Equal(u, dom.UUID[:]) {
				return agent.Fail(status.Usage, fmt.Errorf("%s here is another VM than the tree's (UUID %s, not %s): left", name, formatUUID(dom.UUID[:]), uuid))
			}
		}
		if st, _, err := c.DomainGetState(dom, 0); err == nil && isOn(st) {
			if err := c.DomainDestroy(dom); err != nil {
				return fmt.Errorf("stopping %s: %w", name, err)
			}
			did = fmt.Sprintf("stopped and undefined %s here (the tree has it on %s)", name, vm.Attrs["host"])
		}
		c.forget(name)
		return c.DomainUndefineFlags(dom, golibvirt.DomainUndefineManagedSave|golibvirt.DomainUndefineSnapshotsMetadata)
	})
	if err != nil {
		var ae *agent.Error
		if errors.As(err, &ae) {
			return agent.Result{}, err
		}
		return agent.Result{}, agent.Fail(status.Failed, err)
	}
	return agent.Result{Message: did}, nil
}
