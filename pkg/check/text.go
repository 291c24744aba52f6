package check

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ErrStatus is the error of Status.MarshalText and Status.UnmarshalText
// for a status that is not one Next could have made, or text that is
// not such a status.
var ErrStatus = errors.New("malformed status")

// statusVersion starts every status line, naming its format.
const statusVersion = "check-status/1"

// maxStatusText bounds the text UnmarshalText reads: a status line with
// every field at its longest is well under it.
const maxStatusText = 1024

// The keys of a status line, in the order MarshalText writes them.
var statusKeys = []string{"state", "type", "attempt", "since", "last", "history", "flapping", "percent"}

// MarshalText returns s as one line of text without a newline, such as
//
//	check-status/1 state=CRITICAL type=HARD attempt=3/3 since=2026-11-22T21:40:01Z last=2026-11-22T21:50:01Z history=0000222 flapping=false percent=5.894736842105263
//
// which UnmarshalText reads back as s exactly (times as the same instants
// in UTC). It fails, with ErrStatus, for a status Next cannot make.
func (s Status) MarshalText() ([]byte, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	h := make([]byte, len(s.History))
	for i, st := range s.History {
		h[i] = byte('0' + st)
	}
	vals := []string{
		s.State.String(), s.Type.String(),
		strconv.Itoa(s.Attempt) + "/" + strconv.Itoa(s.MaxAttempts),
		s.Since.UTC().Format(time.RFC3339Nano), s.LastCheck.UTC().Format(time.RFC3339Nano),
		string(h), strconv.FormatBool(s.Flapping),
		strconv.FormatFloat(s.PercentChange, 'g', -1, 64),
	}
	var b strings.Builder
	b.WriteString(statusVersion)
	for i, k := range statusKeys {
		b.WriteString(" " + k + "=" + vals[i])
	}
	return []byte(b.String()), nil
}

// UnmarshalText sets s to the status text holds, a line MarshalText
// wrote (a final newline is allowed). It fails, with ErrStatus, on
// anything else, including a line of another format version or a status
// Next cannot make; s is then unchanged.
func (s *Status) UnmarshalText(text []byte) error {
	if len(text) > maxStatusText {
		return fmt.Errorf("check: %w: %d bytes, more than a status line has", ErrStatus, len(text))
	}
	line := strings.TrimSuffix(strings.TrimSuffix(string(text), "\n"), "\r")
	for _, c := range line {
		if c < ' ' || c == 0x7f {
			return fmt.Errorf("check: %w: control character %q", ErrStatus, c)
		}
	}
	fields := strings.Split(line, " ")
	if fields[0] != statusVersion {
		return fmt.Errorf("check: %w: does not start with %q", ErrStatus, statusVersion)
	}
	vals := map[string]string{}
	for _, f := range fields[1:] {
		k, v, ok := strings.Cut(f, "=")
		if _, dup := vals[k]; !ok || dup {
			return fmt.Errorf("check: %w: field %q is not a new key=value", ErrStatus, f)
		}
		vals[k] = v
	}
	if len(vals) != len(statusKeys) {
		return fmt.Errorf("check: %w: %d fields, want %s", ErrStatus, len(vals), strings.Join(statusKeys, ", "))
	}
	var n Status
	for _, k := range statusKeys {
		v, ok := vals[k]
		if !ok {
			return fmt.Errorf("check: %w: no field %s", ErrStatus, k)
		}
		if err := n.setField(k, v); err != nil {
			return fmt.Errorf("check: %w: field %s=%s: %v", ErrStatus, k, v, err)
		}
	}
	if err := n.check(); err != nil {
		return err
	}
	*s = n
	return nil
}

// setField sets the field that key k of a status line names from v.
func (s *Status) setField(k, v string) error {
	var err error
	switch k {
	case "state":
		if s.State, err = ParseState(v); err != nil {
			err = errors.New("not OK, WARNING, CRITICAL or UNKNOWN")
		}
	case "type":
		switch v {
		case "HARD":
			s.Type = Hard
		case "SOFT":
			s.Type = Soft
		default:
			err = errors.New("not HARD or SOFT")
		}
	case "attempt":
		a, m, ok := strings.Cut(v, "/")
		if s.Attempt, err = smallInt(a); ok && err == nil {
			s.MaxAttempts, err = smallInt(m)
		} else if !ok {
			err = errors.New("not ATTEMPT/MAX")
		}
	case "since":
		s.Since, err = parseTime(v)
	case "last":
		s.LastCheck, err = parseTime(v)
	case "history":
		if len(v) > HistoryLen {
			return fmt.Errorf("more than %d states", HistoryLen)
		}
		for i := 0; i < len(v); i++ {
			if v[i] < '0' || v[i] > '3' {
				return errors.New("not digits 0 to 3")
			}
			s.History = append(s.History, State(v[i]-'0'))
		}
	case "flapping":
		switch v {
		case "true", "false":
			s.Flapping = v == "true"
		default:
			err = errors.New("not true or false")
		}
	case "percent":
		if s.PercentChange, err = strconv.ParseFloat(v, 64); err != nil {
			err = errors.New("not a number")
		}
	}
	return err
}

// smallInt parses a decimal number of at most 7 digits.
func smallInt(v string) (int, error) {
	if v == "" || len(v) > 7 || strings.Trim(v, "0123456789") != "" {
		return 0, errors.New("not a number of 1 to 7 digits")
	}
	return strconv.Atoi(v)
}

// parseTime parses an RFC 3339 time, returning it in UTC.
func parseTime(v string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, errors.New("not an RFC 3339 time")
	}
	return t.UTC(), nil
}

// check returns an ErrStatus error if s is not a status Next can make.
func (s Status) check() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("check: %w: %s", ErrStatus, fmt.Sprintf(format, args...))
	}
	if s.LastCheck.IsZero() {
		if s.State != OK || s.Type != Hard || s.Attempt != 0 || s.MaxAttempts != 0 || !s.Since.IsZero() ||
			len(s.History) != 0 || s.Flapping || s.PercentChange != 0 {
			return bad("never checked, yet not the zero status")
		}
		return nil
	}
	if s.Since.IsZero() {
		return bad("checked, yet no time of the last state change")
	}
	for _, t := range []time.Time{s.Since, s.LastCheck} {
		if t.Year() < 1 || t.Year() > 9999 {
			return bad("time %v outside years 1 to 9999", t)
		}
	}
	switch {
	case !s.State.valid():
		return bad("state %d", int(s.State))
	case s.Type != Hard && s.Type != Soft:
		return bad("state type %d", int(s.Type))
	case s.MaxAttempts < 1 || s.MaxAttempts > maxAttemptsLimit:
		return bad("max attempts %d outside 1 to %d", s.MaxAttempts, maxAttemptsLimit)
	case s.Attempt < 1 || s.Attempt > s.MaxAttempts:
		return bad("attempt %d outside 1 to %d", s.Attempt, s.MaxAttempts)
	case s.Type == Hard && s.State == OK && s.Attempt != 1:
		return bad("attempt %d of an OK HARD state, want 1", s.Attempt)
	case s.Type == Hard && s.State != OK && s.Attempt != s.MaxAttempts:
		return bad("attempt %d/%d of a HARD problem, want %d", s.Attempt, s.MaxAttempts, s.MaxAttempts)
	case s.Type == Soft && s.State != OK && s.Attempt >= s.MaxAttempts:
		return bad("attempt %d/%d of a SOFT problem, want fewer", s.Attempt, s.MaxAttempts)
	case len(s.History) < 1 || len(s.History) > HistoryLen:
		return bad("%d states of history, want 1 to %d", len(s.History), HistoryLen)
	case s.History[len(s.History)-1] != s.State:
		return bad("latest state of history %s is not state %s", s.History[len(s.History)-1], s.State)
	case math.IsNaN(s.PercentChange) || s.PercentChange < 0 || s.PercentChange > 100:
		return bad("percent state change %v outside 0 to 100", s.PercentChange)
	}
	for _, st := range s.History {
		if !st.valid() {
			return bad("state %d in history", int(st))
		}
	}
	return nil
}
