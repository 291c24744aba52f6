package testlibvirt

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// BootTimeout bounds Boot's wait for libvirtd to answer.
const BootTimeout = 60 * time.Second

// Boot starts the host's libvirtd again, and a new keeper, after Kill,
// Stop or anything else ended the daemon (a fence that killed it by its
// PID), keeping the host's directory: a qemu host finds its persistent
// definitions, and takes back the QEMUs that still run when their status
// files in run/libvirt are still there (after a mere Kill); a test host
// starts empty (its built-in demo VM removed). No VM is started, except
// those libvirt autostarts. Booting a host whose libvirtd runs is an
// error. LibvirtdPID and KeeperPID are the new processes'.
func (h *Host) Boot() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.libvirtd.running() {
		if alive(h.libvirtd.pid) {
			return fmt.Errorf("testlibvirt: boot %s: libvirtd (pid %d) runs", h.Name, h.libvirtd.pid)
		}
		// ended (a zombie), not yet reaped by its goroutine
		select {
		case <-h.libvirtd.done:
		case <-time.After(10 * time.Second):
			return fmt.Errorf("testlibvirt: boot %s: libvirtd (pid %d) was not reaped", h.Name, h.libvirtd.pid)
		}
	}
	cred, err := lookupDaemonUser()
	if err != nil {
		return err
	}
	// The old keeper ends when it loses its connection; if not, now.
	if err := h.keeper.stop(syscall.SIGTERM, 5*time.Second); err != nil {
		return fmt.Errorf("testlibvirt: boot %s: %w", h.Name, err)
	}
	h.stopped = false
	if err := h.startDaemon(cred, BootTimeout); err != nil {
		h.libvirtd.stop(syscall.SIGTERM, 5*time.Second)
		return fmt.Errorf("testlibvirt: boot %s: %w", h.Name, err)
	}
	if err := h.startKeeper(); err != nil {
		return fmt.Errorf("testlibvirt: boot %s: %w", h.Name, err)
	}
	if h.driver == DriverTest {
		ctx := context.Background()
		if err := h.waitKeeper(ctx); err != nil {
			return fmt.Errorf("testlibvirt: boot %s: %w", h.Name, err)
		}
		h.virsh(ctx, "destroy test; undefine test") // the demo VM
	}
	return nil
}

// Running reports whether the host's libvirtd runs (as far as this
// package knows: it was started and has not ended).
func (h *Host) Running() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.libvirtd.running() && alive(h.libvirtd.pid)
}

// QEMUs maps each VM of the host whose QEMU is alive now to that QEMU's
// PID, by libvirt's pid files run/libvirt/qemu/run/NAME.pid of the host,
// each checked against the process's command line. It does not ask
// libvirtd, so it works as well when the daemon has crashed: the QEMUs
// it left keep running.
func (h *Host) QEMUs() map[string]int {
	files, _ := filepath.Glob(filepath.Join(h.Dir, "run/libvirt/qemu/run/*.pid"))
	m := map[string]int{}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".pid")
		if name == "driver" {
			continue
		}
		if pid := pidFile(f, "qemu-system", "guest="+name+","); pid != 0 {
			m[name] = pid
		}
	}
	return m
}

// VirshContext is Virsh bounded by ctx as well as VirshTimeout: for a
// daemon that may hang (frozen, or a host going down), so that the
// caller decides how long an answer may take.
func (h *Host) VirshContext(ctx context.Context, args ...string) (string, error) {
	return h.virsh(ctx, args...)
}
