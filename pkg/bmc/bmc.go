// Package bmc reaches a server's baseboard management controller over
// IPMI-over-LAN with a native Go client (github.com/bougou/go-ipmi), so
// the static binary needs no ipmitool, and provides the built-in agents of
// Sysman's hardware files: power, bootorder, temperature, sensors and
// eventlog for servers and blades, temperature_mp and eventlog for chassis.
//
// Each agent run opens one IPMI session (lanplus, cipher suite 3 unless the
// device's bmc_cipher says otherwise; lan for IPMI 1.5 with bmc_interface),
// does its work and closes it. A BMC that does not answer costs one
// request timeout times (retries + 1), and nothing more.
package bmc

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/bougou/go-ipmi/pkg/client"
	"github.com/bougou/go-ipmi/pkg/command/chassis"
	"github.com/bougou/go-ipmi/pkg/types"

	"github.com/smctl/smctl/pkg/status"
)

// Target is a BMC and how to reach it.
type Target struct {
	Addr      string // host[:port], port 623 by default
	User      string
	Password  string
	Interface string // lanplus (default) or lan
	Cipher    int    // cipher suite for lanplus (default 3)
	Timeout   time.Duration
	Retries   int
}

// Session is an open IPMI session.
type Session struct {
	c *client.Client
}

// ErrNoCredentials is returned when no ids file gives a BMC user.
var ErrNoCredentials = errors.New("no BMC credentials: write user:password to an ids file of the device or above it")

// Open opens a session to t. A session that could not be opened wraps
// status.ErrUnreachable (see explain); a target without a user
// (ErrNoCredentials), a bad address or interface is a plain error.
func Open(ctx context.Context, t Target) (*Session, error) {
	if t.User == "" {
		return nil, ErrNoCredentials
	}
	host, port, err := splitAddr(t.Addr)
	if err != nil {
		return nil, err
	}
	c, err := client.NewClient(host, port, t.User, t.Password)
	if err != nil {
		return nil, err
	}
	if t.Timeout <= 0 {
		t.Timeout = 2 * time.Second
	}
	c.WithTimeout(t.Timeout).WithRetry(t.Retries)
	switch t.Interface {
	case "", "lanplus":
		cs := t.Cipher
		if cs == 0 {
			cs = 3
		}
		c.WithCipherSuiteID(types.CipherSuiteID(cs))
	case "lan":
		c.WithInterface(client.InterfaceLan)
	default:
		return nil, fmt.Errorf("bmc_interface %q: want lanplus or lan", t.Interface)
	}
	if err := c.Connect(ctx); err != nil {
		return nil, explain(ctx, t.Addr, err)
	}
	return &Session{c: c}, nil
}

func splitAddr(a string) (string, int, error) {
	if a == "" {
		return "", 0, errors.New("no BMC address: set the device's bmc attribute (host[:port])")
	}
	host, p, err := net.SplitHostPort(a)
	if err != nil {
		return a, 623, nil
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 1 || port > 65535 {
		return "", 0, fmt.Errorf("bmc %q: bad port", a)
	}
	return host, port, nil
}

// explain turns the library's session errors into what an administrator
// can act on, and classifies them in the status vocabulary: a session that
// could not be opened (the BMC does not answer, refuses the login, or
// fails otherwise) is a BMC that could not be reached
// (status.ErrUnreachable, ssh's 255); when the caller's context has ended,
// its error (status.Timeout or status.Interrupted) is wrapped instead; a
// local error (EMFILE, ...) stays local.
//
// The library's per-request timeout is a BMC that does not answer, as
// ssh's ConnectTimeout is a node that does not: unreachable, not the
// caller's time bound (status.ErrTimeout), which is ctx's.
//
// Its messages are matched as text because the library gives no typed
// error for most of these: lanplus session setup joins the failures of
// each cipher suite with %v ("connect20 failed after try all cipher suite
// ids"), which drops their chain, RAKP and IPMI completion codes (0x0d,
// 0x12) are only in those messages, and its UDP timeouts are unexported.
// client.ErrRAKPAuthentication is checked as a type where it survives.
func explain(ctx context.Context, addr string, err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "timeout") || strings.Contains(msg, "deadline") || strings.Contains(msg, "connection refused"):
		err = &shortError{"BMC " + addr + " does not answer", err}
	case errors.Is(err, client.ErrRAKPAuthentication) ||
		strings.Contains(msg, "RAKP") || strings.Contains(msg, "password") || strings.Contains(msg, "Unauthorized") ||
		strings.Contains(msg, "unauthorized") || strings.Contains(msg, "0x0d") || strings.Contains(msg, "0x12") || strings.Contains(msg, "integrity"):
		err = &shortError{"BMC " + addr + " refused the login: wrong user or password", err}
	default:
		err = &shortError{"BMC " + addr + ": " + oneLine(msg), err}
	}
	switch {
	case status.IsLocal(err):
		return err
	case ctx.Err() != nil:
		return status.Mark(err, ctx.Err())
	}
	return status.Mark(err, status.ErrUnreachable)
}

// shortError says in one line what the library's cause (kept for
// errors.Is and errors.As) says in several lines of its internals.
type shortError struct {
	msg string
	err error
}

func (e *shortError) Error() string { return e.msg }
func (e *shortError) Unwrap() error { return e.err }

// oneLine is the first line of s, trimmed, with what follows on other
// lines left out (go-ipmi joins the errors of every cipher suite tried).
func oneLine(s string) string {
	first, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	first = strings.TrimSpace(strings.TrimSuffix(first, ","))
	if len(first) > 200 {
		first = first[:200] + "..."
	}
	return first
}

// Close ends the session.
func (s *Session) Close(ctx context.Context) { _ = s.c.Close(ctx) }

// Power reports whether the chassis power is on.
func (s *Session) Power(ctx context.Context) (bool, error) {
	st, err := s.c.GetChassisStatus(ctx)
	if err != nil {
		return false, err
	}
	return st.PowerIsOn, nil
}

// PowerActions are the values power accepts.
var PowerActions = map[string]chassis.ChassisControl{
	"on": chassis.ChassisControlPowerUp, "1": chassis.ChassisControlPowerUp,
	"off": chassis.ChassisControlPowerDown, "0": chassis.ChassisControlPowerDown,
	"cycle": chassis.ChassisControlPowerCycle,
	"reset": chassis.ChassisControlHardReset,
	"soft":  chassis.ChassisControlSoftShutdown,
}

// SetPower performs a power action (on, off, 1, 0, cycle, reset, soft).
func (s *Session) SetPower(ctx context.Context, action string) error {
	c, ok := PowerActions[action]
	if !ok {
		return fmt.Errorf("power %q: want on, off, 1, 0, cycle, reset or soft", action)
	}
	_, err := s.c.ChassisControl(ctx, c)
	return err
}

var bootNames = map[types.BootDeviceSelector]string{
	types.BootDeviceSelectorNoOverride:               "none",
	types.BootDeviceSelectorForcePXE:                 "pxe",
	types.BootDeviceSelectorForceHardDrive:           "disk",
	types.BootDeviceSelectorForceHardDriveSafe:       "safe",
	types.BootDeviceSelectorForceDiagnosticPartition: "diag",
	types.BootDeviceSelectorForceCDROM:               "cdrom",
	types.BootDeviceSelectorForceBIOSSetup:           "bios",
	types.BootDeviceSelectorForceFloppy:              "floppy",
}

// bootAliases maps the names an administrator writes (Figure 4's
// "network, floppy, cdrom, harddisk" and ipmitool's) to IPMI devices.
var bootAliases = map[string]types.BootDeviceSelector{
	"none": types.BootDeviceSelectorNoOverride, "default": types.BootDeviceSelectorNoOverride,
	"pxe": types.BootDeviceSelectorForcePXE, "network": types.BootDeviceSelectorForcePXE, "net": types.BootDeviceSelectorForcePXE,
	"disk": types.BootDeviceSelectorForceHardDrive, "harddisk": types.BootDeviceSelectorForceHardDrive,
	"hdd": types.BootDeviceSelectorForceHardDrive, "hd": types.BootDeviceSelectorForceHardDrive,
	"cdrom": types.BootDeviceSelectorForceCDROM, "cd": types.BootDeviceSelectorForceCDROM, "dvd": types.BootDeviceSelectorForceCDROM,
	"bios": types.BootDeviceSelectorForceBIOSSetup, "setup": types.BootDeviceSelectorForceBIOSSetup,
	"floppy": types.BootDeviceSelectorForceFloppy,
	"safe":   types.BootDeviceSelectorForceHardDriveSafe,
	"diag":   types.BootDeviceSelectorForceDiagnosticPartition,
}

// BootDevices are the boot devices that completion offers for a boot
// order: those BootDevice reports, and Figure 4's network and harddisk
// (ParseBootOrder accepts more spellings).
var BootDevices = []string{"pxe", "disk", "cdrom", "bios", "floppy", "safe", "diag", "none", "network", "harddisk"}

// ParseBootOrder maps a boot order ("network, floppy, cdrom, harddisk" or
// one name) to the IPMI boot devices to try, in order.
func ParseBootOrder(v string) ([]types.BootDeviceSelector, []string, error) {
	var devs []types.BootDeviceSelector
	var names []string
	for _, f := range strings.FieldsFunc(strings.ToLower(v), func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' }) {
		d, ok := bootAliases[f]
		if !ok {
			return nil, nil, fmt.Errorf("boot device %q is not supported (want pxe, disk, cdrom, bios, floppy, none, or network, harddisk)", f)
		}
		devs = append(devs, d)
		names = append(names, f)
	}
	if len(devs) == 0 {
		return nil, nil, errors.New("empty boot order")
	}
	return devs, names, nil
}

// BootDevice reads the next-boot device.
func (s *Session) BootDevice(ctx context.Context) (string, error) {
	f := &types.BootOptionParam_BootFlags{}
	if err := s.c.GetSystemBootOptionsParamFor(ctx, f); err != nil {
		return "", err
	}
	if n, ok := bootNames[f.BootDeviceSelector]; ok {
		return n, nil
	}
	return fmt.Sprintf("device-0x%02x", uint8(f.BootDeviceSelector)), nil
}

// SetBootOrder sets the next-boot device to the first entry of the order
// the BMC accepts; it returns that entry.
func (s *Session) SetBootOrder(ctx context.Context, order string) (string, error) {
	devs, names, err := ParseBootOrder(order)
	if err != nil {
		return "", err
	}
	var errs []string
	for i, d := range devs {
		err := s.c.SetBootDevice(ctx, d, types.BIOSBootTypeLegacy, false)
		if err == nil {
			return bootNames[d], nil
		}
		errs = append(errs, names[i]+": "+err.Error())
	}
	return "", fmt.Errorf("the BMC accepted none of the boot devices (%s)", strings.Join(errs, "; "))
}

// Reading is one sensor reading.
type Reading struct {
	Name   string
	Type   string
	Value  float64
	Unit   string
	Status string
	Valid  bool
}

// Sensors reads the sensors, all or only temperatures.
func (s *Session) Sensors(ctx context.Context, onlyTemperature bool) ([]Reading, error) {
	var opts []client.SensorFilterOption
	if onlyTemperature {
		opts = append(opts, client.SensorFilterOptionIsSensorType(types.SensorTypeTemperature))
	}
	ss, err := s.c.GetSensors(ctx, opts...)
	if err != nil {
		return nil, err
	}
	var out []Reading
	for _, x := range ss {
		r := Reading{Name: x.Name, Type: x.SensorType.String(), Unit: x.SensorUnit.String(), Status: x.Status(), Valid: x.HasAnalogReading}
		r.Value = x.Value
		out = append(out, r)
	}
	return out, nil
}

// Field renders a reading as "name value unit status", with spaces in the
// name and unit replaced by '_' so that awk sees four fields.
func (r Reading) Field() string {
	v := strconv.FormatFloat(r.Value, 'f', -1, 64)
	if math.IsNaN(r.Value) || !r.Valid {
		v = "na"
	}
	unit := r.Unit
	if unit == "" {
		unit = "-"
	}
	status := r.Status
	if status == "" {
		status = "-"
	}
	return fmt.Sprintf("%s %s %s %s", underscore(r.Name), v, underscore(unit), underscore(status))
}

func underscore(s string) string { return strings.ReplaceAll(strings.TrimSpace(s), " ", "_") }

// ClearEvents clears the SEL.
func (s *Session) ClearEvents(ctx context.Context) error {
	r, err := s.c.ReserveSEL(ctx)
	if err != nil {
		return err
	}
	_, err = s.c.ClearSEL(ctx, r.ReservationID)
	return err
}
