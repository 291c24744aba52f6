// Package testha runs a farm for tests of high availability: libvirt
// hypervisor hosts (internal/testlibvirt), each paired with an IPMI BMC
// of its own (internal/testbmc, ipmi_sim on a 127.0.0.1 UDP port, user
// admin, password secret, power on at start) whose power control really
// acts on the host.
//
// The model. Host hI is a private libvirtd with VMs hI-vmJ (odd J
// running); with the qemu driver (the default) they are tiny TCG VMs
// booting one read-only image in the farm's directory that every host
// reads: the shared storage. BMC I is the host's power:
//
//   - power off (and soft off, the first half of a cycle, a reset)
//     fences the host: the BMC's power hook, a shell script run inside
//     ipmi_sim (Dir/fence.sh), kills with SIGKILL the host's libvirtd,
//     then every QEMU it started, each by its PID from that host's pid
//     files only, and waits until each has ended (a zombie has) before
//     the power off is recorded: once the BMC reports the power off,
//     nothing of the host runs. The host is marked fenced (DIR/hI/fenced).
//   - power on boots a fenced host: the power hook asks for it, the farm
//     sees that (it polls every PollInterval) and starts the host's libvirtd again with an
//     empty run directory, as a rebooted host's /run; qemu hosts keep
//     their persistent definitions, VMs are not started (except by
//     libvirt's own autostart); test-driver hosts come back empty.
//     WaitUp waits for it.
//
// Failures a test injects: Crash (libvirtd killed, its QEMUs go on:
// the host that must be fenced before its VMs run elsewhere), Recover
// (libvirtd back on a crashed host, taking its QEMUs back), SilenceBMC
// (the BMC stops answering: every request times out) and RestoreBMC.
// Running samples where each VM runs, asking each host's libvirtd, and
// the QEMU processes of a host whose libvirtd does not answer.
//
// Hosts are indexed from 0 (f.Hosts[i], named h{i+1}), as in
// testlibvirt. Every process is started in a session of its own and
// stopped by its PID; callers defer Stop right after Start (t.Cleanup).
// A test process that dies without Stop leaves its BMCs running: the
// next Start stops them (their parent is gone), and testlibvirt's next
// Start stops the hosts' processes and removes the directory.
package testha

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/smctl/smctl/internal/testbmc"
	"github.com/smctl/smctl/internal/testlibvirt"
)

// PollInterval is how often the farm looks for fenced hosts whose
// power is on again.
const PollInterval = 20 * time.Millisecond

// Options say what Start starts.
type Options struct {
	Hosts int // number of hosts (and BMCs), 1..99
	VMs   int // VMs per host: hI-vmJ, odd J running, even J shut off
	// Driver is testlibvirt.DriverQEMU (the default when empty) or
	// testlibvirt.DriverTest.
	Driver string
	// Dir and Timeout are testlibvirt.Options': a directory the caller
	// owns (empty: a new one, removed by Stop), and the bound of the wait
	// for each libvirtd at start.
	Dir     string
	Timeout time.Duration
}

// Host is one hypervisor host and its BMC.
type Host struct {
	*testlibvirt.Host // Name, URI, Socket, Dir, Virsh...: use the Farm's methods to crash or boot it
	BMC               *testbmc.BMC

	mu      sync.Mutex
	booting bool  // the farm is booting it after a fence (under mu)
	bootErr error // of the last boot after a fence
}

// Farm is a set of running hosts with their BMCs.
type Farm struct {
	Dir   string // the hosts' directories hI, the BMCs' bmc/bmcI, fence.sh
	Hosts []*Host
	LV    *testlibvirt.Farm
	BMCs  *testbmc.Farm

	cancel   context.CancelFunc
	wg       sync.WaitGroup // the watchers
	stopOnce sync.Once
	stopErr  error
}

// Available reports whether the farm can run with the test driver:
// libvirtd, virsh and ipmi_sim installed.
func Available() bool { return testlibvirt.Available() && testbmc.Available() }

// QEMUAvailable reports whether it can run with the qemu driver too.
func QEMUAvailable() bool { return testlibvirt.QEMUAvailable() && testbmc.Available() }

// Start starts opts.Hosts hosts with opts.VMs VMs each and a BMC per
// host, and waits until every libvirtd answers, every VM is in its
// state and every BMC listens. On error nothing it started is left
// running. The caller must defer Stop.
func Start(opts Options) (*Farm, error) {
	if opts.Driver == "" {
		opts.Driver = testlibvirt.DriverQEMU
	}
	if !testbmc.Available() {
		return nil, errors.New("testha: ipmi_sim not found (apt-get install openipmi)")
	}
	sweepBMCs()
	lv, err := testlibvirt.Start(testlibvirt.Options{Hosts: opts.Hosts, VMs: opts.VMs, Driver: opts.Driver, Dir: opts.Dir, Timeout: opts.Timeout})
	if err != nil {
		return nil, fmt.Errorf("testha: %w", err)
	}
	f := &Farm{Dir: lv.Dir, LV: lv}
	hook, err := writeFenceScript(f.Dir)
	if err == nil {
		f.BMCs, err = testbmc.StartWith(testbmc.Options{BMCs: opts.Hosts, Dir: filepath.Join(f.Dir, "bmc"), PowerHook: hook})
	}
	if err != nil {
		return nil, errors.Join(fmt.Errorf("testha: %w", err), f.Stop())
	}
	ctx, cancel := context.WithCancel(context.Background())
	f.cancel = cancel
	for i, lh := range lv.Hosts {
		h := &Host{Host: lh, BMC: f.BMCs.BMCs[i]}
		f.Hosts = append(f.Hosts, h)
		f.wg.Add(1)
		go f.watch(ctx, h)
	}
	return f, nil
}

// Stop stops the watchers, the BMCs and the hosts with their VMs, each
// process by its PID, and removes the directory if Start made it. It is
// safe to call more than once.
func (f *Farm) Stop() error {
	f.stopOnce.Do(func() {
		if f.cancel != nil {
			f.cancel()
		}
		f.wg.Wait()
		var errs []error
		if f.BMCs != nil {
			errs = append(errs, f.BMCs.Stop())
		}
		if f.LV != nil {
			errs = append(errs, f.LV.Stop())
		}
		f.stopErr = errors.Join(errs...)
	})
	return f.stopErr
}

// host returns f.Hosts[i] or an error naming the valid range.
func (f *Farm) host(i int) (*Host, error) {
	if i < 0 || i >= len(f.Hosts) {
		return nil, fmt.Errorf("testha: no host %d (0..%d)", i, len(f.Hosts)-1)
	}
	return f.Hosts[i], nil
}

// Index is the index in f.Hosts of the host named name (h1 is 0).
func (f *Farm) Index(name string) (int, error) {
	n, err := strconv.Atoi(strings.TrimPrefix(name, "h"))
	if err != nil || !strings.HasPrefix(name, "h") || n < 1 || n > len(f.Hosts) {
		return 0, fmt.Errorf("testha: no host %q (h1..h%d)", name, len(f.Hosts))
	}
	return n - 1, nil
}

// Crash kills the libvirtd of host i with SIGKILL and waits for it to
// end; its QEMUs go on running, as the VMs of a failed host may, which
// is why a failed host is fenced before its VMs start elsewhere. Its BMC
// still answers.
func (f *Farm) Crash(i int) error {
	h, err := f.host(i)
	if err != nil {
		return err
	}
	if err := h.Kill(); err != nil {
		return fmt.Errorf("testha: crash %s: %w", h.Name, err)
	}
	return nil
}

// Recover starts the libvirtd of a crashed host i again (Crash; not a
// fenced one: power that on through its BMC), which takes back the
// QEMUs still running, as a restarted libvirtd does.
func (f *Farm) Recover(i int) error {
	h, err := f.host(i)
	if err != nil {
		return err
	}
	unlock, err := lockPower(h)
	if err != nil {
		return err
	}
	defer unlock()
	if h.Fenced() {
		return fmt.Errorf("testha: recover %s: it is fenced (powered off): power it on through its BMC", h.Name)
	}
	return h.Boot()
}

// SilenceBMC stops the simulator of host i's BMC by its PID and keeps
// its port bound without answering: every IPMI request to it times out,
// as to a BMC dead on the network. The host is left as it is.
func (f *Farm) SilenceBMC(i int) error {
	h, err := f.host(i)
	if err != nil {
		return err
	}
	if err := h.BMC.Blackhole(); err != nil {
		return fmt.Errorf("testha: silence %s's BMC: %w", h.Name, err)
	}
	return nil
}

// RestoreBMC starts host i's BMC again on its port (after SilenceBMC),
// with the power state it had.
func (f *Farm) RestoreBMC(i int) error {
	h, err := f.host(i)
	if err != nil {
		return err
	}
	return h.BMC.Restart()
}

// Power switches host i's power as its BMC's chassis power on or off
// does (the same hook: off fences), without an IPMI client.
func (f *Farm) Power(i int, on bool) error {
	h, err := f.host(i)
	if err != nil {
		return err
	}
	return h.BMC.SetPower(on)
}

// WaitUp waits until host i's libvirtd answers: after a power on, until
// the farm has booted it. It fails at once if that boot failed, and when
// ctx ends.
func (f *Farm) WaitUp(ctx context.Context, i int) error {
	h, err := f.host(i)
	if err != nil {
		return err
	}
	for {
		h.mu.Lock()
		booting, bootErr := h.booting, h.bootErr
		h.mu.Unlock()
		if !booting && !h.Fenced() {
			if bootErr != nil {
				return fmt.Errorf("testha: %s did not boot: %w", h.Name, bootErr)
			}
			c, cancel := context.WithTimeout(ctx, 5*time.Second)
			_, err = h.VirshContext(c, "list")
			cancel()
			if err == nil {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			state := "powered off"
			if h.BMC.Power() {
				state = "not answering"
			}
			return fmt.Errorf("testha: %s is %s: %w", h.Name, state, ctx.Err())
		case <-time.After(PollInterval):
		}
	}
}
