package testlibvirt

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// TempPrefix begins the names of the directories Start makes in
// os.TempDir; a farm directory of that name whose owner died is swept.
const TempPrefix = "smctl-lv-"

// ownerFile in a farm's directory names the process that started it:
// "PID STARTTIME" (the start time tells a reused PID apart).
const ownerFile = "owner"

// startTime is field 22 of /proc/PID/stat, the process's start time in
// clock ticks since boot, or "" if pid is gone.
func startTime(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ""
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return ""
	}
	f := strings.Fields(s[i+1:]) // f[0] is field 3, the state
	if len(f) < 20 {
		return ""
	}
	return f[19]
}

func writeOwner(dir string) error {
	me := os.Getpid()
	return os.WriteFile(filepath.Join(dir, ownerFile), []byte(fmt.Sprintf("%d %s\n", me, startTime(me))), 0o644)
}

// sweepDead stops what farms of test processes that died without Stop
// (go test's timeout kills the process) left running, and removes their
// directories in os.TempDir. libvirtd and the keepers end with their test
// process (parent-death signal); QEMUs and a virtlogd do not. A farm
// whose owner is alive is not touched; every process is matched by its
// PID file and command line (or environment) before it is signalled.
func sweepDead() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), TempPrefix+"*"))
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, ownerFile))
		if err != nil {
			continue // not a farm, or one whose owner is still writing it
		}
		var pid int
		var st string
		if _, err := fmt.Sscan(string(b), &pid, &st); err != nil || alive(pid) && startTime(pid) == st {
			continue
		}
		hosts, _ := filepath.Glob(filepath.Join(d, "h[0-9]*"))
		for _, hd := range hosts {
			h := &Host{Dir: hd}
			for _, q := range h.qemuPIDs() {
				_ = killWait(q, syscall.SIGKILL, 5*time.Second, "qemu")
			}
			if p := pidFile(filepath.Join(hd, "keeper.pid"), "event --all --loop", hd); p != 0 {
				_ = killWait(p, syscall.SIGTERM, 2*time.Second, "keeper")
			}
			if p := pidFile(filepath.Join(hd, "libvirtd.pid"), "libvirtd"); p != 0 && environHas(p, "XDG_RUNTIME_DIR="+filepath.Join(hd, "run")) {
				_ = killWait(p, syscall.SIGTERM, 5*time.Second, "libvirtd")
			}
			if p := h.virtlogdPID(); p != 0 {
				_ = killWait(p, syscall.SIGTERM, 2*time.Second, "virtlogd")
			}
		}
		_ = os.RemoveAll(d)
	}
}

// environHas reports whether pid's environment holds the entry kv.
func environHas(pid int, kv string) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if err != nil {
		return false
	}
	for _, e := range strings.Split(string(b), "\x00") {
		if e == kv {
			return true
		}
	}
	return false
}
