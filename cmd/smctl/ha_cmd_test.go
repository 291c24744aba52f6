package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/smctl/smctl/internal/testha"
	"github.com/smctl/smctl/internal/testlibvirt"
	"github.com/smctl/smctl/internal/testpriv"
)

// haFarms holds each script's HA farm (cmdHAFarm), for hostcrash,
// bmcsilence and running.
var haFarms sync.Map

// cmdHAFarm is hafarm HOSTS VMS [qemu|test]: start an HA test farm
// (internal/testha): HOSTS libvirt hosts h1..hHOSTS with VMS VMs each
// (hI-vmJ, odd J running), on QEMU (the default) or libvirt's test
// driver, each with its own BMC whose chassis power off fences the
// host (kills its libvirtd and QEMUs; confirmed before the BMC answers)
// and whose power on boots it again; stopped when the script ends.
// Exports, for each host: LIBVIRT_H1 (its URI), LIBVIRT_SOCK_H1 (its
// socket), BMC_H1 (127.0.0.1:PORT, user admin, password secret: use
// ipmitool -I lanplus -C 3) and BMC_PORT_H1; and HA_DIR, the farm's
// directory (hI/fence.log, hI/libvirtd.log), also as LIBVIRT_DIR so that
// libvirtd HOST kill|freeze|... acts on the farm's hosts. Scripts guard
// it with [!need:libvirtd] skip, [!need:ipmi_sim] skip and, for qemu,
// [!need:qemu] skip.
func cmdHAFarm(ts *testscript.TestScript, neg bool, args []string) {
	const usage = "usage: hafarm HOSTS VMS [qemu|test]"
	if neg || len(args) < 2 || len(args) > 3 {
		ts.Fatalf(usage)
	}
	hosts, err1 := strconv.Atoi(args[0])
	vms, err2 := strconv.Atoi(args[1])
	if err1 != nil || err2 != nil {
		ts.Fatalf(usage)
	}
	opts := testha.Options{Hosts: hosts, VMs: vms, Driver: testlibvirt.DriverQEMU}
	if len(args) == 3 {
		opts.Driver = args[2]
	}
	// The farm's directory is a short one in $TMPDIR: $WORK is often too
	// long for the UNIX socket paths under it (cmdLibvirt).
	farm, err := testha.Start(opts)
	if err != nil {
		ts.Fatalf("hafarm: %v", err)
	}
	ts.Defer(func() {
		haFarms.Delete(ts)
		ts.Check(farm.Stop())
	})
	haFarms.Store(ts, farm)
	for _, h := range farm.Hosts {
		name := strings.ToUpper(h.Name)
		ts.Setenv("LIBVIRT_"+name, h.URI)
		ts.Setenv("LIBVIRT_SOCK_"+name, h.Socket)
		ts.Setenv("BMC_"+name, h.BMC.Addr)
		ts.Setenv("BMC_PORT_"+name, strconv.Itoa(h.BMC.Port))
	}
	ts.Setenv("HA_DIR", farm.Dir)
	ts.Setenv("LIBVIRT_DIR", farm.Dir)
	ts.Logf("hafarm: %d %s hosts x %d VMs in %s", hosts, opts.Driver, vms, farm.Dir)
}

// haHost is the script's HA farm and the index of its host named
// args[0] (h1, h2, ...), for a command taking just that.
func haHost(ts *testscript.TestScript, neg bool, args []string, usage string) (*testha.Farm, int) {
	if neg || len(args) != 1 {
		ts.Fatalf("%s", usage)
	}
	f, ok := haFarms.Load(ts)
	if !ok {
		ts.Fatalf("no HA farm (run hafarm HOSTS VMS first)")
	}
	i, err := f.(*testha.Farm).Index(args[0])
	ts.Check(err)
	return f.(*testha.Farm), i
}

// cmdHostCrash is hostcrash hN: host hN's libvirtd dies (SIGKILL); its
// QEMUs run on, its BMC still answers (testha.Farm.Crash).
func cmdHostCrash(ts *testscript.TestScript, neg bool, args []string) {
	f, i := haHost(ts, neg, args, "usage: hostcrash HOST")
	ts.Check(f.Crash(i))
}

// cmdBMCSilence is bmcsilence hN: host hN's BMC stops answering; every
// IPMI request to it times out (testha.Farm.SilenceBMC). The host runs on.
func cmdBMCSilence(ts *testscript.TestScript, neg bool, args []string) {
	f, i := haHost(ts, neg, args, "usage: bmcsilence HOST")
	ts.Check(f.SilenceBMC(i))
}

// cmdRunning is running VM: print the hosts where VM runs now, one per
// line, in host order, for stdout checks (testha.Farm.RunningOn: what
// each host's libvirtd says, and the live QEMUs of a host whose libvirtd
// does not answer).
func cmdRunning(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: running VM")
	}
	f, ok := haFarms.Load(ts)
	if !ok {
		ts.Fatalf("no HA farm (run hafarm HOSTS VMS first)")
	}
	// Stdout even when it runs nowhere: a builtin that writes nothing
	// would leave the previous command's stdout for the checks.
	out := ts.Stdout()
	for _, h := range f.(*testha.Farm).RunningOn(args[0]) {
		fmt.Fprintln(out, h)
	}
}

// haCommandsScript exercises the commands above (TestHACommands).
const haCommandsScript = `
hafarm 2 1
exec virsh -c $LIBVIRT_H2 list --name
stdout '^h2-vm1$'
running h1-vm1
stdout '^h1\n$'

# a crashed host's QEMU still runs it, until its BMC powers it off
hostcrash h1
! exec virsh -c $LIBVIRT_H1 list
running h1-vm1
stdout '^h1\n$'
exec ipmitool -I lanplus -C 3 -H 127.0.0.1 -p $BMC_PORT_H1 -U admin -P secret chassis power off
running h1-vm1
! stdout .
exec ipmitool -I lanplus -C 3 -H 127.0.0.1 -p $BMC_PORT_H1 -U admin -P secret chassis power status
stdout '^Chassis Power is off$'
exists $HA_DIR/h1/fence.log

# a silent BMC: no answer; its host runs on
bmcsilence h2
! exec ipmitool -I lanplus -C 3 -N 1 -R 1 -H 127.0.0.1 -p $BMC_PORT_H2 -U admin -P secret chassis power status
stderr '^Error: Unable to establish IPMI v2 / RMCP\+ session$'
running h2-vm1
stdout '^h2\n$'
libvirtd h2 kill
running h2-vm1
stdout '^h2\n$'

`

// TestHACommands runs haCommandsScript against a real HA farm.
func TestHACommands(t *testing.T) {
	if !testha.QEMUAvailable() {
		testpriv.Need(t, "libvirtd, virsh, qemu-system-x86_64 and ipmi_sim (apt-get install libvirt-daemon libvirt-clients qemu-system-x86 openipmi)")
	}
	if _, err := exec.LookPath("ipmitool"); err != nil {
		testpriv.Need(t, "ipmitool (apt-get install ipmitool)")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ha_commands.txtar"), []byte(haCommandsScript), 0o644); err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, testscript.Params{
		Dir:                 dir,
		RequireExplicitExec: true,
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"hafarm":     cmdHAFarm,
			"hostcrash":  cmdHostCrash,
			"bmcsilence": cmdBMCSilence,
			"running":    cmdRunning,
			"libvirtd":   cmdLibvirtd,
		},
	})
}
