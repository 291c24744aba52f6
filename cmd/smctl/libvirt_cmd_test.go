package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// cmdLibvirtd is libvirtd HOST stop|kill|freeze|thaw: act on the libvirtd
// of host HOST (h1, h2, ...) of the script's libvirt farm (cmdLibvirt), as
// a hypervisor goes down: stop (SIGTERM, as a shutdown), kill (SIGKILL, a
// crash: its socket file stays, refusing connections), freeze (SIGSTOP: it
// accepts connections and never answers, as a hung daemon) and thaw
// (SIGCONT). stop and kill wait for it to end and be reaped. A frozen
// daemon is thawed when the script ends, before the farm stops it.
//
// The daemon is found by its PID file, $LIBVIRT_DIR/HOST/libvirtd.pid,
// and signalled only while that PID is a libvirtd this test process
// started (its child): never by name.
func cmdLibvirtd(ts *testscript.TestScript, neg bool, args []string) {
	const usage = "usage: libvirtd HOST stop|kill|freeze|thaw"
	if neg || len(args) != 2 {
		ts.Fatalf(usage)
	}
	host, how := args[0], args[1]
	sig := map[string]syscall.Signal{"stop": syscall.SIGTERM, "kill": syscall.SIGKILL,
		"freeze": syscall.SIGSTOP, "thaw": syscall.SIGCONT}[how]
	if sig == 0 || !strings.HasPrefix(host, "h") || strings.ContainsAny(host, "/.") {
		ts.Fatalf(usage)
	}
	dir := ts.Getenv("LIBVIRT_DIR")
	if dir == "" {
		ts.Fatalf("libvirtd: no libvirt farm (run libvirt HOSTS VMS first)")
	}
	b, err := os.ReadFile(filepath.Join(dir, host, "libvirtd.pid"))
	ts.Check(err)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	ts.Check(err)
	if !ourLibvirtd(pid) {
		ts.Fatalf("libvirtd %s: pid %d is not a running libvirtd this test started", host, pid)
	}
	ts.Check(syscall.Kill(pid, sig))
	switch how {
	case "freeze":
		ts.Defer(func() {
			if ourLibvirtd(pid) {
				syscall.Kill(pid, syscall.SIGCONT)
			}
		})
	case "stop", "kill":
		// Until it is reaped (the farm waits for its children): a
		// zombie leader may still have threads holding its socket open.
		for end := time.Now().Add(15 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err != nil {
				break
			}
			if time.Now().After(end) {
				ts.Fatalf("libvirtd %s (pid %d) did not end after %s", host, pid, how)
			}
		}
	}
	ts.Logf("libvirtd %s: %s (pid %d)", host, how, pid)
}

// ourLibvirtd reports whether pid is a libvirtd that has not ended (a
// zombie has) and whose parent is this process.
func ourLibvirtd(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// pid (comm) STATE PPID ...: comm may hold spaces and parentheses.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || !strings.Contains(s[:i], "(libvirtd") {
		return false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 2 || f[0] == "Z" || f[0] == "X" {
		return false
	}
	ppid, err := strconv.Atoi(f[1])
	return err == nil && ppid == os.Getpid()
}
