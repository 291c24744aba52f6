// Package testbmc runs OpenIPMI ipmi_sim BMC simulators on 127.0.0.1 UDP
// ports for tests and benchmarks: one process per BMC, IPMI 1.5 and 2.0
// (lanplus, cipher suite 3), user admin with a password. Power state and
// boot device live in plain files through ipmi_sim's chassis_control hook,
// so they persist between sessions and a test can read or change them;
// CPU Temp, Inlet Temp and Fan1 read their values from files (a change
// crossing a threshold also logs a SEL event). Stop stops the simulators
// by their PIDs.
//
// StartWith's Options.PowerHook makes power changes act on something
// real (internal/testha fences libvirt hosts with it): the chassis hook
// runs it before a power off, which fails if it fails, and after a power
// on.
package testbmc

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// IPMISim is the simulator binary (Debian package openipmi).
const IPMISim = "ipmi_sim"

// User and Password of every simulated BMC.
const (
	User     = "admin"
	Password = "secret"
)

// BMC is one simulator.
type BMC struct {
	Addr string // 127.0.0.1:PORT
	Port int
	Dir  string // power, boot, temp_cpu, temp_inlet, fan1, chassis.log, pid
	cmd  *exec.Cmd
	hole net.PacketConn
	args []string // ipmi_sim's, for Restart
	hook string   // the farm's chassis hook, for SetPower
}

// Farm is a set of running simulators.
type Farm struct {
	Dir  string
	BMCs []*BMC
	made bool // Dir was made by StartWith: Stop removes it
}

// Options say what StartWith starts.
type Options struct {
	BMCs int // number of simulators, bmc1..bmcN
	// Dir is a directory the caller owns, kept by Stop; when empty,
	// StartWith makes one with os.MkdirTemp and Stop removes it.
	Dir string
	// PowerHook, when not empty, is an executable the chassis hook runs
	// as "PowerHook I DIR off|on|reset" (I the BMC's number, DIR its
	// directory), with its output appended to DIR/hook.log: "off" before
	// the power file turns 0 (power off, soft off, the first half of a
	// cycle), and if it fails the IPMI request fails and the power stays
	// on; "on" after the power file turns 1; "reset" for a reset (the
	// power stays on). It runs synchronously: ipmi_sim answers nothing
	// until it ends, and reads the hook's output to its end, so it must
	// not leave processes holding the output open.
	PowerHook string
}

// Available reports whether ipmi_sim is installed.
func Available() bool {
	_, err := exec.LookPath(IPMISim)
	return err == nil
}

const chassisHook = `#!/bin/sh
# chassis_control hook of ipmi_sim: chassis.sh DIR get|set PARAM [VALUE]...
d=$1; op=$2; shift 2
hook=@HOOK@
echo "$(date +%Y-%m-%dT%H:%M:%S.%N) $op $*" >> "$d/chassis.log"
# runhook off|on|reset: the power hook (Options.PowerHook), if any
runhook() {
  [ -z "$hook" ] || "$hook" "${d##*/bmc}" "$d" "$1" >> "$d/hook.log" 2>&1 < /dev/null
}
case $op in
get)
  for p in "$@"; do
    case $p in
      power) echo "power:$(cat "$d/power" 2>/dev/null || echo 0)" ;;
      boot)  echo "boot:$(cat "$d/boot" 2>/dev/null || echo none)" ;;
      *) echo "Invalid parameter: $p"; exit 1 ;;
    esac
  done ;;
set)
  while [ $# -ge 2 ]; do
    p=$1; v=$2; shift 2
    case $p in
      power)
        [ "$v" != 0 ] || runhook off || exit 1
        echo "$v" > "$d/power.tmp" && mv -f "$d/power.tmp" "$d/power"
        [ "$v" = 0 ] || runhook on || exit 1 ;;
      boot)     echo "$v" > "$d/boot.tmp" && mv -f "$d/boot.tmp" "$d/boot" ;;
      shutdown) runhook off || exit 1; echo 0 > "$d/power.tmp" && mv -f "$d/power.tmp" "$d/power" ;;
      reset)    runhook reset || exit 1 ;;
      identify) : ;;
      *) echo "Invalid parameter: $p"; exit 1 ;;
    esac
  done ;;
*) exit 1 ;;
esac
exit 0
`

// SDRs: MC locator, CPU Temp (#1, thresholds 80/90/100), Inlet Temp (#2,
// 40/50), Fan1 (#3, lower critical 500 RPM); compiled with OpenIPMI's
// sdrcomp from the description in the package's README.
const sdrs = `main_sdr_add 0x20 0x01 0x00 0x51 0x12 0x11 0x20 0x00 0x00 0x87 0x00 0x00 0x00 0x07 0x01 0x00 0xc6 0x53 0x69 0x6d 0x42 0x4d 0x43
main_sdr_add 0x20 0x02 0x00 0x51 0x01 0x33 0x20 0x00 0x01 0x03 0x01 0x67 0x44 0x01 0x01 0x80 0x0a 0x80 0x0a 0x38 0x00 0x00 0x01 0x00 0x00 0x01 0x00 0x00 0x01 0x01 0x00 0x00 0x00 0x00 0x00 0xff 0x00 0x64 0x5a 0x50 0x00 0x00 0x00 0x00 0x00 0x00 0x00 0x00 0xc8 0x43 0x50 0x55 0x20 0x54 0x65 0x6d 0x70
main_sdr_add 0x20 0x03 0x00 0x51 0x01 0x35 0x20 0x00 0x02 0x07 0x01 0x45 0x04 0x01 0x01 0x00 0x00 0x00 0x00 0x18 0x00 0x00 0x01 0x00 0x00 0x01 0x00 0x00 0x00 0x01 0x00 0x00 0x00 0x00 0x00 0xff 0x00 0x00 0x32 0x28 0x00 0x00 0x00 0x00 0x00 0x00 0x00 0x00 0xca 0x49 0x6e 0x6c 0x65 0x74 0x20 0x54 0x65 0x6d 0x70
main_sdr_add 0x20 0x04 0x00 0x51 0x01 0x2f 0x20 0x00 0x03 0x1d 0x01 0x45 0x04 0x04 0x01 0x00 0x00 0x00 0x00 0x02 0x00 0x00 0x12 0x00 0x00 0x64 0x00 0x00 0x00 0x01 0x00 0x00 0x00 0x00 0x00 0xff 0x00 0x00 0x00 0x00 0x00 0x05 0x00 0x00 0x00 0x00 0x00 0x00 0xc4 0x46 0x61 0x6e 0x31
`

// Start starts n simulators, power on, in a new directory.
func Start(n int) (*Farm, error) {
	return StartWith(Options{BMCs: n})
}

// StartWith starts opts.BMCs simulators, power on. On error nothing it
// started is left running.
func StartWith(opts Options) (*Farm, error) {
	if !Available() {
		return nil, errors.New("ipmi_sim not found (apt-get install openipmi)")
	}
	f := &Farm{Dir: opts.Dir}
	if f.Dir == "" {
		dir, err := os.MkdirTemp("", "smctl-bmc-")
		if err != nil {
			return nil, err
		}
		f.Dir, f.made = dir, true
	} else if err := os.MkdirAll(f.Dir, 0o755); err != nil {
		return nil, err
	}
	hook := filepath.Join(f.Dir, "chassis.sh")
	script := strings.Replace(chassisHook, "@HOOK@", shellQuote(opts.PowerHook), 1)
	if err := os.WriteFile(hook, []byte(script), 0o755); err != nil {
		f.Stop()
		return nil, err
	}
	for i := 1; i <= opts.BMCs; i++ {
		b, err := f.start(i, hook)
		if err != nil {
			f.Stop()
			return nil, err
		}
		f.BMCs = append(f.BMCs, b)
	}
	deadline := time.Now().Add(20 * time.Second)
	for _, b := range f.BMCs {
		for !udpBound(b.Port) {
			if time.Now().After(deadline) {
				log, _ := os.ReadFile(filepath.Join(b.Dir, "ipmi_sim.log"))
				f.Stop()
				return nil, fmt.Errorf("ipmi_sim on %s did not start: %s", b.Addr, log)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return f, nil
}

func freeUDPPort() (int, error) {
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port, nil
}

// udpBound reports whether something listens on 127.0.0.1:port (UDP).
func udpBound(port int) bool {
	f, err := os.Open("/proc/net/udp")
	if err != nil {
		return false
	}
	defer f.Close()
	want := fmt.Sprintf(":%04X", port)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) > 1 && strings.HasSuffix(fs[1], want) {
			return true
		}
	}
	return false
}

func (f *Farm) start(i int, hook string) (*BMC, error) {
	port, err := freeUDPPort()
	if err != nil {
		return nil, err
	}
	d := filepath.Join(f.Dir, fmt.Sprintf("bmc%d", i))
	if err := os.MkdirAll(filepath.Join(d, "persist"), 0o755); err != nil {
		return nil, err
	}
	b := &BMC{Addr: fmt.Sprintf("127.0.0.1:%d", port), Port: port, Dir: d, hook: hook}
	files := map[string]string{
		"power":      "1",
		"boot":       "none",
		"temp_cpu":   strconv.Itoa(40 + i%20),
		"temp_inlet": strconv.Itoa(22 + i%5),
		"fan1":       strconv.Itoa(6000 + 100*(i%20)),
	}
	for name, v := range files {
		if err := os.WriteFile(filepath.Join(d, name), []byte(v+"\n"), 0o644); err != nil {
			return nil, err
		}
	}
	lan := fmt.Sprintf(`name "bmc%d"
set_working_mc 0x20
  startlan 1
    addr 127.0.0.1 %d
    priv_limit admin
    allowed_auths_callback md2 md5 straight
    allowed_auths_user md2 md5 straight
    allowed_auths_operator md2 md5 straight
    allowed_auths_admin md2 md5 straight
    guid a5a5a5a5000000000000000000%06x
  endlan
  chassis_control "%s %s"
  user 2 true "%s" "%s" admin 63 md2 md5 straight
`, i, port, i, hook, d, User, Password)
	emu := "mc_setbmc 0x20\nmc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02\nsel_enable 0x20 1000 0x0a\n" + sdrs +
		fmt.Sprintf(`sensor_add 0x20 0 1 0x01 0x01 poll 1000 file "%[1]s/temp_cpu"
sensor_set_threshold 0x20 0 1 settable 111000 100 90 80 0 0 0
sensor_set_event_support 0x20 0 1 enable scanning per-state 000111111000000 000111111000000 000111111000000 000111111000000
sensor_set_value 0x20 0 1 %[2]s 0
sensor_add 0x20 0 2 0x01 0x01 poll 1000 file "%[1]s/temp_inlet"
sensor_set_threshold 0x20 0 2 readable 011000 0 50 40 0 0 0
sensor_set_event_support 0x20 0 2 enable scanning per-state 000001010000000 000001010000000 000001010000000 000001010000000
sensor_set_value 0x20 0 2 %[3]s 0
sensor_add 0x20 0 3 0x04 0x01 poll 1000 file "%[1]s/fan1" div=100
sensor_set_threshold 0x20 0 3 readable 000010 0 0 0 0 5 0
sensor_set_event_support 0x20 0 3 enable scanning per-state 000000000000100 000000000000100 000000000000100 000000000000100
sensor_set_value 0x20 0 3 %[4]d 0
mc_enable 0x20
`, d, files["temp_cpu"], files["temp_inlet"], (6000+100*(i%20))/100)
	if err := os.WriteFile(filepath.Join(d, "lan.conf"), []byte(lan), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(d, "bmc.emu"), []byte(emu), 0o644); err != nil {
		return nil, err
	}
	b.args = []string{"-n", "-c", filepath.Join(d, "lan.conf"), "-f", filepath.Join(d, "bmc.emu"), "-s", filepath.Join(d, "persist")}
	return b, b.run()
}

// run starts the simulator with its files as they are.
func (b *BMC) run() error {
	log, err := os.OpenFile(filepath.Join(b.Dir, "ipmi_sim.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer log.Close()
	// -n: no console on stdin/stdout; own session, so a ^C of the caller's
	// process group does not reach it (Stop does, by PID).
	b.cmd = exec.Command(IPMISim, b.args...)
	b.cmd.Stdout, b.cmd.Stderr = log, log
	b.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := b.cmd.Start(); err != nil {
		b.cmd = nil
		return err
	}
	_ = os.WriteFile(filepath.Join(b.Dir, "pid"), []byte(strconv.Itoa(b.cmd.Process.Pid)+"\n"), 0o644)
	go b.cmd.Wait() // reap it when it ends
	return nil
}

// Power reads the simulated power state (true: on).
func (b *BMC) Power() bool {
	v, _ := os.ReadFile(filepath.Join(b.Dir, "power"))
	return strings.TrimSpace(string(v)) == "1"
}

// Set writes one of the BMC's state files (power, boot, temp_cpu, ...).
func (b *BMC) Set(name, value string) error {
	return os.WriteFile(filepath.Join(b.Dir, name), []byte(value+"\n"), 0o644)
}

// Stop stops every simulator by its PID and removes the directory if
// StartWith made it.
func (f *Farm) Stop() error {
	for _, b := range f.BMCs {
		b.Kill()
		if b.hole != nil {
			b.hole.Close()
			b.hole = nil
		}
	}
	if !f.made {
		return nil
	}
	return os.RemoveAll(f.Dir)
}

// Kill stops one simulator (a BMC that goes down).
func (b *BMC) Kill() {
	if b.cmd != nil && b.cmd.Process != nil {
		_ = b.cmd.Process.Signal(syscall.SIGTERM)
		for i := 0; i < 50 && udpBound(b.Port); i++ {
			time.Sleep(20 * time.Millisecond)
		}
		_ = b.cmd.Process.Kill()
		b.cmd = nil
	}
}

// Blackhole stops the simulator and keeps its port bound without ever
// answering: a BMC that is dead on the network, whose every request times
// out (a closed port on loopback would be refused at once instead).
func (b *BMC) Blackhole() error {
	b.Kill()
	c, err := net.ListenPacket("udp4", b.Addr)
	if err != nil {
		return err
	}
	b.hole = c
	go func() {
		buf := make([]byte, 2048)
		for {
			if _, _, err := c.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
	return nil
}
