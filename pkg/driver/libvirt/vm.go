package libvirt

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	golibvirt "github.com/digitalocean/go-libvirt"

	"github.com/smctl/smctl/pkg/agent"
	"github.com/smctl/smctl/pkg/status"
)

// A VM is a device of type vm at /systems/vms/NAME, NAME its libvirt
// domain's name, whose host attribute names the hypervisor that defines it
// (/systems/hypervisors/HOST): its files ask that hypervisor's libvirtd,
// reached as the hypervisor's own files reach it (Request.Peer: its uri,
// transport and credentials):
//
//	state      virsh domstate --reason's words: "running (booted)",
//	           "shut off (destroyed)", "paused (user)", ...
//	power      on or off (read); written: on (start), soft (ACPI
//	           shutdown), off (hard stop), reset, cycle (off, then on),
//	           suspend, resume
//	autostart  on or off; written the same
//	vcpus      its virtual CPUs
//	memory     its memory, KiB
//	xml        its definition

// HypervisorDir and VMDir are where hypervisors and VMs are (their
// types' dirs).
const (
	HypervisorDir = "/systems/hypervisors"
	VMDir         = "/systems/vms"
)

// errNoHypervisor is wrapped by the error of a hypervisor's name that
// names none in the tree.
var errNoHypervisor = errors.New("not there")

// hostRE is a hypervisor's name as a VM's host attribute gives it.
var hostRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// vmOp is one file of a VM: its domain on its hypervisor's connection.
type vmOp func(ctx context.Context, c *conn, dom golibvirt.Domain, req *agent.Request) (string, error)

// onVM runs op on the request's VM, found on its host's libvirtd.
func (d *Driver) onVM(op vmOp) agent.Func {
	return func(ctx context.Context, req *agent.Request) (agent.Result, error) {
		ctx, cancel := bounded(ctx)
		defer cancel()
		var out string
		hv, err := d.withVM(ctx, req, func(c *conn, dom golibvirt.Domain) (err error) {
			out, err = op(ctx, c, dom, req)
			return err
		})
		if err != nil {
			return agent.Result{}, vmFail(ctx, req, hv, err)
		}
		if out != "" && !strings.HasSuffix(out, "\n") {
			out += "\n"
		}
		return agent.Result{Output: []byte(out)}, nil
	}
}

// bounded gives ctx the driver's deadline when it has none.
func bounded(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, callTimeout)
}

// hypervisor finds the hypervisor named host (a VM's host attribute, or
// a migration's target): its path and what the tree knows of it.
func hypervisor(ctx context.Context, req *agent.Request, host string) (string, agent.Peer, error) {
	switch {
	case host == "":
		return "", agent.Peer{}, agent.Fail(status.Usage, fmt.Errorf("%s: no host attribute names its hypervisor", req.Device))
	case !hostRE.MatchString(host) || req.Peer == nil:
		return "", agent.Peer{}, agent.Fail(status.Usage, fmt.Errorf("%s: %q is not a hypervisor's name", req.Device, host))
	}
	hv := path.Join(HypervisorDir, host)
	p, err := req.Peer(ctx, hv)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return hv, p, agent.Fail(status.Usage, fmt.Errorf("%s: no hypervisor %s (%s is %w)", req.Device, host, hv, errNoHypervisor))
	case err != nil: // an untrusted attribute file is a usage error, as for the device's own
		return hv, p, agent.Fail(status.Of(err), fmt.Errorf("%s: %s: %w", req.Device, hv, err))
	case p.Type != "hypervisor":
		return hv, p, agent.Fail(status.Usage, fmt.Errorf("%s: %s is not a hypervisor", req.Device, hv))
	}
	return hv, p, nil
}

// withHost runs f on the connection to the hypervisor named host (a
// VM's host attribute, a migration's target); it returns the host's path.
func (d *Driver) withHost(ctx context.Context, req *agent.Request, host string, f func(c *conn) error) (string, error) {
	hv, p, err := hypervisor(ctx, req, host)
	if err != nil {
		return hv, err
	}
	key := hv + " " + p.Attrs["uri"]
	c, err := d.pool.get(ctx, key, p.Transport, p.Attrs["uri"])
	if err != nil {
		return hv, agent.Fail(status.Of(err), fmt.Errorf("%s: its host %s: %w", req.Device, hv, err))
	}
	return hv, d.pool.do(ctx, key, c, func() error { return f(c) })
}

// withVM runs f on the request's VM, found on its host's libvirtd over
// the pool's connection; it returns the host's path.
func (d *Driver) withVM(ctx context.Context, req *agent.Request, f func(c *conn, dom golibvirt.Domain) error) (string, error) {
	name := path.Base(req.Device)
	hv := path.Join(HypervisorDir, req.Attrs["host"])
	return d.withHost(ctx, req, req.Attrs["host"], func(c *conn) error {
		for try := 0; ; try++ {
			dom, err := c.lookup(name)
			if err != nil {
				return agent.Fail(status.Failed, fmt.Errorf("%s: %s defines no VM %s: %w", req.Device, hv, name, err))
			}
			// A handle from an older listing: the VM was undefined
			// since, or defined again; look it up afresh, once.
			if err = f(c, dom); !golibvirt.IsNotFound(err) || try > 0 {
				return err
			}
			c.forget(name)
		}
	})
}

// PowerValues are what a VM's power takes; PowerDestructive those that
// stop or interrupt what runs in it.
var (
	PowerValues      = []string{"on", "soft", "off", "reset", "cycle", "suspend", "resume"}
	PowerDestructive = []string{"off", "0", "soft", "reset", "cycle", "suspend"}
)

// writePower acts on the VM and returns its state after: for soft, once
// the guest has shut down (it fails when the guest ignores the ACPI
// request for SoftTimeout).
func (d *Driver) writePower(ctx context.Context, c *conn, dom golibvirt.Domain, req *agent.Request) (string, error) {
	v := strings.ToLower(strings.TrimSpace(string(req.Input)))
	st, _, err := c.DomainGetState(dom, 0)
	if err != nil {
		return "", err
	}
	on := isOn(st)
	switch v {
	case "on", "1":
		if !on {
			err = c.DomainCreate(dom)
		}
	case "off", "0":
		if on {
			err = c.DomainDestroy(dom)
		}
	case "soft":
		if on {
			if err = c.DomainShutdown(dom); err == nil {
				err = d.awaitOff(ctx, c, dom)
			}
		}
	case "reset":
		err = c.DomainReset(dom, 0)
	case "cycle":
		if on {
			err = c.DomainDestroy(dom)
		}
		if err == nil {
			err = c.DomainCreate(dom)
		}
	case "suspend":
		err = c.DomainSuspend(dom)
	case "resume":
		err = c.DomainResume(dom)
	default:
		return "", agent.Fail(status.Usage, fmt.Errorf("%q: write %s", v, strings.Join(PowerValues, ", ")))
	}
	if err != nil {
		return "", fmt.Errorf("power %s: %w", v, err)
	}
	return readState(ctx, c, dom, req)
}

// awaitOff waits for the domain to be off, polling its state, for
// SoftTimeout or until shortly before ctx's deadline (to report why).
func (d *Driver) awaitOff(ctx context.Context, c *conn, dom golibvirt.Domain) error {
	wait := d.settings.SoftTimeout.Duration
	if dl, ok := ctx.Deadline(); ok {
		wait = min(wait, time.Until(dl)-time.Second)
	}
	end := time.Now().Add(wait)
	for {
		st, _, err := c.DomainGetState(dom, 0)
		if err != nil || !isOn(st) {
			return err
		}
		if time.Now().After(end) {
			why := "the guest did not act on the ACPI shutdown request"
			if st == int32(golibvirt.DomainShutdown) {
				why = "the guest has not finished shutting down"
			}
			return agent.Fail(status.Failed, fmt.Errorf("still %s after %s: %s (write off to stop it)", stateName(st), wait.Round(100*time.Millisecond), why))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// readAutostart is autostart: on or off.
func readAutostart(_ context.Context, c *conn, dom golibvirt.Domain, _ *agent.Request) (string, error) {
	a, err := c.DomainGetAutostart(dom)
	if err != nil {
		return "", err
	}
	return map[bool]string{true: "on", false: "off"}[a != 0], nil
}

// writeAutostart sets autostart: on or off (1, 0).
func writeAutostart(ctx context.Context, c *conn, dom golibvirt.Domain, req *agent.Request) (string, error) {
	var a int32
	switch v := strings.ToLower(strings.TrimSpace(string(req.Input))); v {
	case "on", "1":
		a = 1
	case "off", "0":
	default:
		return "", agent.Fail(status.Usage, fmt.Errorf("%q: write on or off", v))
	}
	if err := c.DomainSetAutostart(dom, a); err != nil {
		return "", err
	}
	return readAutostart(ctx, c, dom, req)
}

// readVcpus and readMemory are the VM's virtual CPUs and memory (KiB).
func readVcpus(_ context.Context, c *conn, dom golibvirt.Domain, _ *agent.Request) (string, error) {
	_, _, _, n, _, err := c.DomainGetInfo(dom)
	return fmt.Sprint(n), err
}

func readMemory(_ context.Context, c *conn, dom golibvirt.Domain, _ *agent.Request) (string, error) {
	_, _, mem, _, _, err := c.DomainGetInfo(dom)
	return fmt.Sprint(mem), err
}

// readXML is the VM's definition.
func readXML(_ context.Context, c *conn, dom golibvirt.Domain, _ *agent.Request) (string, error) {
	return c.DomainGetXMLDesc(dom, 0)
}

// writeMemory sets the VM's memory, KiB: in its definition, and in the
// running VM where the hypervisor allows (libvirt's "current" state:
// the live VM when it runs, else its definition).
func writeMemory(ctx context.Context, c *conn, dom golibvirt.Domain, req *agent.Request) (string, error) {
	v := strings.TrimSpace(string(req.Input))
	kib, err := strconv.ParseUint(v, 10, 64)
	if err != nil || kib == 0 {
		return "", agent.Fail(status.Usage, fmt.Errorf("%q: write the memory in KiB", v))
	}
	if err := c.DomainSetMemoryFlags(dom, kib, uint32(golibvirt.DomainAffectCurrent)); err != nil {
		return "", fmt.Errorf("memory %d KiB: %w", kib, err)
	}
	return readMemory(ctx, c, dom, req)
}

// writeXML redefines the VM from the definition written, which must name
// the VM itself (renaming would move it out from under its path); the
// new definition takes effect at its next start, as virsh define's.
func writeXML(ctx context.Context, c *conn, dom golibvirt.Domain, req *agent.Request) (string, error) {
	x := string(req.Input)
	if err := checkDefinition(x, dom.Name, dom.UUID[:]); err != nil {
		return "", agent.Fail(status.Usage, err)
	}
	nd, err := c.DomainDefineXML(x)
	if err != nil {
		return "", fmt.Errorf("defining: %w", err)
	}
	if nd.UUID != dom.UUID {
		return "", fmt.Errorf("the definition made another VM of the same name (a new UUID): give the VM's own <uuid>")
	}
	return "", nil
}
