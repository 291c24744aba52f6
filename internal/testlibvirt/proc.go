package testlibvirt

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"
)

// proc is a process started by the package (libvirtd, a keeper): a child
// of the test process, reaped by its own goroutine.
type proc struct {
	pid  int
	cmd  *exec.Cmd
	done chan struct{} // closed once the process has ended and been reaped
	err  error         // its Wait result, once done is closed
}

// startProc starts cmd in a session of its own (no ^C or job-control
// signal of the caller's terminal reaches it), with stdin /dev/null and
// stdout and stderr appended to logName, as cred when not nil. The kernel
// sends it SIGTERM if the test process dies without stopping it.
func startProc(cmd *exec.Cmd, logName string, cred *daemonCred) (*proc, error) {
	log, err := os.OpenFile(logName, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer log.Close()
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGTERM}
	if cred != nil {
		// libvirtd run by root is the system daemon (/etc/libvirt,
		// /run/libvirt, the system socket: it would take over or clash
		// with the machine's). Run as an unprivileged user it is a
		// session daemon that keeps to its XDG directories. Its own
		// user's, not the caller's: root's clients may still connect
		// to its socket (root passes the 0700 directory and socket
		// modes), and root-owned state is never written by it.
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(cred.uid), Gid: uint32(cred.gid), Groups: []uint32{}}
	}
	if err := spawn(cmd); err != nil {
		return nil, err
	}
	p := &proc{pid: cmd.Process.Pid, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// spawnc feeds the one goroutine that starts the package's daemons.
var (
	spawnOnce sync.Once
	spawnc    chan spawnReq
)

type spawnReq struct {
	cmd *exec.Cmd
	err chan error
}

// spawn starts cmd from one OS thread that lives as long as the process.
// The parent-death signal is sent when the thread that forked the child
// ends, not the process (golang/go#27505): a Go thread may end while the
// test runs (a goroutine locked to it returns), which would stop a daemon
// under a running test. The spawning goroutine stays locked to its thread
// and never returns, so its thread ends only with the process.
func spawn(cmd *exec.Cmd) error {
	spawnOnce.Do(func() {
		spawnc = make(chan spawnReq)
		go func() {
			runtime.LockOSThread()
			for r := range spawnc {
				r.err <- r.cmd.Start()
			}
		}()
	})
	r := spawnReq{cmd, make(chan error, 1)}
	spawnc <- r
	return <-r.err
}

// stop sends sig and waits up to grace for the process to end, then
// kills it and waits for that.
func (p *proc) stop(sig syscall.Signal, grace time.Duration) error {
	if p == nil {
		return nil
	}
	select {
	case <-p.done:
		return nil
	default:
	}
	_ = syscall.Kill(p.pid, sig)
	select {
	case <-p.done:
		return nil
	case <-time.After(grace):
	}
	_ = syscall.Kill(p.pid, syscall.SIGKILL)
	select {
	case <-p.done:
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("%s (pid %d) did not end after SIGKILL", p.cmd.Path, p.pid)
	}
}

func (p *proc) running() bool {
	if p == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// alive reports whether pid is a process that has not ended: a zombie
// (nobody reaped it yet, or ever where PID 1 reaps nothing) has ended.
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// pid (comm) STATE ...: comm may hold spaces and parentheses
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] != 'Z'
}

// cmdlineHas reports whether pid's command line contains all of words.
func cmdlineHas(pid int, words ...string) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return false
	}
	s := strings.ReplaceAll(string(b), "\x00", " ")
	for _, w := range words {
		if !strings.Contains(s, w) {
			return false
		}
	}
	return true
}

// pidFile is the live process whose PID is in name and whose command
// line contains words, or 0.
func pidFile(name string, words ...string) int {
	b, err := os.ReadFile(name)
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 || !alive(pid) || !cmdlineHas(pid, words...) {
		return 0
	}
	return pid
}

// killWait signals a process that is not our child and waits up to grace
// for it to end (or turn zombie), then kills it and waits again.
func killWait(pid int, sig syscall.Signal, grace time.Duration, what string) error {
	_ = syscall.Kill(pid, sig)
	for _, step := range []struct {
		sig syscall.Signal
		d   time.Duration
	}{{sig, grace}, {syscall.SIGKILL, 10 * time.Second}} {
		if step.sig != sig {
			_ = syscall.Kill(pid, step.sig)
		}
		for end := time.Now().Add(step.d); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
			if !alive(pid) {
				return nil
			}
		}
	}
	return fmt.Errorf("%s (pid %d) did not end after SIGKILL", what, pid)
}

// qemuPIDs are the live QEMUs of the host, by libvirt's pid files
// run/libvirt/qemu/run/NAME.pid (driver.pid is libvirtd's own).
func (h *Host) qemuPIDs() []int {
	files, _ := filepath.Glob(filepath.Join(h.Dir, "run/libvirt/qemu/run/*.pid"))
	var pids []int
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".pid")
		if name == "driver" {
			continue
		}
		if pid := pidFile(f, "qemu-system", "guest="+name); pid != 0 {
			pids = append(pids, pid)
		}
	}
	return pids
}

// virtlogdPID is the host's session virtlogd, or 0.
func (h *Host) virtlogdPID() int {
	return pidFile(filepath.Join(h.Dir, "run/libvirt/virtlogd.pid"), "virtlogd")
}

// PIDs are the host's processes that are alive now: libvirtd, the
// keeper, its session virtlogd if any and its VMs' QEMUs.
func (h *Host) PIDs() []int {
	h.mu.Lock()
	defer h.mu.Unlock()
	var pids []int
	for _, p := range []*proc{h.libvirtd, h.keeper} {
		if p.running() && alive(p.pid) {
			pids = append(pids, p.pid)
		}
	}
	if pid := h.virtlogdPID(); pid != 0 {
		pids = append(pids, pid)
	}
	return append(pids, h.qemuPIDs()...)
}

// Kill kills the host's libvirtd with SIGKILL, as a crash, and waits
// for it to end. Its VMs' QEMUs keep running (they do on a real host);
// the keeper loses its connection. Stop or StopHost still stop them.
func (h *Host) Kill() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.libvirtd.stop(syscall.SIGKILL, 0)
}

// Stop stops everything of the host, each process by its PID, and waits
// for each to end: the running VMs destroyed through libvirt (qemu), any
// QEMU left killed by libvirt's pid file, then the keeper, libvirtd and
// a session virtlogd. The host's directory is kept. Stopping a stopped
// host does nothing.
func (h *Host) Stop() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stopped {
		return nil
	}
	h.stopped = true
	var errs []error
	if h.driver == DriverQEMU && h.libvirtd.running() {
		// A QEMU outlives its libvirtd: destroy the VMs first.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		out, err := h.virsh(ctx, "list", "--name")
		if err == nil {
			// One virsh each, at once: libvirt polls for each QEMU's
			// end (~1.5 s where the ended QEMU stays a zombie).
			var wg sync.WaitGroup
			for _, vm := range strings.Fields(out) {
				wg.Go(func() { h.virsh(ctx, "destroy", vm) }) // what is left is killed below
			}
			wg.Wait()
		}
		cancel()
	}
	for _, pid := range h.qemuPIDs() {
		if err := killWait(pid, syscall.SIGKILL, 10*time.Second, "qemu"); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, h.keeper.stop(syscall.SIGTERM, 5*time.Second))
	errs = append(errs, h.libvirtd.stop(syscall.SIGTERM, 10*time.Second))
	if pid := h.virtlogdPID(); pid != 0 {
		errs = append(errs, killWait(pid, syscall.SIGTERM, 5*time.Second, "virtlogd"))
	}
	// a QEMU started while libvirtd was going down
	for _, pid := range h.qemuPIDs() {
		errs = append(errs, killWait(pid, syscall.SIGKILL, 10*time.Second, "qemu"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("testlibvirt: stopping %s: %w", h.Name, err)
	}
	return nil
}

// KillHost kills the libvirtd of f.Hosts[i] (Host.Kill): a crash.
func (f *Farm) KillHost(i int) error {
	if i < 0 || i >= len(f.Hosts) {
		return fmt.Errorf("testlibvirt: no host %d (0..%d)", i, len(f.Hosts)-1)
	}
	return f.Hosts[i].Kill()
}

// StopHost stops f.Hosts[i] (Host.Stop).
func (f *Farm) StopHost(i int) error {
	if i < 0 || i >= len(f.Hosts) {
		return fmt.Errorf("testlibvirt: no host %d (0..%d)", i, len(f.Hosts)-1)
	}
	return f.Hosts[i].Stop()
}

// Stop stops every host, in parallel, then removes the farm's directory
// if Start made it. It is safe to call more than once; callers defer it
// right after Start.
func (f *Farm) Stop() error {
	errs := make([]error, len(f.Hosts)+1)
	var g errgroup.Group
	for i, h := range f.Hosts {
		g.Go(func() error {
			errs[i] = h.Stop()
			return nil
		})
	}
	g.Wait()
	if f.made && f.Dir != "" {
		if err := os.RemoveAll(f.Dir); err != nil {
			errs[len(f.Hosts)] = err
		}
	}
	return errors.Join(errs...)
}
