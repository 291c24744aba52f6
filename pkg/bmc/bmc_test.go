package bmc

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bougou/go-ipmi/pkg/client"
	"github.com/bougou/go-ipmi/pkg/types"

	"github.com/smctl/smctl/internal/testbmc"
	"github.com/smctl/smctl/pkg/status"
)

func TestParseBootOrder(t *testing.T) {
	tests := []struct {
		in    string
		first types.BootDeviceSelector
		err   string
	}{
		{in: "network, floppy, cdrom, harddisk", first: types.BootDeviceSelectorForcePXE},
		{in: "harddisk", first: types.BootDeviceSelectorForceHardDrive},
		{in: "CDROM", first: types.BootDeviceSelectorForceCDROM},
		{in: "bios", first: types.BootDeviceSelectorForceBIOSSetup},
		{in: "none", first: types.BootDeviceSelectorNoOverride},
		{in: "tape, pxe", err: `boot device "tape" is not supported`},
		{in: " , ", err: "empty boot order"},
	}
	for _, tt := range tests {
		devs, _, err := ParseBootOrder(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseBootOrder(%q) error = %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || devs[0] != tt.first {
			t.Errorf("ParseBootOrder(%q) = %v, %v", tt.in, devs, err)
		}
	}
}

func TestReadingField(t *testing.T) {
	tests := []struct {
		r    Reading
		want string
	}{
		{Reading{Name: "CPU Temp", Value: 41, Unit: "degrees C", Status: "ok", Valid: true}, "CPU_Temp 41 degrees_C ok"},
		{Reading{Name: "Fan1", Value: 6100.5, Unit: "RPM", Status: "lcr", Valid: true}, "Fan1 6100.5 RPM lcr"},
		{Reading{Name: "PSU", Value: math.NaN()}, "PSU na - -"},
	}
	for _, tt := range tests {
		if got := tt.r.Field(); got != tt.want {
			t.Errorf("Field() = %q, want %q", got, tt.want)
		}
	}
}

// TestSession talks to a real ipmi_sim BMC (skipped without one, except
// where SMCTL_TEST_REQUIRE=1).
// TestExplain checks the classification of the library's session errors:
// by their text, which is all it gives (see explain), into the status
// vocabulary, the message naming the BMC.
func TestExplain(t *testing.T) {
	expired, cancel := context.WithTimeout(context.Background(), -time.Second)
	defer cancel()
	cancelled, cancel2 := context.WithCancel(context.Background())
	cancel2()
	bg := context.Background()
	tests := []struct {
		name string
		ctx  context.Context
		err  error
		msg  string
		code status.Code
	}{
		{"udp timeout", bg, errors.New("IPMI LAN: UDP read timed out waiting for BMC response after 2 attempt(s): read udp: i/o timeout"), "BMC b1 does not answer", status.Unreachable},
		{"no datagram", bg, errors.New("udp exchange: no datagram matched before deadline"), "BMC b1 does not answer", status.Unreachable},
		{"refused", bg, errors.New("read udp 127.0.0.1:623: connection refused"), "BMC b1 does not answer", status.Unreachable},
		{"rakp text", bg, errors.New("connect20 failed after try all cipher suite ids ([3]), errs: \ncmd: rakp3 failed: RAKP4 integrity check value does not match"), "BMC b1 refused the login: wrong user or password", status.Unreachable},
		{"rakp typed", bg, fmt.Errorf("quiet: %w", client.ErrRAKPAuthentication), "BMC b1 refused the login: wrong user or password", status.Unreachable},
		{"completion code", bg, errors.New("rakp1: completion code 0x0d"), "BMC b1 refused the login: wrong user or password", status.Unreachable},
		{"other", bg, errors.New("cipher suite not supported"), "BMC b1: cipher suite not supported", status.Unreachable},
		{"other, several lines", bg, errors.New("connect failed, errs: \ncmd: x failed\ncmd: y failed"), "BMC b1: connect failed, errs:", status.Unreachable},
		{"local", bg, fmt.Errorf("dial udp: %w", syscall.EMFILE), "BMC b1: dial udp: too many open files", status.Local},
		{"caller's deadline", expired, errors.New("IPMI LAN: deadline exceeded while exchanging with BMC"), "BMC b1 does not answer", status.Timeout},
		{"cancelled", cancelled, errors.New("IPMI LAN: operation canceled"), "BMC b1: IPMI LAN: operation canceled", status.Interrupted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := explain(tt.ctx, "b1", tt.err)
			if err.Error() != tt.msg {
				t.Errorf("explain = %q, want %q (one line, no library internals)", err, tt.msg)
			}
			if got := status.Of(err); got != tt.code {
				t.Errorf("status.Of(explain) = %d, want %d", got, tt.code)
			}
			if !errors.Is(err, tt.err) {
				t.Error("explain lost its cause")
			}
		})
	}
}

// TestOpenDead checks a BMC that does not answer: unreachable, named.
func TestOpenDead(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	_, err = Open(context.Background(), Target{Addr: addr, User: "u", Password: "p", Timeout: 200 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "BMC "+addr) || status.Of(err) != status.Unreachable {
		t.Errorf("Open(dead BMC) = %v (status %d), want unreachable", err, status.Of(err))
	}
}

func TestSession(t *testing.T) {
	if !testbmc.Available() {
		if os.Getenv("SMCTL_TEST_REQUIRE") == "1" {
			t.Fatal("ipmi_sim is missing and SMCTL_TEST_REQUIRE=1")
		}
		t.Skip("no ipmi_sim")
	}
	farm, err := testbmc.Start(1)
	if err != nil {
		t.Fatal(err)
	}
	defer farm.Stop()
	b := farm.BMCs[0]
	ctx := context.Background()
	tg := Target{Addr: b.Addr, User: testbmc.User, Password: testbmc.Password, Timeout: time.Second}
	s, err := Open(ctx, tg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	if on, err := s.Power(ctx); err != nil || !on {
		t.Fatalf("Power = %v, %v", on, err)
	}
	if err := s.SetPower(ctx, "off"); err != nil || b.Power() {
		t.Fatalf("SetPower(off): %v, power file on=%v", err, b.Power())
	}
	if dev, err := s.SetBootOrder(ctx, "floppy, network"); err != nil || dev == "" {
		t.Fatalf("SetBootOrder: %q %v", dev, err)
	}
	rs, err := s.Sensors(ctx, true)
	if err != nil || len(rs) != 2 {
		t.Fatalf("temperature sensors = %+v, %v", rs, err)
	}
	tg.Password = "wrong"
	if _, err := Open(ctx, tg); err == nil || !strings.Contains(err.Error(), "refused the login") || status.Of(err) != status.Unreachable {
		t.Errorf("wrong password: %v (status %d)", err, status.Of(err))
	}
	tg.User = ""
	if _, err := Open(ctx, tg); err != ErrNoCredentials {
		t.Errorf("no user: %v", err)
	}
}

func TestEventText(t *testing.T) {
	for in, want := range map[string]string{
		"Power Off / Power Dow":       "Power Off / Power Down",
		"Power Off / Power Down":      "Power Off / Power Down",
		"Upper Critical - going high": "Upper Critical - going high",
		"":                            "",
	} {
		if got := eventText(in); got != want {
			t.Errorf("eventText(%q) = %q, want %q", in, got, want)
		}
	}
}
