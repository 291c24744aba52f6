package libvirt

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	golibvirt "github.com/digitalocean/go-libvirt"

	"github.com/smctl/smctl/pkg/agent"
	"github.com/smctl/smctl/pkg/status"
)

// hypervisorOp is one file of a hypervisor, computed over its connection.
type hypervisorOp func(ctx context.Context, c *conn, req *agent.Request) (string, error)

// onHypervisor runs op on the request's hypervisor, over the pool's
// connection to it.
func (d *Driver) onHypervisor(op hypervisorOp) agent.Func {
	return func(ctx context.Context, req *agent.Request) (agent.Result, error) {
		ctx, cancel := bounded(ctx)
		defer cancel()
		var out string
		if err := d.onOwn(ctx, req, func(c *conn) (err error) {
			out, err = op(ctx, c, req)
			return err
		}); err != nil {
			return agent.Result{}, err
		}
		if out != "" && !strings.HasSuffix(out, "\n") {
			out += "\n"
		}
		return agent.Result{Output: []byte(out)}, nil
	}
}

// onOwn runs f on the connection to the request's hypervisor (its own
// uri and transport); its error names the hypervisor.
func (d *Driver) onOwn(ctx context.Context, req *agent.Request, f func(c *conn) error) error {
	key := req.Device + " " + req.Attrs["uri"]
	c, err := d.pool.get(ctx, key, req.Transport, req.Attrs["uri"])
	if err != nil {
		return agent.Fail(status.Of(err), fmt.Errorf("%s: %w", req.Device, err))
	}
	if err := d.pool.do(ctx, key, c, func() error { return f(c) }); err != nil {
		return agent.Fail(status.Failed, fmt.Errorf("%s: %w", req.Device, ctxErr(ctx, err)))
	}
	return nil
}

// stateNames are libvirt's domain states as virsh names them.
var stateNames = map[int32]string{
	int32(golibvirt.DomainNostate): "no state", int32(golibvirt.DomainRunning): "running",
	int32(golibvirt.DomainBlocked): "idle", int32(golibvirt.DomainPaused): "paused",
	int32(golibvirt.DomainShutdown): "in shutdown", int32(golibvirt.DomainShutoff): "shut off",
	int32(golibvirt.DomainCrashed): "crashed", int32(golibvirt.DomainPmsuspended): "pmsuspended",
}

// stateName is a domain state's name.
func stateName(s int32) string {
	if n, ok := stateNames[s]; ok {
		return n
	}
	return fmt.Sprintf("state %d", s)
}

// domains lists every domain the hypervisor defines, running or not,
// with its state, sorted by name.
func domains(c *conn) ([]golibvirt.Domain, []int32, error) {
	doms, err := c.listAll()
	if err != nil {
		return nil, nil, fmt.Errorf("listing domains: %w", err)
	}
	slices.SortFunc(doms, func(a, b golibvirt.Domain) int { return strings.Compare(a.Name, b.Name) })
	states := make([]int32, len(doms))
	for i, d := range doms {
		if states[i], _, err = c.DomainGetState(d, 0); err != nil {
			return nil, nil, fmt.Errorf("state of %s: %w", d.Name, err)
		}
	}
	return doms, states, nil
}

// readVMs is vms: NAME STATE lines.
func readVMs(_ context.Context, c *conn, _ *agent.Request) (string, error) {
	doms, states, err := domains(c)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for i, d := range doms {
		fmt.Fprintf(&b, "%s %s\n", d.Name, stateName(states[i]))
	}
	return b.String(), nil
}

// readCapacity is capacity: CPUs, memory and free memory in KiB, running
// VMs.
func readCapacity(_ context.Context, c *conn, _ *agent.Request) (string, error) {
	_, memKB, cpus, _, _, _, _, _, err := c.NodeGetInfo()
	if err != nil {
		return "", fmt.Errorf("node info: %w", err)
	}
	free, err := c.NodeGetFreeMemory()
	if err != nil {
		return "", fmt.Errorf("free memory: %w", err)
	}
	_, states, err := domains(c)
	if err != nil {
		return "", err
	}
	running := 0
	for _, s := range states {
		if s == int32(golibvirt.DomainRunning) || s == int32(golibvirt.DomainBlocked) || s == int32(golibvirt.DomainPaused) {
			running++
		}
	}
	return fmt.Sprintf("cpus %d\nmemory_kb %d\nfree_memory_kb %d\nrunning %d", cpus, memKB, free/1024, running), nil
}

// readVersion is version: "TYPE MAJOR.MINOR.RELEASE, libvirt X.Y.Z".
func readVersion(_ context.Context, c *conn, _ *agent.Request) (string, error) {
	typ, err := c.ConnectGetType()
	if err != nil {
		return "", err
	}
	hv, err := c.ConnectGetVersion()
	if err != nil {
		return "", err
	}
	lib, err := c.ConnectGetLibVersion()
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s %s, libvirt %s", typ, version(hv), version(lib)), nil
}

// version is libvirt's encoded version (major*1000000 + minor*1000 +
// release) as MAJOR.MINOR.RELEASE.
func version(v uint64) string {
	return fmt.Sprintf("%d.%d.%d", v/1000000, v/1000%1000, v%1000)
}

// discoverVMs is a hypervisor's discovery: a statement per VM it defines,
// "vm NAME host=HYPERVISOR", which adds or updates /systems/vms/NAME. A VM
// the tree has on another hypervisor that still defines it too is defined
// on two: it is reported (the discovery fails, after the statements of
// the others), and left where it is; one its old host defines no more has
// moved (a migration outside smctl), and its host is updated.
func (d *Driver) discoverVMs(ctx context.Context, req *agent.Request) (agent.Result, error) {
	ctx, cancel := bounded(ctx)
	defer cancel()
	host := path.Base(req.Device)
	var doms []golibvirt.Domain
	if err := d.onOwn(ctx, req, func(c *conn) (err error) {
		if doms, err = c.listAll(); err != nil {
			return fmt.Errorf("listing domains: %w", err)
		}
		return nil
	}); err != nil {
		return agent.Result{}, err
	}
	slices.SortFunc(doms, func(a, b golibvirt.Domain) int { return strings.Compare(a.Name, b.Name) })
	var b strings.Builder
	var twice []string
	down := map[string]error{} // hypervisors that could not be asked
	for _, dom := range doms {
		if !hostRE.MatchString(dom.Name) {
			fmt.Fprintf(&b, "# %q: not a name a device may have; left out\n", dom.Name)
			continue
		}
		if other := d.definedElsewhere(ctx, req, dom.Name, host, down); other != "" {
			twice = append(twice, other)
			continue
		}
		fmt.Fprintf(&b, "vm %s host=%s\n", dom.Name, host)
	}
	if len(twice) > 0 {
		msg := strings.Join(twice, "; ")
		return agent.Result{Output: []byte(b.String()), RC: int(status.Failed), Message: msg, Keep: true}, nil
	}
	return agent.Result{Output: []byte(b.String())}, nil
}

// definedElsewhere says why the VM name, which host defines, is not to be
// taken from host: the tree has it on another hypervisor, which defines
// it too (or could not be asked: down keeps those, asked once); "" when
// it may.
func (d *Driver) definedElsewhere(ctx context.Context, req *agent.Request, name, host string, down map[string]error) string {
	vm, err := req.Peer(ctx, path.Join(VMDir, name))
	other := vm.Attrs["host"]
	if err != nil || vm.Type != "vm" || other == "" || other == host {
		return ""
	}
	err, isDown := down[other]
	if !isDown {
		_, err = d.withHost(ctx, req, other, func(c *conn) error {
			_, err := c.DomainLookupByName(name)
			return err
		})
	}
	switch {
	case err == nil:
		return fmt.Sprintf("vm %s is defined on %s and on %s: left on %s (undefine one of them)", name, other, host, other)
	case golibvirt.IsNotFound(err) || errors.Is(err, errNoHypervisor):
		return "" // it moved: its host is updated
	}
	down[other] = err
	return fmt.Sprintf("vm %s is on %s, which could not be asked whether it still defines it (%v): left on %s", name, other, err, other)
}
