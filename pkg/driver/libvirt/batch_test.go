package libvirt

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	golibvirt "github.com/digitalocean/go-libvirt"

	"github.com/smctl/smctl/internal/testlibvirt"
	"github.com/smctl/smctl/pkg/agent"
	"github.com/smctl/smctl/pkg/driver"
	"github.com/smctl/smctl/pkg/status"
	"github.com/smctl/smctl/pkg/transport"
)

// vmFiles is a new driver's VM read agents by file name, and the driver,
// closed when the test ends.
func vmFiles(t *testing.T) (*Driver, map[string]agent.Agent) {
	t.Helper()
	d := Factory.New(driver.Env{}).(*Driver)
	t.Cleanup(func() { d.Close() })
	files := map[string]agent.Agent{}
	for _, b := range d.Builtins()["vm"] {
		if b.Op == agent.Read {
			files[b.File] = b.Agent
		}
	}
	return d, files
}

// readVM runs the VM file agent a on the VM name of host h, the farm's
// hosts being the tree's hypervisors (reached locally).
func readVM(f *testlibvirt.Farm, a agent.Agent, h *testlibvirt.Host, name string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	peer := func(_ context.Context, dev string) (agent.Peer, error) {
		for _, h := range f.Hosts {
			if dev == HypervisorDir+"/"+h.Name {
				return agent.Peer{Type: "hypervisor", Attrs: map[string]string{"uri": h.URI}, Transport: transport.Local{}}, nil
			}
		}
		return agent.Peer{}, fs.ErrNotExist
	}
	res, err := a.Run(ctx, &agent.Request{Device: "/systems/vms/" + name, Type: "vm", Attrs: map[string]string{"host": h.Name}, Peer: peer})
	return string(res.Output), err
}

// virshStates is virsh domstate --reason of each of names on h, in one
// virsh run, as readState words them.
func virshStates(t *testing.T, h *testlibvirt.Host, names []string) map[string]string {
	t.Helper()
	var cmds []string
	for _, n := range names {
		cmds = append(cmds, "domstate --reason "+n)
	}
	out, err := h.Virsh(strings.Join(cmds, "; "))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != len(names) {
		t.Fatalf("virsh: %d states for %d VMs: %q", len(lines), len(names), out)
	}
	want := map[string]string{}
	for i, n := range names {
		want[n] = strings.TrimSpace(lines[i]) + "\n"
	}
	return want
}

// TestStateBatch: many reads of state and power at once, on two
// hypervisors, each answer what virsh says of its VM, in far fewer calls
// than reads; a VM undefined after its handle was listed fails alone,
// named with its hypervisor, as a lone read fails; one undefined and
// defined again (a new UUID) is read afresh; a read after a change sees
// it.
func TestStateBatch(t *testing.T) {
	const vms = 40
	f := farm(t, 2, vms)
	d, files := vmFiles(t)
	names := map[*testlibvirt.Host][]string{}
	want := map[string]string{}
	for i, h := range f.Hosts {
		for j := 1; j <= vms; j++ {
			names[h] = append(names[h], fmt.Sprintf("h%d-vm%d", i+1, j))
		}
		for n, s := range virshStates(t, h, names[h]) {
			want[n] = s
		}
	}
	power := func(state string) string {
		if strings.HasPrefix(state, "shut off") || strings.HasPrefix(state, "crashed") {
			return "off\n"
		}
		return "on\n"
	}

	// readAll reads state and power of every VM of the farm, rounds
	// times over, all at once; got[file][vm] is each answer or error.
	readAll := func(rounds int) map[string]map[string][]string {
		var mu sync.Mutex
		got := map[string]map[string][]string{"state": {}, "power": {}}
		var wg sync.WaitGroup
		for _, h := range f.Hosts {
			for _, n := range names[h] {
				for _, file := range []string{"state", "power"} {
					for range rounds {
						wg.Go(func() {
							out, err := readVM(f, files[file], h, n)
							if err != nil {
								out = "error: " + err.Error()
							}
							mu.Lock()
							got[file][n] = append(got[file][n], out)
							mu.Unlock()
						})
					}
				}
			}
		}
		wg.Wait()
		return got
	}
	calls := func() int {
		n := 0
		for _, h := range f.Hosts {
			key := HypervisorDir + "/" + h.Name + " " + h.URI
			c, err := d.pool.get(context.Background(), key, transport.Local{}, h.URI)
			if err != nil {
				t.Fatal(err)
			}
			b := batcherOf(c)
			b.mu.Lock()
			n += b.calls
			b.mu.Unlock()
		}
		return n
	}

	const rounds = 3
	got := readAll(rounds)
	for n, w := range want {
		for i, s := range got["state"][n] {
			if s != w {
				t.Errorf("%s state, read %d of %d: %q, virsh says %q", n, i+1, rounds, s, w)
			}
		}
		for i, p := range got["power"][n] {
			if p != power(w) {
				t.Errorf("%s power, read %d of %d: %q; want %q (state %q)", n, i+1, rounds, p, power(w), w)
			}
		}
	}
	reads := 2 * rounds * len(want)
	n := calls()
	if n == 0 || n > reads/4 {
		t.Errorf("%d reads at once made %d stats calls: not coalesced", reads, n)
	}
	t.Logf("%d reads at once: %d stats calls", reads, n)

	// Since the handles were listed: h1-vm2 (shut off) undefined, h1-vm4
	// undefined and defined again (another UUID), h1-vm1 destroyed.
	h1 := f.Hosts[0]
	xml, err := h1.Virsh("dumpxml", "h1-vm4")
	if err != nil {
		t.Fatal(err)
	}
	xml = uuidRE.ReplaceAllString(xml, "")
	for _, args := range [][]string{{"undefine", "h1-vm2"}, {"undefine", "h1-vm4"}, {"destroy", "h1-vm1"}} {
		if _, err := h1.Virsh(args...); err != nil {
			t.Fatal(err)
		}
	}
	defineXML(t, h1, xml)
	want["h1-vm1"] = "shut off (destroyed)\n"
	delete(want, "h1-vm2")
	got = readAll(1)
	for n, w := range want {
		if s := got["state"][n]; len(s) != 1 || s[0] != w {
			t.Errorf("after the changes, %s state: %q; want %q", n, s, w)
		}
	}
	for _, file := range []string{"state", "power"} {
		s := got[file]["h1-vm2"]
		if len(s) != 1 || !strings.Contains(s[0], "/systems/vms/h1-vm2: /systems/hypervisors/h1 defines no VM h1-vm2") {
			t.Errorf("undefined h1-vm2 %s: %q; want an error naming it and its hypervisor", file, s)
		}
	}
	// As a lone read of it fails: the same error and status.
	_, err = readVM(f, files["state"], h1, "h1-vm2")
	var ae *agent.Error
	if !errors.As(err, &ae) || ae.RC != int(status.Failed) || "error: "+err.Error() != got["state"]["h1-vm2"][0] {
		t.Errorf("lone read of undefined h1-vm2: %v; batched: %q", err, got["state"]["h1-vm2"])
	}

}

// TestStateBatchConnectionLost: a connection closed while its state reads
// wait in batches: every read returns, with its VM's state or an error
// (its lone DomainGetState's), and none waits on another's batch.
func TestStateBatchConnectionLost(t *testing.T) {
	const vms = 30
	f := farm(t, 1, vms)
	h := f.Hosts[0]
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := dial(ctx, transport.Local{}, h.URI)
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	doms, err := c.listAll()
	if err != nil || len(doms) != vms {
		t.Fatalf("listing: %d VMs, %v", len(doms), err)
	}
	var names []string
	for _, d := range doms {
		names = append(names, d.Name)
	}
	want := virshStates(t, h, names)
	type answer struct {
		name, state string
		err         error
	}
	answers := make(chan answer, 20*vms)
	var wg sync.WaitGroup
	for i := range 20 {
		for _, d := range doms {
			wg.Go(func() {
				st, why, err := domainState(c, d)
				s := ""
				if err == nil {
					s = stateName(st)
					if rs := reasons[st]; why >= 0 && int(why) < len(rs) {
						s += " (" + rs[why] + ")"
					}
					s += "\n"
				}
				answers <- answer{d.Name, s, err}
			})
		}
		if i == 10 {
			c.close()
		}
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(20 * time.Second):
		t.Fatal("reads of a closed connection still wait after 20 s")
	}
	close(answers)
	failed := 0
	for a := range answers {
		switch {
		case a.err != nil:
			failed++
		case a.state != want[a.name]:
			t.Errorf("%s: %q; virsh says %q", a.name, a.state, want[a.name])
		}
	}
	if failed == 0 {
		t.Error("no read failed: the connection was not closed under them")
	}
	if _, _, err := domainState(c, doms[0]); err == nil {
		t.Error("a read of the closed connection did not fail")
	}
}

// uuidRE is a definition's UUID, left out to define a VM anew.
var uuidRE = regexp.MustCompile(`\s*<uuid>[^<]*</uuid>`)

// defineXML defines a VM on h from its definition, as virsh define does.
func defineXML(t *testing.T, h *testlibvirt.Host, xml string) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "vm.xml")
	if err := os.WriteFile(file, []byte(xml), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Virsh("define", file); err != nil {
		t.Fatal(err)
	}
}

// TestStateParams: a stats record's state group, and records that lack it.
func TestStateParams(t *testing.T) {
	p := func(field string, v any) golibvirt.TypedParam {
		return golibvirt.TypedParam{Field: field, Value: golibvirt.TypedParamValue{I: v}}
	}
	for _, tt := range []struct {
		name string
		in   []golibvirt.TypedParam
		want domState
		ok   bool
	}{
		{"both", []golibvirt.TypedParam{p("state.state", int32(1)), p("state.reason", int32(1))}, domState{1, 1}, true},
		{"others around", []golibvirt.TypedParam{p("cpu.time", uint64(9)), p("state.reason", int32(2)), p("state.state", int32(5))}, domState{5, 2}, true},
		{"no reason", []golibvirt.TypedParam{p("state.state", int32(1))}, domState{}, false},
		{"no state", []golibvirt.TypedParam{p("state.reason", int32(1))}, domState{}, false},
		{"wrong type", []golibvirt.TypedParam{p("state.state", uint64(1)), p("state.reason", int32(1))}, domState{}, false},
		{"none", nil, domState{}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := stateParams(tt.in)
			if ok != tt.ok || ok && got != tt.want {
				t.Errorf("stateParams = %+v, %v; want %+v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}
