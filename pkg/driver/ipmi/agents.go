package ipmi

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/smctl/smctl/pkg/agent"
	"github.com/smctl/smctl/pkg/bmc"
	"github.com/smctl/smctl/pkg/status"
)

// options tune the agents of one role.
type options struct {
	timeout time.Duration // per IPMI request
	retries int           // per IPMI request
	// self: a device without a bmc attribute is its own BMC (a chassis'
	// management processor answers on its address).
	self bool
}

type op func(ctx context.Context, s *bmc.Session, req *agent.Request) (agent.Result, error)

// target is the device's BMC: its bmc attribute (a chassis' own address
// when it has none), bmc_interface, bmc_cipher, and the inherited ids.
func target(req *agent.Request, o options) (bmc.Target, error) {
	t := bmc.Target{
		Addr:      req.Attrs["bmc"],
		User:      req.User,
		Password:  req.Password,
		Interface: req.Attrs["bmc_interface"],
		Timeout:   o.timeout,
		Retries:   o.retries,
	}
	if t.Addr == "" && o.self {
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

func (o options) run(f op) agent.Func {
	return func(ctx context.Context, req *agent.Request) (agent.Result, error) {
		t, err := target(req, o)
		if err != nil {
			return agent.Result{}, agent.Fail(status.Usage, err)
		}
		s, err := bmc.Open(ctx, t)
		if err != nil {
			if atDeadline(ctx) {
				return agent.Result{}, context.DeadlineExceeded
			}
			// No session: the BMC could not be reached, as ssh's 255,
			// whatever the cause (bmc.Open's own configuration errors
			// included), unless it is this machine's.
			code := status.Unreachable
			if status.IsLocal(err) {
				code = status.Local
			}
			return agent.Result{}, agent.Fail(code, err)
		}
		defer s.Close(context.WithoutCancel(ctx))
		res, err := f(ctx, s, req)
		if err != nil {
			var coded status.Coder
			if atDeadline(ctx) {
				return agent.Result{}, context.DeadlineExceeded
			}
			if !errors.As(err, &coded) {
				err = agent.Fail(status.Failed, fmt.Errorf("BMC %s: %w", t.Addr, err))
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

func readPower(ctx context.Context, s *bmc.Session, _ *agent.Request) (agent.Result, error) {
	on, err := s.Power(ctx)
	if err != nil {
		return agent.Result{}, err
	}
	if on {
		return agent.Result{Output: []byte("on\n")}, nil
	}
	return agent.Result{Output: []byte("off\n")}, nil
}

func writePower(ctx context.Context, s *bmc.Session, req *agent.Request) (agent.Result, error) {
	v := input(req)
	if _, ok := bmc.PowerActions[v]; !ok {
		return agent.Result{}, agent.Fail(status.Usage, fmt.Errorf("power %q: want on, off, 1, 0, cycle, reset or soft", v))
	}
	if err := s.SetPower(ctx, v); err != nil {
		return agent.Result{}, err
	}
	return agent.Result{Message: "chassis power " + v}, nil
}

func readBoot(ctx context.Context, s *bmc.Session, _ *agent.Request) (agent.Result, error) {
	d, err := s.BootDevice(ctx)
	if err != nil {
		return agent.Result{}, err
	}
	return agent.Result{Output: []byte(d + "\n")}, nil
}

func writeBoot(ctx context.Context, s *bmc.Session, req *agent.Request) (agent.Result, error) {
	if _, _, err := bmc.ParseBootOrder(input(req)); err != nil {
		return agent.Result{}, agent.Fail(status.Usage, err)
	}
	d, err := s.SetBootOrder(ctx, input(req))
	if err != nil {
		return agent.Result{}, err
	}
	// The file keeps what was written (Figure 4); the status says what the
	// BMC was set to.
	return agent.Result{Message: "next boot: " + d}, nil
}

func lines(rs []bmc.Reading) []byte {
	var b strings.Builder
	for _, r := range rs {
		b.WriteString(r.Field() + "\n")
	}
	return []byte(b.String())
}

func readTemperature(ctx context.Context, s *bmc.Session, _ *agent.Request) (agent.Result, error) {
	rs, err := s.Sensors(ctx, true)
	if err != nil {
		return agent.Result{}, err
	}
	return agent.Result{Output: lines(rs)}, nil
}

func readSensors(ctx context.Context, s *bmc.Session, _ *agent.Request) (agent.Result, error) {
	rs, err := s.Sensors(ctx, false)
	if err != nil {
		return agent.Result{}, err
	}
	return agent.Result{Output: lines(rs)}, nil
}

// readTemperatureMP gives the chassis temperature as one number, the
// hottest of its temperature sensors, as Figure 1's one-liner reads it.
func readTemperatureMP(ctx context.Context, s *bmc.Session, _ *agent.Request) (agent.Result, error) {
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

func readEvents(ctx context.Context, s *bmc.Session, _ *agent.Request) (agent.Result, error) {
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

func writeEvents(ctx context.Context, s *bmc.Session, req *agent.Request) (agent.Result, error) {
	if v := input(req); v != "clear" {
		return agent.Result{}, agent.Fail(status.Usage, fmt.Errorf("eventlog %q: the only value is clear", v))
	}
	if err := s.ClearEvents(ctx); err != nil {
		return agent.Result{}, err
	}
	return agent.Result{Message: "event log cleared"}, nil
}
