package testlibvirt

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// VirshTimeout bounds each virsh command the package runs.
const VirshTimeout = 60 * time.Second

// bootSector is the guest's whole "OS", loaded at 0x7c00 by SeaBIOS
// (16-bit real mode): read the PIIX4 PM I/O base from PCI 00:01.3 register
// 0x40 into bx; set PWRBTN_EN in PM1_EN (bx+2); sti; loop on hlt until
// PWRBTN_STS (bit 8) is set in PM1_STS (bx); then write SLP_EN with
// SLP_TYP 0 (S5, QEMU's soft-off) to PM1_CNT (bx+4); jmp $. So an ACPI
// shutdown powers the VM off and a reboot restarts it.
var bootSector = []byte{
	0x66, 0xb8, 0x40, 0x0b, 0x00, 0x80, // mov eax, 0x80000b40
	0xba, 0xf8, 0x0c, // mov dx, 0xcf8
	0x66, 0xef, // out dx, eax
	0xb2, 0xfc, // mov dl, 0xfc
	0x66, 0xed, // in eax, dx
	0x25, 0xc0, 0xff, // and ax, 0xffc0
	0x89, 0xc3, // mov bx, ax
	0x8d, 0x57, 0x02, // lea dx, [bx+2]
	0xb8, 0x00, 0x01, // mov ax, 0x100
	0xef,       // out dx, ax
	0xfb,       // sti
	0xf4,       // hlt
	0x89, 0xda, // mov dx, bx
	0xed,             // in ax, dx
	0xf6, 0xc4, 0x01, // test ah, 1
	0x74, 0xf7, // jz hlt
	0x8d, 0x57, 0x04, // lea dx, [bx+4]
	0xb8, 0x00, 0x20, // mov ax, 0x2000
	0xef,       // out dx, ax
	0xeb, 0xfe, // jmp $
}

// writeImage writes the 1 MiB raw disk (the boot sector, then zeros),
// readable by every host's daemon.
func writeImage(name string) error {
	img := make([]byte, 1<<20)
	copy(img, bootSector)
	img[510], img[511] = 0x55, 0xaa
	tmp := name + ".tmp"
	if err := os.WriteFile(tmp, img, 0o644); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o644); err != nil { // whatever the umask
		return err
	}
	return os.Rename(tmp, name)
}

// domainXML is the definition of a VM of the driver.
func domainXML(driver, name, uuid, image, emulator string) string {
	if driver == DriverTest {
		return fmt.Sprintf(`<domain type='test'>
  <name>%s</name>
  <uuid>%s</uuid>
  <memory unit='MiB'>512</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64'>hvm</type></os>
</domain>
`, name, uuid)
	}
	return fmt.Sprintf(`<domain type='qemu'>
  <name>%s</name>
  <uuid>%s</uuid>
  <memory unit='MiB'>32</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>
  <features><acpi/></features>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>%s</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/>
      <source file='%s'/>
      <target dev='vda' bus='virtio'/>
      <readonly/>
    </disk>
    <controller type='usb' model='none'/>
    <memballoon model='none'/>
  </devices>
</domain>
`, name, uuid, emulator, image)
}

// quote quotes s for virsh's own command-line parser.
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// createVMs defines host number i's n VMs and starts the odd ones, in
// one virsh run, then checks every VM's state.
func (h *Host) createVMs(i, n int, image string) error {
	ctx := context.Background()
	var batch []string
	if h.driver == DriverTest {
		if err := h.waitKeeper(ctx); err != nil {
			return err
		}
		// the test driver's built-in demo VM
		batch = append(batch, "destroy test", "undefine test")
	}
	emulator := ""
	if h.driver == DriverQEMU {
		var err error
		if emulator, err = exec.LookPath("qemu-system-x86_64"); err != nil {
			return err
		}
		if emulator, err = filepath.Abs(emulator); err != nil {
			return err
		}
	}
	want := map[string]string{}
	for j := 1; j <= n; j++ {
		name := vmName(i, j)
		file := filepath.Join(h.Dir, name+".xml")
		if err := os.WriteFile(file, []byte(domainXML(h.driver, name, vmUUID(i, j), image, emulator)), 0o644); err != nil {
			return err
		}
		batch = append(batch, "define "+quote(file))
		want[name] = "shut off"
		if j%2 == 1 {
			batch = append(batch, "start "+name)
			want[name] = "running"
		}
	}
	if len(batch) > 0 {
		// virsh goes on after a failed command and exits with the
		// status of the last: the states are checked below instead.
		h.virsh(ctx, strings.Join(batch, "; "))
	}
	got, err := h.states(ctx)
	if err != nil {
		return err
	}
	var bad []string
	for name, st := range want {
		if got[name] != st {
			bad = append(bad, fmt.Sprintf("%s is %q, want %q", name, got[name], st))
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			bad = append(bad, fmt.Sprintf("unexpected VM %s (%s)", name, got[name]))
		}
	}
	if len(bad) > 0 {
		slices.Sort(bad)
		return fmt.Errorf("creating VMs: %s; %s", strings.Join(bad, ", "), h.logTail())
	}
	return nil
}

// waitKeeper waits until the keeper holds its connection, so that what
// one virsh run changes on a test-driver host outlives it: a probe VM
// defined by one run must still be there in the next.
func (h *Host) waitKeeper(ctx context.Context) error {
	probe := filepath.Join(h.Dir, "probe.xml")
	if err := os.WriteFile(probe, []byte(domainXML(DriverTest, "smctl-probe", "5e1fffff-0000-4000-8000-000000000000", "", "")), 0o644); err != nil {
		return err
	}
	defer os.Remove(probe)
	for range 200 {
		select {
		case <-h.keeper.done:
			return fmt.Errorf("keeper (virsh event) exited: %v; see %s", h.keeper.err, filepath.Join(h.Dir, "events.log"))
		default:
		}
		h.virsh(ctx, "define "+quote(probe))
		if _, err := h.virsh(ctx, "domstate smctl-probe; undefine smctl-probe"); err == nil {
			return nil
		}
		time.Sleep(25 * time.Millisecond)
	}
	return fmt.Errorf("the keeper's connection did not come up; see %s", filepath.Join(h.Dir, "events.log"))
}

// states maps each VM of the host to its state ("running", "shut off").
func (h *Host) states(ctx context.Context) (map[string]string, error) {
	out, err := h.virsh(ctx, "list", "--all")
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 {
			m[f[1]] = strings.Join(f[2:], " ")
		}
	}
	return m, nil
}

// Virsh runs virsh -q -c URI ARGS against the host (as the caller) and
// returns its standard output. A failure's error carries virsh's first
// error line.
func (h *Host) Virsh(args ...string) (string, error) {
	return h.virsh(context.Background(), args...)
}

func (h *Host) virsh(ctx context.Context, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, VirshTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "virsh", append([]string{"-q", "-c", h.URI}, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = 5 * time.Second
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if i := strings.IndexByte(msg, '\n'); i >= 0 {
			msg = msg[:i]
		}
		if ctx.Err() != nil {
			err = errors.Join(err, ctx.Err())
		}
		return string(out), fmt.Errorf("virsh %s on %s: %w: %s", strings.Join(args, " "), h.Name, err, msg)
	}
	return string(out), nil
}
