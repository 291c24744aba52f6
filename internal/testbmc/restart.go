package testbmc

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Restart starts the simulator again on its port, after Kill or
// Blackhole (or while it runs), with its state files as they are: the
// power state is what it was, as a BMC that reboots leaves its host's
// power alone. It waits until the simulator listens.
func (b *BMC) Restart() error {
	b.Kill()
	if b.hole != nil {
		b.hole.Close()
		b.hole = nil
	}
	// SIGKILL is not the end: the port is free once the process is.
	deadline := time.Now().Add(10 * time.Second)
	for udpBound(b.Port) {
		if time.Now().After(deadline) {
			return fmt.Errorf("testbmc: restart %s: the port is still bound", b.Addr)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := b.run(); err != nil {
		return fmt.Errorf("testbmc: restart %s: %w", b.Addr, err)
	}
	for deadline = time.Now().Add(20 * time.Second); !udpBound(b.Port); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(b.Dir, "ipmi_sim.log"))
			b.Kill()
			return fmt.Errorf("testbmc: restart %s: ipmi_sim did not start: %s", b.Addr, log)
		}
	}
	return nil
}

// SetPower changes the power state as an IPMI chassis power on or off
// does, through the same chassis hook (and so the power hook), without
// an IPMI client; it works while the simulator is down too.
func (b *BMC) SetPower(on bool) error {
	v := "0"
	if on {
		v = "1"
	}
	out, err := exec.Command(b.hook, b.Dir, "set", "power", v).CombinedOutput()
	if err != nil {
		return fmt.Errorf("testbmc: %s: set power %s: %w: %s", b.Addr, v, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// shellQuote quotes s for sh.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
