package libvirt

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

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
		return agent.Result{}, vmFail(req, hv, err)
	}
	return agent.Result{Output: []byte(target + "\n"), Message: did}, nil
}

// lastOn says whether the request's VM was on when the tree last read
// its state (else its power): a VM of a failed hypervisor is started
// elsewhere only if it ran there. Nothing known: on.
func lastOn(req *agent.Request) bool {
	if st, err := req.Stored("state"); err == nil {
		return !strings.HasPrefix(string(st), "shut off") && !strings.HasPrefix(string(st), "crashed")
	}
	if p, err := req.Stored("power"); err == nil {
		return strings.TrimSpace(string(p)) != "off"
	}
	return true
}

// undefineStale is a hypervisor's undefine_stale file: written a VM's name, it
// removes that VM's definition from this hypervisor (stopping it if it
// runs), but only a stale one: the tree has the VM on another hypervisor
// (it was restarted there while this one had failed).
func (d *Driver) undefineStale(ctx context.Context, req *agent.Request) (agent.Result, error) {
	ctx, cancel := bounded(ctx)
	defer cancel()
	name, host := strings.TrimSpace(string(req.Input)), path.Base(req.Device)
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
