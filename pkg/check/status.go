package check

import (
	"strconv"
	"strings"
	"time"
)

// StateType is the type of a state: Hard, a state confirmed by
// max_check_attempts results in a row (or any OK state), or Soft, a
// problem being retried or a recovery from one.
type StateType int

// The state types. The zero StateType is Hard, as a check starts OK HARD.
const (
	Hard StateType = iota
	Soft
)

// String returns "HARD" or "SOFT".
func (t StateType) String() string {
	switch t {
	case Hard:
		return "HARD"
	case Soft:
		return "SOFT"
	}
	return "StateType(" + strconv.Itoa(int(t)) + ")"
}

// HistoryLen is how many results flap detection looks at: the last 21.
const HistoryLen = 21

// The weights of the oldest and newest of the 20 possible state changes
// in the window: the newest weighs 50% more than the oldest, and their
// mean is 1, so that a change at every result is 100%.
const (
	weightOldest = 0.8
	weightNewest = 1.2
)

// The default flap thresholds, in percent state change: Nagios Core's
// defaults for services and for hosts.
const (
	DefaultLowServiceFlap  = 20.0
	DefaultHighServiceFlap = 30.0
	DefaultLowHostFlap     = 20.0
	DefaultHighHostFlap    = 30.0
)

// maxAttemptsLimit bounds Policy.MaxAttempts, so that a status line
// stays short.
const maxAttemptsLimit = 1_000_000

// Policy is how a check's results become states: the check's
// max_check_attempts and flap thresholds.
type Policy struct {
	// MaxAttempts is how many non-OK results in a row make a HARD state
	// (max_check_attempts); less than 1 means 1, more than a million a
	// million.
	MaxAttempts int
	// LowFlap and HighFlap are the flap thresholds in percent state
	// change (low_flap_threshold, high_flap_threshold). As in Nagios,
	// 0 (or less) means the default: DefaultLowServiceFlap and
	// DefaultHighServiceFlap. A LowFlap above HighFlap is taken as
	// HighFlap.
	LowFlap, HighFlap float64
}

func (p Policy) maxAttempts() int {
	return min(max(p.MaxAttempts, 1), maxAttemptsLimit)
}

func (p Policy) flapThresholds() (low, high float64) {
	low, high = p.LowFlap, p.HighFlap
	if !(low > 0) { // also NaN
		low = DefaultLowServiceFlap
	}
	if !(high > 0) {
		high = DefaultHighServiceFlap
	}
	return min(low, high), high
}

// Status is the state of a check over time. The zero Status is a check
// never run (PENDING), whose state counts as OK HARD. Callers keep it
// between results as one line of text (MarshalText) and apply each
// result with Next.
type Status struct {
	// State is the state of the latest result.
	State State
	// Type is the state's type.
	Type StateType
	// Attempt is the number of the latest result among those that decide
	// a SOFT problem: 1 for the first non-OK result after OK, counting on
	// through the retries and a soft recovery, as Nagios's "State Types"
	// shows it; 1 in a HARD OK state; MaxAttempts while a problem is HARD
	// (as Nagios's status pages show it, where that document's table
	// resets it to 1); 0 before the first result.
	Attempt int
	// MaxAttempts is the Policy.MaxAttempts of the latest result.
	MaxAttempts int
	// Since is when the state last changed (soft or hard), or the first
	// result came; LastCheck is when the latest result came. Both are UTC.
	Since, LastCheck time.Time
	// History is the states of the last HistoryLen results, oldest first.
	History []State
	// Flapping reports whether the check is flapping.
	Flapping bool
	// PercentChange is the weighted percent state change over History,
	// from 0 to 100.
	PercentChange float64
}

// Event is what one result did to a check's state.
type Event int

// The events. Nagios runs event handlers on all but NoChange, and
// notifies contacts on HardProblem and HardRecovery.
const (
	// NoChange: the state stays OK, stays the same HARD problem, or
	// becomes HARD OK after a soft recovery.
	NoChange Event = iota
	// SoftProblem: a non-OK result not yet confirmed by MaxAttempts
	// results: the first after OK, or a retry (whatever its state).
	SoftProblem
	// SoftRecovery: OK after a SOFT problem.
	SoftRecovery
	// HardProblem: a problem became HARD, or a HARD problem changed to
	// another non-OK state.
	HardProblem
	// HardRecovery: OK after a HARD problem.
	HardRecovery
)

var eventNames = [...]string{"no change", "soft problem", "soft recovery", "hard problem", "hard recovery"}

// String returns the event in words, such as "hard problem".
func (e Event) String() string {
	if e < NoChange || e > HardRecovery {
		return "Event(" + strconv.Itoa(int(e)) + ")"
	}
	return eventNames[e]
}

// Change is what Status.Next did: the state's Event, and whether the
// check started or stopped flapping.
type Change struct {
	Event                    Event
	FlapStarted, FlapStopped bool
}

// Hard reports whether the change is a HARD state change, the only kind
// on which recovery actions should run (and not while flapping).
func (c Change) Hard() bool { return c.Event == HardProblem || c.Event == HardRecovery }

// String describes the change, such as "hard problem, flapping started".
func (c Change) String() string {
	parts := []string{c.Event.String()}
	if c.FlapStarted {
		parts = append(parts, "flapping started")
	}
	if c.FlapStopped {
		parts = append(parts, "flapping stopped")
	}
	return strings.Join(parts, ", ")
}

// Next returns the status after a result of state r at time now (not
// the zero time) under policy p, and what changed. A state r that is
// none of the four counts as Unknown.
func (s Status) Next(r State, now time.Time, p Policy) (Status, Change) {
	if !r.valid() {
		r = Unknown
	}
	now = now.Round(0).UTC()
	maxA := p.maxAttempts()
	n := s
	n.State, n.MaxAttempts, n.LastCheck = r, maxA, now
	var c Change
	switch {
	case r == OK && s.State == OK:
		n.Type, n.Attempt = Hard, 1
	case r == OK && s.Type == Hard:
		n.Type, n.Attempt, c.Event = Hard, 1, HardRecovery
	case r == OK:
		n.Type, n.Attempt, c.Event = Soft, min(max(s.Attempt, 0)+1, maxA), SoftRecovery
	case s.State == OK: // a new problem
		n.Type, n.Attempt, c.Event = Soft, 1, SoftProblem
		if maxA == 1 {
			n.Type, c.Event = Hard, HardProblem
		}
	case s.Type == Hard: // a HARD problem goes on
		n.Attempt = maxA
		if r != s.State {
			c.Event = HardProblem
		}
	case s.Attempt >= maxA-1: // the last retry of a SOFT problem
		n.Type, n.Attempt, c.Event = Hard, maxA, HardProblem
	default:
		n.Type, n.Attempt, c.Event = Soft, max(s.Attempt, 0)+1, SoftProblem
	}
	if r != s.State || s.LastCheck.IsZero() {
		n.Since = now
	}

	keep := s.History[max(0, len(s.History)+1-HistoryLen):]
	n.History = append(append(make([]State, 0, HistoryLen), keep...), r)
	n.PercentChange = percentChange(n.History)
	low, high := p.flapThresholds()
	switch {
	case !s.Flapping && n.PercentChange >= high:
		n.Flapping, c.FlapStarted = true, true
	case s.Flapping && n.PercentChange < low:
		n.Flapping, c.FlapStopped = false, true
	}
	return n, c
}

// percentChange returns the weighted percent state change of history,
// the states of the last results, oldest first. A history shorter than
// HistoryLen fills the newest places of the window (its older places
// hold no change), so that few results cannot look more volatile than a
// full window of them.
func percentChange(history []State) float64 {
	if len(history) > HistoryLen {
		history = history[len(history)-HistoryLen:]
	}
	sum := 0.0
	for j := 1; j < len(history); j++ {
		if history[j] == history[j-1] {
			continue
		}
		// place is 1 for the oldest possible change, HistoryLen-1 for
		// the newest.
		place := HistoryLen - len(history) + j
		sum += weightOldest + (weightNewest-weightOldest)*float64(place-1)/float64(HistoryLen-2)
	}
	return min(max(sum*100/float64(HistoryLen-1), 0), 100)
}

// String describes s in one line, such as
// "CRITICAL HARD 3/3 since 2026-11-22T21:40:01Z", followed by
// " flapping (34.4% state change)" while flapping; "PENDING" before the
// first result.
func (s Status) String() string {
	if s.LastCheck.IsZero() {
		return "PENDING"
	}
	out := s.State.String() + " " + s.Type.String() + " " + strconv.Itoa(s.Attempt) + "/" +
		strconv.Itoa(s.MaxAttempts) + " since " + s.Since.UTC().Format(time.RFC3339)
	if s.Flapping {
		out += " flapping (" + strconv.FormatFloat(s.PercentChange, 'f', 1, 64) + "% state change)"
	}
	return out
}
