package check

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// State is the state a plugin reports, its exit status: OK, Warning,
// Critical or Unknown.
type State int

// The plugin states, numbered as the plugin return codes are.
const (
	OK State = iota
	Warning
	Critical
	Unknown
)

var stateNames = [...]string{"OK", "WARNING", "CRITICAL", "UNKNOWN"}

// ErrState is the error of ParseState and State.UnmarshalText for a word
// that is not a state.
var ErrState = errors.New("not a check state (want OK, WARNING, CRITICAL or UNKNOWN)")

func (s State) valid() bool { return s >= OK && s <= Unknown }

// String returns the state's name as Nagios writes it: "OK", "WARNING",
// "CRITICAL" or "UNKNOWN" (and "State(N)" for a number that is none).
func (s State) String() string {
	if !s.valid() {
		return "State(" + strconv.Itoa(int(s)) + ")"
	}
	return stateNames[s]
}

// ParseState returns the state named name, one of the words String
// returns for a valid state.
func ParseState(name string) (State, error) {
	for i, n := range stateNames {
		if name == n {
			return State(i), nil
		}
	}
	return Unknown, fmt.Errorf("check: state %q: %w", name, ErrState)
}

// MarshalText returns the state's name, so that JSON shows a word.
func (s State) MarshalText() ([]byte, error) {
	if !s.valid() {
		return nil, fmt.Errorf("check: state %d: %w", int(s), ErrState)
	}
	return []byte(stateNames[s]), nil
}

// UnmarshalText sets s to the state text names.
func (s *State) UnmarshalText(text []byte) error {
	v, err := ParseState(string(text))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// Result is what one run of a plugin reported.
type Result struct {
	// State is the plugin's exit status, or Unknown when that was no
	// plugin return code.
	State State `json:"state"`
	// Message is the first line of output without its performance data
	// and surrounding white space; for an exit status that is no return
	// code it starts with what was wrong with it.
	Message string `json:"message"`
	// Long is the long output: the later lines up to the performance data
	// in them, joined by "\n", without trailing white space.
	Long string `json:"long,omitempty"`
	// Perf is the well-formed performance data, in output order.
	Perf []Perf `json:"perf,omitempty"`
	// Bad describes each malformed item of performance data: the item,
	// quoted, a colon and what is wrong with it.
	Bad []string `json:"bad,omitempty"`
}

// Lines are a plugin's output lines as Parse reads them: each without its
// trailing blanks, the blank lines at either end left out.
func Lines(stdout []byte) []string {
	lines := strings.Split(string(stdout), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \t\r")
	}
	for len(lines) > 0 && lines[0] == "" {
		lines = lines[1:]
	}
	for len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

// Parse returns the result a plugin reported by exiting with status exit
// (-1 if a signal killed it, as os.ProcessState.ExitCode has it) after
// writing stdout. It never fails: output that breaks the plugin API shows
// up in the result (an Unknown state, entries in Bad) instead.
func Parse(exit int, stdout []byte) Result {
	lines := Lines(stdout)
	var r Result
	if len(lines) == 0 {
		r.State, r.Message = Unknown, "no output"
		if why := badExit(exit); why != "" {
			r.Message += " (" + why + ")"
		} else if exit != int(Unknown) {
			r.Message += " (exit status " + strconv.Itoa(exit) + ")"
		}
		return r
	}

	var perf []string
	msg, p, ok := strings.Cut(lines[0], "|")
	r.Message = strings.TrimSpace(msg)
	if ok {
		perf = append(perf, p)
	}
	var long []string
	for i, l := range lines[1:] {
		text, p, ok := strings.Cut(l, "|")
		if !ok {
			long = append(long, l)
			continue
		}
		if text = strings.TrimRight(text, " \t"); text != "" {
			long = append(long, text)
		}
		perf = append(append(perf, p), lines[i+2:]...)
		break
	}
	for len(long) > 0 && strings.TrimSpace(long[len(long)-1]) == "" {
		long = long[:len(long)-1]
	}
	r.Long = strings.Join(long, "\n")
	for _, p := range perf {
		items, bad := ParsePerf(p)
		r.Perf = append(r.Perf, items...)
		r.Bad = append(r.Bad, bad...)
	}

	r.State = State(exit)
	if why := badExit(exit); why != "" {
		r.State = Unknown
		if r.Message == "" {
			r.Message = why
		} else {
			r.Message = why + ": " + r.Message
		}
	}
	return r
}

// badExit says what is wrong with exit status exit, or "" if it is a
// plugin return code. Statuses 126 and 127 are what a shell returns for a
// command it found but could not run, and for one it did not find.
func badExit(exit int) string {
	switch {
	case exit >= int(OK) && exit <= int(Unknown):
		return ""
	case exit < 0:
		return "plugin killed by a signal"
	case exit == 126:
		return "exit status 126 is no plugin return code (0..3): plugin may not be executable"
	case exit == 127:
		return "exit status 127 is no plugin return code (0..3): plugin may be missing"
	}
	return "exit status " + strconv.Itoa(exit) + " is no plugin return code (0..3)"
}
