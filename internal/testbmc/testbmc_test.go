package testbmc

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/smctl/smctl/internal/testpriv"
)

func ipmitool(b *BMC, args ...string) (string, error) {
	a := []string{"-I", "lanplus", "-C", "3", "-N", "1", "-R", "2", "-H", "127.0.0.1", "-p", strconv.Itoa(b.Port), "-U", User, "-P", Password}
	out, err := exec.Command("ipmitool", append(a, args...)...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// TestPowerHook: the power hook runs around power changes, a failing
// one refuses the power off, and Restart brings back a silenced BMC
// with the power state it had.
func TestPowerHook(t *testing.T) {
	if !Available() {
		testpriv.Need(t, "ipmi_sim (apt-get install openipmi)")
	}
	if _, err := exec.LookPath("ipmitool"); err != nil {
		testpriv.Need(t, "ipmitool (apt-get install ipmitool)")
	}
	dir := t.TempDir()
	calls := filepath.Join(dir, "calls")
	fail := filepath.Join(dir, "fail")
	hook := filepath.Join(dir, "hook.sh")
	script := "#!/bin/sh\necho \"$1 ${2##*/} $3\" >> " + calls + "\n[ ! -e " + fail + " ]\n"
	if err := os.WriteFile(hook, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := StartWith(Options{BMCs: 2, Dir: filepath.Join(dir, "bmc"), PowerHook: hook})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Stop() })
	b := f.BMCs[1]
	for _, step := range []struct {
		cmd, want string
		fails     bool
		power     bool
	}{
		{"off", "2 bmc2 off", false, false},
		{"on", "2 bmc2 on", false, true},
		{"reset", "2 bmc2 reset", false, true},
		{"fail", "", false, true},
		{"off", "2 bmc2 off", true, true},
	} {
		os.Remove(calls)
		if step.cmd == "fail" {
			os.WriteFile(fail, nil, 0o644)
			continue
		}
		out, err := ipmitool(b, "chassis", "power", step.cmd)
		if (err != nil) != step.fails {
			t.Errorf("power %s: %v: %s", step.cmd, err, out)
		}
		got, _ := os.ReadFile(calls)
		if strings.TrimSpace(string(got)) != step.want || b.Power() != step.power {
			t.Errorf("power %s: hook calls %q, power %v; want %q, %v", step.cmd, got, b.Power(), step.want, step.power)
		}
	}
	os.Remove(fail)
	if err := b.SetPower(false); err != nil || b.Power() {
		t.Errorf("SetPower(false): %v, power %v", err, b.Power())
	}
	if err := b.Blackhole(); err != nil {
		t.Fatal(err)
	}
	if out, err := ipmitool(b, "chassis", "power", "status"); err == nil {
		t.Errorf("blackholed BMC answers: %s", out)
	}
	if err := b.Restart(); err != nil {
		t.Fatal(err)
	}
	if out, err := ipmitool(b, "chassis", "power", "status"); err != nil || out != "Chassis Power is off" {
		t.Errorf("after Restart: %v: %q", err, out)
	}
	if out, err := ipmitool(f.BMCs[0], "chassis", "power", "status"); err != nil || out != "Chassis Power is on" {
		t.Errorf("the other BMC: %v: %q", err, out)
	}
	if err := f.Stop(); err != nil {
		t.Error(err)
	}
	if _, err := os.Stat(f.Dir); err != nil {
		t.Errorf("Stop removed the caller's directory: %v", err)
	}
}
