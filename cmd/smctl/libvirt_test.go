package main

import (
	"os"
	"strconv"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/smctl/smctl/internal/testlibvirt"
)

// cmdLibvirt is libvirt HOSTS VMS [test|qemu]: start HOSTS private
// libvirtd hosts h1..hHOSTS (internal/testlibvirt) with VMS VMs each,
// hI-vmJ, odd J running and even J shut off, on libvirt's test driver
// (the default) or on QEMU; they stop, with their VMs, when the script
// ends. Exports LIBVIRT_H1, LIBVIRT_H2, ... (each host's URI, for
// virsh -c), LIBVIRT_SOCK_H1, ... (its socket) and LIBVIRT_DIR (the
// farm's directory: hI/libvirtd.log, hI/events.log). Scripts guard it
// with [!need:libvirtd] skip (and [!need:qemu] skip for
// qemu).
func cmdLibvirt(ts *testscript.TestScript, neg bool, args []string) {
	const usage = "usage: libvirt HOSTS VMS [test|qemu]"
	if neg || len(args) < 2 || len(args) > 3 {
		ts.Fatalf(usage)
	}
	hosts, err1 := strconv.Atoi(args[0])
	vms, err2 := strconv.Atoi(args[1])
	if err1 != nil || err2 != nil {
		ts.Fatalf(usage)
	}
	opts := testlibvirt.Options{Hosts: hosts, VMs: vms, Driver: testlibvirt.DriverTest}
	if len(args) == 3 {
		opts.Driver = args[2]
	}
	// A directory in $WORK when libvirtd can use it; $WORK is often too
	// long for the UNIX socket paths under it (107 bytes) or, when root,
	// not searchable by the daemons' user (go test's temporary
	// directories are 0700): then a short one in $TMPDIR.
	dir, err := os.MkdirTemp(ts.Getenv("WORK"), "lv")
	ts.Check(err)
	if testlibvirt.CheckDir(dir, opts) != nil {
		ts.Check(os.Remove(dir))
		dir, err = os.MkdirTemp("", testlibvirt.TempPrefix)
		ts.Check(err)
		ts.Defer(func() { os.RemoveAll(dir) })
	}
	ts.Check(os.Chmod(dir, 0o755))
	opts.Dir = dir
	farm, err := testlibvirt.Start(opts)
	if err != nil {
		ts.Fatalf("libvirt: %v", err)
	}
	// Deferred after the directory's removal, so it runs before it.
	ts.Defer(func() { ts.Check(farm.Stop()) })
	for _, h := range farm.Hosts {
		name := strings.ToUpper(h.Name)
		ts.Setenv("LIBVIRT_"+name, h.URI)
		ts.Setenv("LIBVIRT_SOCK_"+name, h.Socket)
	}
	ts.Setenv("LIBVIRT_DIR", farm.Dir)
	ts.Logf("libvirt: %d %s hosts x %d VMs in %s", hosts, opts.Driver, vms, farm.Dir)
}
