package libvirt

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/smctl/smctl/internal/testlibvirt"
	"github.com/smctl/smctl/pkg/agent"
	"github.com/smctl/smctl/pkg/driver"
	"github.com/smctl/smctl/pkg/transport"
)

// farm starts private libvirtd hosts on libvirt's test driver for one
// test, stopped when it ends.
func farm(t *testing.T, hosts, vms int) *testlibvirt.Farm {
	t.Helper()
	if !testlibvirt.Available() {
		if os.Getenv("SMCTL_TEST_REQUIRE") == "1" {
			t.Fatal("libvirtd is not installed, which SMCTL_TEST_REQUIRE=1 makes required")
		}
		t.Skip("libvirtd is not installed")
	}
	f, err := testlibvirt.Start(testlibvirt.Options{Hosts: hosts, VMs: vms, Driver: testlibvirt.DriverTest})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := f.Stop(); err != nil {
			t.Error(err)
		}
	})
	return f
}

// read runs the hypervisor file agent a on host h, reached locally.
func read(t *testing.T, a agent.Agent, h *testlibvirt.Host) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := a.Run(ctx, &agent.Request{Device: "/systems/hypervisors/" + h.Name, Attrs: map[string]string{"uri": h.URI}, Transport: transport.Local{}})
	return string(res.Output), err
}

// TestHypervisorFiles: vms, capacity and version of a real libvirtd (the
// test driver), each checked against virsh.
func TestHypervisorFiles(t *testing.T) {
	f := farm(t, 1, 3)
	h := f.Hosts[0]
	files := map[string]agent.Agent{}
	for _, b := range New(driver.Env{}).(*Driver).Builtins()["hypervisor"] {
		files[b.File] = b.Agent
	}
	vms, err := read(t, files["vms"], h)
	if err != nil || vms != "h1-vm1 running\nh1-vm2 shut off\nh1-vm3 running\n" {
		t.Errorf("vms: %q, %v", vms, err)
	}
	list, err := h.Virsh("list", "--all", "--name")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range strings.Fields(list) {
		if !strings.Contains(vms, name+" ") {
			t.Errorf("virsh lists %s, vms does not: %q", name, vms)
		}
	}
	capa, err := read(t, files["capacity"], h)
	if err != nil || !strings.Contains(capa, "\nrunning 2\n") || !strings.HasPrefix(capa, "cpus ") {
		t.Errorf("capacity: %q, %v", capa, err)
	}
	ver, err := read(t, files["version"], h)
	if err != nil || !strings.HasPrefix(ver, "TEST ") || !strings.Contains(ver, ", libvirt ") {
		t.Errorf("version: %q, %v", ver, err)
	}
	// A libvirtd that is gone: an error naming the device and the socket,
	// within the deadline.
	f.StopHost(0)
	start := time.Now()
	if _, err := read(t, files["vms"], h); err == nil || !strings.Contains(err.Error(), h.Socket) || !strings.Contains(err.Error(), "/systems/hypervisors/h1") {
		t.Errorf("libvirtd stopped: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("libvirtd stopped: %s to fail", d)
	}
}
