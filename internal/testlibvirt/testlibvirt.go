// Package testlibvirt runs private libvirtd daemons, one per simulated
// hypervisor host, for tests of smctl's libvirt driver. Nothing listens on
// TCP and no system libvirtd, network, bridge or dnsmasq is touched.
//
// The model: a Farm is a directory holding hosts h1..hN. Host hI is a
// libvirtd in session (unprivileged) mode with its own XDG directories
// under DIR/hI, its UNIX socket at DIR/hI/run/libvirt/libvirt-sock, and
// its own host UUID (libvirt refuses to migrate "to the same host"). Each
// host gets VMs hI-vm1..hI-vmM (odd numbers running, even shut off) with
// UUIDs 5e1fIIII-0000-4000-8000-JJJJJJJJJJJJ. Two drivers:
//
//   - "test": libvirt's built-in mock hypervisor (URI
//     test+unix:///default?socket=...): no process per VM, instant; no
//     migration. Its state lives only while a client is connected, so each
//     host runs a keeper client (virsh event --all --loop, logging every
//     lifecycle event to DIR/hI/events.log); qemu hosts have one too, for
//     the event log.
//   - "qemu": real QEMU VMs under TCG (URI qemu+unix:///session?socket=...),
//     32 MiB, booting a 46-byte boot sector that waits for the ACPI power
//     button and powers off, so shutdown, reboot and live migration between
//     hosts work (migrate with --migrateuri tcp://127.0.0.1 --listen-address
//     127.0.0.1 to keep the stream on loopback; host hI takes incoming
//     migrations on TCP ports 27000+20(I-1) to +19, below the ephemeral
//     range).
//
// Hosts start in parallel. Every process started runs in a session of its
// own and is stopped by its PID, never by name. Callers must defer
// Farm.Stop right after Start succeeds: it is what stops the daemons and
// their VMs when a test fails. If the test process dies without Stop (go
// test's timeout), libvirtd and the keepers get SIGTERM from the kernel
// (parent-death signal), but QEMUs outlive libvirtd by design: the next
// Start, in any process, stops what such a farm left (its directory in
// os.TempDir names its dead owner) and removes the directory.
//
// Where PID 1 reaps orphans late or never (containers), QEMUs and
// virtlogd, which libvirt daemonizes, stay zombies for a while after they
// end; zombies count as ended everywhere here. libvirt waits for them to
// vanish, so there virsh destroy takes ~1.5 s.
//
// When root, libvirtd runs as DaemonUser (see startProc for why), with
// the hosts' directories chowned to it; root's clients (virsh, smctl)
// connect to its sockets as they are. The keeper clients run as the
// caller.
package testlibvirt

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"
)

// Driver names for Options.Driver.
const (
	DriverTest = "test"
	DriverQEMU = "qemu"
)

// DaemonUser is the user libvirtd runs as when the caller is root.
const DaemonUser = "nobody"

// Options say what Start starts.
type Options struct {
	Hosts  int    // number of hosts, 1..99
	VMs    int    // VMs per host, 0..999: hI-vmJ, odd J running, even J shut off
	Driver string // DriverTest (the default when empty) or DriverQEMU
	// Dir is a directory the caller owns, kept by Stop; when empty, Start
	// makes one with os.MkdirTemp and Stop removes it. Its path must be
	// short (UNIX socket paths under it are limited to 107 bytes: CheckDir)
	// and, when root, reachable by DaemonUser.
	Dir string
	// Timeout bounds the wait for each libvirtd to answer (default 60 s).
	Timeout time.Duration
}

// Host is one simulated hypervisor host: one libvirtd.
type Host struct {
	Name   string // h1
	URI    string // test+unix:///default?socket=SOCKET or qemu+unix:///session?socket=SOCKET
	Socket string // DIR/h1/run/libvirt/libvirt-sock
	Dir    string // DIR/h1: libvirtd.log, events.log, the VMs' XML, XDG dirs
	// LibvirtdPID and KeeperPID are the daemon's and the keeper client's
	// PIDs as started.
	LibvirtdPID, KeeperPID int

	driver   string
	mu       sync.Mutex
	libvirtd *proc
	keeper   *proc
	stopped  bool
}

// Farm is a set of running hosts.
type Farm struct {
	Dir    string
	Driver string
	Hosts  []*Host
	made   bool // Dir was made by Start: Stop removes it
}

// daemonCred is who libvirtd runs as: DaemonUser when root (nil
// otherwise, the caller itself).
type daemonCred struct{ uid, gid int }

// Available reports whether libvirtd and virsh are installed (the test
// driver needs nothing else).
func Available() bool {
	_, err1 := libvirtdPath()
	_, err2 := exec.LookPath("virsh")
	return err1 == nil && err2 == nil
}

// QEMUAvailable reports whether the qemu driver can run too:
// Available and qemu-system-x86_64 installed.
func QEMUAvailable() bool {
	_, err := exec.LookPath("qemu-system-x86_64")
	return Available() && err == nil
}

// libvirtdPath finds libvirtd, which is in /usr/sbin, not on every
// user's PATH.
func libvirtdPath() (string, error) {
	if p, err := exec.LookPath("libvirtd"); err == nil {
		return p, nil
	}
	if _, err := os.Stat("/usr/sbin/libvirtd"); err != nil {
		return "", errors.New("libvirtd not found (apt-get install libvirt-daemon)")
	}
	return "/usr/sbin/libvirtd", nil
}

// lookupDaemonUser returns DaemonUser's ids when running as root, nil
// otherwise.
func lookupDaemonUser() (*daemonCred, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup(DaemonUser)
	if err != nil {
		return nil, fmt.Errorf("user %s, whom libvirtd runs as when root: %w", DaemonUser, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &daemonCred{uid, gid}, nil
}

func (o *Options) normalize() error {
	if o.Driver == "" {
		o.Driver = DriverTest
	}
	if o.Driver != DriverTest && o.Driver != DriverQEMU {
		return fmt.Errorf("testlibvirt: driver %q: want %q or %q", o.Driver, DriverTest, DriverQEMU)
	}
	if o.Hosts < 1 || o.Hosts > 99 {
		return fmt.Errorf("testlibvirt: %d hosts: want 1 to 99", o.Hosts)
	}
	if o.VMs < 0 || o.VMs > 999 {
		return fmt.Errorf("testlibvirt: %d VMs per host: want 0 to 999", o.VMs)
	}
	if o.Timeout <= 0 {
		o.Timeout = 60 * time.Second
	}
	return nil
}

// CheckDir reports why dir cannot hold a farm started with opts: a path
// so long that a UNIX socket under it would exceed 107 bytes, or (when
// root) a directory on the way that DaemonUser cannot search. nil: it
// can, as far as mode bits tell.
func CheckDir(dir string, opts Options) error {
	if err := opts.normalize(); err != nil {
		return err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if p := longestSocket(abs, opts); len(p) > 107 {
		return fmt.Errorf("testlibvirt: directory %s is too long: the UNIX socket path %s would be %d bytes, over 107; use a shorter one (os.MkdirTemp(\"\", ...))", abs, p, len(p))
	}
	cred, err := lookupDaemonUser()
	if err != nil || cred == nil {
		return err
	}
	for d := abs; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err == nil && !searchable(fi, cred) {
			return fmt.Errorf("testlibvirt: %s cannot search %s, on the way to %s (libvirtd runs as %[1]s when root): chmod o+x it or use another directory", DaemonUser, d, abs)
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

// longestSocket is the longest UNIX socket path a farm in dir uses: the
// admin socket, or for qemu a VM's monitor socket (libvirt's
// config/libvirt/qemu/lib/domain-ID-NAME/monitor.sock, with room for
// 4-digit domain IDs). A VM a test defines with a name longer than the
// farm's own needs room for up to 20 characters of it.
func longestSocket(dir string, opts Options) string {
	h := filepath.Join(dir, hostName(opts.Hosts))
	p := filepath.Join(h, "run/libvirt/libvirt-admin-sock")
	if opts.Driver == DriverQEMU && opts.VMs > 0 {
		q := filepath.Join(h, "config/libvirt/qemu/lib", "domain-9999-"+vmName(opts.Hosts, opts.VMs), "monitor.sock")
		if len(q) > len(p) {
			p = q
		}
	}
	return p
}

func hostName(i int) string       { return "h" + strconv.Itoa(i) }
func vmName(i, j int) string      { return fmt.Sprintf("h%d-vm%d", i, j) }
func vmUUID(i, j int) string      { return fmt.Sprintf("5e1f%04d-0000-4000-8000-%012d", i, j) }
func hostUUID(i int) string       { return fmt.Sprintf("5e1f0000-0000-4000-8000-%012d", i) }
func imagePath(dir string) string { return filepath.Join(dir, "acpi-off.img") }

// Start starts opts.Hosts hosts with opts.VMs VMs each and waits until
// every libvirtd answers and every VM is in its state. On error nothing
// it started is left running. The caller must defer Stop.
func Start(opts Options) (*Farm, error) {
	if err := opts.normalize(); err != nil {
		return nil, err
	}
	if !Available() {
		return nil, errors.New("testlibvirt: libvirtd or virsh not found (apt-get install libvirt-daemon libvirt-clients)")
	}
	if opts.Driver == DriverQEMU && !QEMUAvailable() {
		return nil, errors.New("testlibvirt: qemu-system-x86_64 not found (apt-get install --no-install-recommends qemu-system-x86)")
	}
	cred, err := lookupDaemonUser()
	if err != nil {
		return nil, err
	}
	sweepDead()
	f := &Farm{Dir: opts.Dir, Driver: opts.Driver}
	if f.Dir == "" {
		if f.Dir, err = os.MkdirTemp("", TempPrefix); err != nil {
			return nil, err
		}
		f.made = true
		// The daemons (DaemonUser) read the disk image here and reach
		// their own directories through it.
		err = os.Chmod(f.Dir, 0o755)
	} else {
		err = os.MkdirAll(f.Dir, 0o755)
	}
	if err == nil {
		f.Dir, err = filepath.Abs(f.Dir)
	}
	if err == nil {
		err = writeOwner(f.Dir)
	}
	if err == nil {
		err = CheckDir(f.Dir, opts)
	}
	if err != nil {
		return nil, errors.Join(err, f.Stop())
	}
	if opts.Driver == DriverQEMU {
		if err := writeImage(imagePath(f.Dir)); err != nil {
			return nil, errors.Join(err, f.Stop())
		}
	}
	for i := 1; i <= opts.Hosts; i++ {
		d := filepath.Join(f.Dir, hostName(i))
		sock := filepath.Join(d, "run/libvirt/libvirt-sock")
		uri := "test+unix:///default?socket=" + sock
		if opts.Driver == DriverQEMU {
			uri = "qemu+unix:///session?socket=" + sock
		}
		f.Hosts = append(f.Hosts, &Host{Name: hostName(i), URI: uri, Socket: sock, Dir: d, driver: opts.Driver})
	}
	// Hosts are independent (own directories, sockets, daemons): start
	// them at once; each records its own error.
	errs := make([]error, len(f.Hosts))
	var g errgroup.Group
	g.SetLimit(8)
	for i, h := range f.Hosts {
		g.Go(func() error {
			if err := h.start(i+1, opts, cred, imagePath(f.Dir)); err != nil {
				errs[i] = fmt.Errorf("testlibvirt: host %s: %w", h.Name, err)
			}
			return nil
		})
	}
	g.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, errors.Join(err, f.Stop())
	}
	return f, nil
}

// start prepares and starts host number i: its directories and config,
// libvirtd, the keeper, the VMs.
func (h *Host) start(i int, opts Options, cred *daemonCred, image string) error {
	for _, d := range []string{"home", "run", "config/libvirt", "cache"} {
		if err := os.MkdirAll(filepath.Join(h.Dir, d), 0o755); err != nil {
			return err
		}
	}
	if err := os.Chmod(filepath.Join(h.Dir, "run"), 0o700); err != nil {
		return err
	}
	conf := fmt.Sprintf("host_uuid = %q\n", hostUUID(i))
	if err := os.WriteFile(filepath.Join(h.Dir, "config/libvirt/libvirtd.conf"), []byte(conf), 0o644); err != nil {
		return err
	}
	// QEMU writes its log file itself, without a virtlogd (which would
	// linger up to 2 minutes after libvirtd; Stop still stops one that
	// something else made libvirtd spawn). Incoming migrations listen
	// on ports of the host's own, below the ephemeral range (32768 and
	// up, where an outgoing connection may hold the port libvirt chose).
	port := 27000 + 20*(i-1)
	qconf := fmt.Sprintf("stdio_handler = \"file\"\nmigration_port_min = %d\nmigration_port_max = %d\n", port, port+19)
	if err := os.WriteFile(filepath.Join(h.Dir, "config/libvirt/qemu.conf"), []byte(qconf), 0o644); err != nil {
		return err
	}
	if cred != nil {
		if err := chownTree(h.Dir, cred.uid, cred.gid); err != nil {
			return err
		}
	}
	if err := h.startDaemon(cred, opts.Timeout); err != nil {
		return err
	}
	if err := h.startKeeper(); err != nil {
		return err
	}
	return h.createVMs(i, opts.VMs, image)
}

func chownTree(dir string, uid, gid int) error {
	return filepath.WalkDir(dir, func(p string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
}

// startDaemon starts libvirtd and waits until it answers on its socket.
func (h *Host) startDaemon(cred *daemonCred, timeout time.Duration) error {
	bin, err := libvirtdPath()
	if err != nil {
		return err
	}
	cmd := exec.Command(bin)
	cmd.Dir = "/"
	// A clean environment: the XDG dirs make it use DIR/hI only; errors
	// only in its log.
	cmd.Env = []string{
		"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=" + filepath.Join(h.Dir, "home"),
		"XDG_RUNTIME_DIR=" + filepath.Join(h.Dir, "run"),
		"XDG_CONFIG_HOME=" + filepath.Join(h.Dir, "config"),
		"XDG_CACHE_HOME=" + filepath.Join(h.Dir, "cache"),
		"LIBVIRT_LOG_OUTPUTS=3:stderr",
	}
	p, err := startProc(cmd, filepath.Join(h.Dir, "libvirtd.log"), cred)
	if err != nil {
		return fmt.Errorf("libvirtd: %w", err)
	}
	h.libvirtd, h.LibvirtdPID = p, p.pid
	writePID(filepath.Join(h.Dir, "libvirtd.pid"), p.pid)
	deadline := time.Now().Add(timeout)
	for {
		if fi, err := os.Stat(h.Socket); err == nil && fi.Mode().Type() == os.ModeSocket {
			if _, err := h.virsh(context.Background(), "list", "--all"); err == nil {
				return nil
			}
		}
		select {
		case <-p.done:
			return fmt.Errorf("libvirtd exited (%v) before answering on %s; %s", p.err, h.Socket, h.logTail())
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("libvirtd did not answer on %s within %v; %s", h.Socket, timeout, h.logTail())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// logTail is the end of the host's libvirtd.log, for errors.
func (h *Host) logTail() string {
	name := filepath.Join(h.Dir, "libvirtd.log")
	b, err := os.ReadFile(name)
	if err != nil {
		return err.Error()
	}
	if len(b) == 0 {
		return name + " is empty"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	return fmt.Sprintf("last lines of %s:\n%s", name, strings.Join(lines, "\n"))
}

// startKeeper starts the client that holds a connection open for the
// host's lifetime (the test driver's state would reset when its last
// client disconnects) and logs every lifecycle event to events.log.
// It runs as the caller: root may connect to DaemonUser's socket.
func (h *Host) startKeeper() error {
	cmd := exec.Command("virsh", "-c", h.URI, "event", "--all", "--loop", "--timestamp")
	p, err := startProc(cmd, filepath.Join(h.Dir, "events.log"), nil)
	if err != nil {
		return fmt.Errorf("keeper: %w", err)
	}
	h.keeper, h.KeeperPID = p, p.pid
	writePID(filepath.Join(h.Dir, "keeper.pid"), p.pid)
	return nil
}

func writePID(name string, pid int) {
	_ = os.WriteFile(name, []byte(strconv.Itoa(pid)+"\n"), 0o644)
}

// searchable reports whether cred may search the directory fi by its mode
// bits (ACLs are not read).
func searchable(fi os.FileInfo, cred *daemonCred) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return true
	}
	m := fi.Mode().Perm()
	switch {
	case int(st.Uid) == cred.uid:
		return m&0o100 != 0
	case int(st.Gid) == cred.gid:
		return m&0o010 != 0
	}
	return m&0o001 != 0
}
