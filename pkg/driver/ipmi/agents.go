package bmc

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/smctl/smctl/pkg/agent"
)

// Options tune the built-in BMC agents.
type Options struct {
	Timeout time.Duration // per IPMI request
	Retries int           // per IPMI request
}

// Register installs the built-in hardware agents: power, bootorder,
// temperature, sensors and eventlog for the server and blade types, and
// temperature_mp and eventlog for chassis.
func Register(r *agent.Registry, o Options) {
	for _, typ := range []string{"server", "blade"} {
		r.Register(typ, "power", agent.Read, o.run(readPower))
		r.Register(typ, "power", agent.Write, o.run(writePower))
		r.Register(typ, "bootorder", agent.Read, o.run(readBoot))
		r.Register(typ, "bootorder", agent.Write, o.run(writeBoot))
		r.Register(typ, "temperature", agent.Read, o.run(readTemperature))
		r.Register(typ, "sensors", agent.Read, o.run(readSensors))
		r.Register(typ, "eventlog", agent.Read, o.run(readEvents))
		r.Register(typ, "eventlog", agent.Write, o.run(writeEvents))
	}
	r.Register("chassis", "temperature_mp", agent.Read, o.run(readTemperatureMP))
	r.Register("chassis", "eventlog", agent.Read, o.run(readEvents))
	r.Register("chassis", "eventlog", agent.Write, o.run(writeEvents))
}

type op func(ctx context.Context, s *Session, req *agent.Request) (agent.Result, error)

// target is the device's BMC: its bmc attribute (a chassis' own address
// when it has none), bmc_interface, bmc_cipher, and the inherited ids.
func target(req *agent.Request, o Options) (Target, error) {
	t := Target{
		Addr:      req.Attrs["bmc"],
		User:      req.User,
		Password:  req.Password,
		Interface: req.Attrs["bmc_interface"],
		Timeout:   o.Timeout,
		Retries:   o.Retries,
	}
	if t.Addr == "" && req.Type == "chassis" {
		t.Addr = req.Host
	}
	if t.Addr == "" {
		return t, fmt.Errorf("device %s has no bmc attribute (smctl write %s/bmc HOST[:PORT])", req.Device, req.Device)
	}
	if c := req.Attrs["bmc_cipher"]; c != "" {
		n, err := strconv.Atoi(c)
		if err != nil || n < 0 || n > 255 {
			return t, fmt.Errorf("bmc_cipher %q: want a cipher suite number", c)
		}
		t.Cipher = n
	}
	return t, nil
}

// RCUnreachable is the status code of a BMC that could not be reached or
// refused the login, as ssh's 255 for a node.
const RCUnreachable = 255

func (o Options) run(f op) agent.Func {
	return func(ctx context.Context, req *agent.Request) (agent.Result, error) {
		t, err := target(req, o)
		if err != nil {
			return agent.Result{}, &agent.Error{RC: 2, Err: err}
		}
		s, err := Open(ctx, t)
		if err != nil {
			if atDeadline(ctx) {
				return agent.Result{}, context.DeadlineExceeded
			}
			return agent.Result{}, &agent.Error{RC: RCUnreachable, Err: err}
		}
		defer s.Close(context.WithoutCancel(ctx))
		res, err := f(ctx, s, req)
		if err != nil {
			var ae *agent.Error
			if atDeadline(ctx) {
				return agent.Result{}, context.DeadlineExceeded
			}
			if !errors.As(err, &ae) {
				err = &agent.Error{RC: 1, Err: fmt.Errorf("BMC %s: %w", t.Addr, err)}
			}
		}
		return res, err
	}
}

// atDeadline reports whether ctx has ended or is about to: the IPMI client
// reads until the context's deadline and returns its own timeout error a
// moment before the context says so.
func atDeadline(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	d, ok := ctx.Deadline()
	return ok && time.Until(d) < 20*time.Millisecond
}

func input(req *agent.Request) string {
	return strings.ToLower(strings.TrimSpace(string(req.Input)))
}

func readPower(ctx context.Context, s *Session, _ *agent.Request) (agent.Result, error) {
	on, err := s.Power(ctx)
	if err != nil {
		return agent.Result{}, err
	}
	if on {
		return agent.Result{Output: []byte("on\n")}, nil
	}
	return agent.Result{Output: []byte("off\n")}, nil
}

func writePower(ctx context.Context, s *Session, req *agent.Request) (agent.Result, error) {
	v := input(req)
	if _, ok := PowerActions[v]; !ok {
		return agent.Result{}, &agent.Error{RC: 2, Err: fmt.Errorf("power %q: want on, off, 1, 0, cycle, reset or soft", v)}
	}
	if err := s.SetPower(ctx, v); err != nil {
		return agent.Result{}, err
	}
	return agent.Result{Message: "chassis power " + v}, nil
}

func readBoot(ctx context.Context, s *Session, _ *agent.Request) (agent.Result, error) {
	d, err := s.BootDevice(ctx)
	if err != nil {
		return agent.Result{}, err
	}
	return agent.Result{Output: []byte(d + "\n")}, nil
}

func writeBoot(ctx context.Context, s *Session, req *agent.Request) (agent.Result, error) {
	if _, _, err := ParseBootOrder(input(req)); err != nil {
		return agent.Result{}, &agent.Error{RC: 2, Err: err}
	}
	d, err := s.SetBootOrder(ctx, input(req))
	if err != nil {
		return agent.Result{}, err
	}
	// The file keeps what was written (Figure 4); the status says what the
	// BMC was set to.
	return agent.Result{Message: "next boot: " + d}, nil
}

func lines(rs []Reading) []byte {
	var b strings.Builder
	for _, r := range rs {
		b.WriteString(r.Field() + "\n")
	}
	return []byte(b.String())
}

func readTemperature(ctx context.Context, s *Session, _ *agent.Request) (agent.Result, error) {
	rs, err := s.Sensors(ctx, true)
	if err != nil {
		return agent.Result{}, err
	}
	return agent.Result{Output: lines(rs)}, nil
}

func readSensors(ctx context.Context, s *Session, _ *agent.Request) (agent.Result, error) {
	rs, err := s.Sensors(ctx, false)
	if err != nil {
		return agent.Result{}, err
	}
	return agent.Result{Output: lines(rs)}, nil
}

// readTemperatureMP gives the chassis temperature as one number, the
// hottest of its temperature sensors, as Figure 1's one-liner reads it.
func readTemperatureMP(ctx context.Context, s *Session, _ *agent.Request) (agent.Result, error) {
	rs, err := s.Sensors(ctx, true)
	if err != nil {
		return agent.Result{}, err
	}
	var vals []float64
	for _, r := range rs {
		if r.Valid {
			vals = append(vals, r.Value)
		}
	}
	if len(vals) == 0 {
		return agent.Result{}, errors.New("no temperature sensor with a reading")
	}
	sort.Float64s(vals)
	return agent.Result{Output: []byte(strconv.FormatFloat(vals[len(vals)-1], 'f', -1, 64) + "\n")}, nil
}

func readEvents(ctx context.Context, s *Session, _ *agent.Request) (agent.Result, error) {
	evs, err := s.Events(ctx)
	if err != nil {
		return agent.Result{}, err
	}
	var b strings.Builder
	for _, e := range evs {
		b.WriteString(e + "\n")
	}
	return agent.Result{Output: []byte(b.String())}, nil
}

func writeEvents(ctx context.Context, s *Session, req *agent.Request) (agent.Result, error) {
	if v := input(req); v != "clear" {
		return agent.Result{}, &agent.Error{RC: 2, Err: fmt.Errorf("eventlog %q: the only value is clear", v)}
	}
	if err := s.ClearEvents(ctx); err != nil {
		return agent.Result{}, err
	}
	return agent.Result{Message: "event log cleared"}, nil
}
