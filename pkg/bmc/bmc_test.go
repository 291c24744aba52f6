package bmc

import (
	"context"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/bougou/go-ipmi/pkg/types"

	"github.com/smctl/smctl/internal/testbmc"
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
	if _, err := Open(ctx, tg); err == nil || !strings.Contains(err.Error(), "refused the login") {
		t.Errorf("wrong password: %v", err)
	}
	tg.User = ""
	if _, err := Open(ctx, tg); err != ErrNoCredentials {
		t.Errorf("no user: %v", err)
	}
}
