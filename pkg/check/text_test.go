package check

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// run applies results to the zero Status, a minute apart from t0.
func run(p Policy, results ...State) Status {
	var s Status
	for i, r := range results {
		s, _ = s.Next(r, at(i), p)
	}
	return s
}

// alternating is n results alternating OK and CRITICAL, OK first.
func alternating(n int) []State {
	r := make([]State, n)
	for i := range r {
		r[i] = State(i%2) * Critical
	}
	return r
}

func TestStatusString(t *testing.T) {
	p := Policy{MaxAttempts: 3}
	for _, tc := range []struct {
		name string
		s    Status
		want string
	}{
		{"never checked", Status{}, "PENDING"},
		{"ok", run(p, OK), "OK HARD 1/3 since 2026-11-22T21:40:01Z"},
		{"soft", run(p, OK, Critical, Critical), "CRITICAL SOFT 2/3 since 2026-11-22T21:41:01Z"},
		{"hard", run(p, OK, Critical, Critical, Critical), "CRITICAL HARD 3/3 since 2026-11-22T21:41:01Z"},
		{"flapping", run(p, alternating(8)...), "CRITICAL SOFT 1/3 since 2026-11-22T21:47:01Z flapping (39.8% state change)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.s.String(); got != tc.want {
				t.Errorf("String() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestMarshalText(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    Status
		want string
	}{
		{"zero", Status{}, "check-status/1 state=OK type=HARD attempt=0/0 since=0001-01-01T00:00:00Z " +
			"last=0001-01-01T00:00:00Z history= flapping=false percent=0"},
		// One change, between the oldest two of 4 results: place 18 of 20,
		// weight 0.8+0.4*17/19 = 1.157895, 5.789474%.
		{"hard", run(Policy{MaxAttempts: 3}, OK, Critical, Critical, Critical),
			"check-status/1 state=CRITICAL type=HARD attempt=3/3 since=2026-11-22T21:41:01Z " +
				"last=2026-11-22T21:43:01Z history=0222 flapping=false percent=5.7894736842105265"},
		{"nanoseconds and another zone", func() Status {
			s, _ := Status{}.Next(Warning, time.Date(2026, 1, 2, 3, 4, 5, 6, time.FixedZone("X", 3600)), Policy{MaxAttempts: 2})
			return s
		}(), "check-status/1 state=WARNING type=SOFT attempt=1/2 since=2026-01-02T02:04:05.000000006Z " +
			"last=2026-01-02T02:04:05.000000006Z history=1 flapping=false percent=0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.s.MarshalText()
			if string(got) != tc.want || err != nil {
				t.Fatalf("MarshalText() = %q, %v; want %q", got, err, tc.want)
			}
			var back Status
			if err := back.UnmarshalText(got); err != nil || !reflect.DeepEqual(back, tc.s) {
				t.Errorf("UnmarshalText(%q) = %v:\n%#v\nwant\n%#v", got, err, back, tc.s)
			}
		})
	}
}

func TestStatusRoundTrip(t *testing.T) {
	// Every status of some long sequences: soft and hard problems,
	// recoveries, flapping starting and stopping, a full window.
	seqs := [][]State{
		append(alternating(30), OK, OK, OK, OK, OK, OK, OK, OK, OK, OK, OK, OK, OK, OK, OK, OK, OK, OK),
		{OK, Critical, Warning, Critical, Warning, Warning, OK, OK, Unknown, OK, OK},
	}
	for _, p := range []Policy{{MaxAttempts: 1}, {MaxAttempts: 3}, {MaxAttempts: 4, LowFlap: 5, HighFlap: 10}} {
		for _, seq := range seqs {
			var s Status
			for i, r := range seq {
				s, _ = s.Next(r, at(i).Add(time.Duration(i)*time.Nanosecond), p)
				text, err := s.MarshalText()
				if err != nil {
					t.Fatalf("%+v result %d: MarshalText: %v", p, i, err)
				}
				var back Status
				if err := back.UnmarshalText(append(text, '\n')); err != nil || !reflect.DeepEqual(back, s) {
					t.Fatalf("UnmarshalText(%q) = %v:\n%#v\nwant\n%#v", text, err, back, s)
				}
			}
		}
	}
}

func TestUnmarshalTextRejects(t *testing.T) {
	const good = "check-status/1 state=CRITICAL type=HARD attempt=3/3 since=2026-11-22T21:41:01Z " +
		"last=2026-11-22T21:43:01Z history=0222 flapping=false percent=5.7894736842105265"
	var s Status
	if err := s.UnmarshalText([]byte(good)); err != nil {
		t.Fatalf("UnmarshalText(%q): %v", good, err)
	}
	with := func(old, new string) string { return strings.Replace(good, old, new, 1) }
	for _, tc := range []struct{ name, text, why string }{
		{"empty", "", "does not start with"},
		{"garbage", "hello world", "does not start with"},
		{"another version", with("check-status/1", "check-status/2"), "does not start with"},
		{"no version", strings.TrimPrefix(good, "check-status/1 "), "does not start with"},
		{"two lines", good + "\n" + good, "control character"},
		{"nul", with("flapping", "flap\x00ping"), "control character"},
		{"double space", with(" type", "  type"), `field "" is not`},
		{"trailing space", good + " ", `field "" is not`},
		{"missing field", with(" flapping=false", ""), "7 fields"},
		{"unknown field", good + " colour=red", "9 fields"},
		{"duplicate field", with(" flapping=false", " state=CRITICAL flapping=false"), `field "state=CRITICAL" is not a new`},
		{"no =", with("flapping=false", "flapping"), `field "flapping" is not`},
		{"bad state", with("CRITICAL", "critical"), "state=critical: not OK"},
		{"bad type", with("HARD", "FIRM"), "not HARD or SOFT"},
		{"bad attempt", with("3/3", "3"), "not ATTEMPT/MAX"},
		{"attempt not a number", with("3/3", "x/3"), "attempt=x/3: not a number of 1 to 7"},
		{"attempt signed", with("3/3", "+3/3"), "attempt=+3/3: not a number"},
		{"attempt huge", with("3/3", "99999999999999999999/3"), "attempt=99999999999999999999/3: not a number"},
		{"attempt above max", with("3/3", "4/3"), "attempt 4 outside 1 to 3"},
		{"hard problem before max", with("3/3", "2/3"), "attempt 2/3 of a HARD problem"},
		{"soft problem at max", with("HARD", "SOFT"), "attempt 3/3 of a SOFT problem"},
		{"hard ok attempt", with("state=CRITICAL", "state=OK"), "attempt 3 of an OK HARD state"},
		{"max above the limit", with("3/3", "2000000/2000000"), "max attempts 2000000 outside"},
		{"bad time", with("21:41:01Z", "21:41:61Z"), "since=2026-11-22T21:41:61Z: not an RFC 3339"},
		{"time without zone", with("21:41:01Z", "21:41:01"), "since=2026-11-22T21:41:01: not an RFC 3339"},
		{"zero since", with("2026-11-22T21:41:01Z", "0001-01-01T00:00:00Z"), "no time of the last state change"},
		{"year 0", with("2026-11-22T21:41:01Z", "0000-11-22T21:41:01Z"), "outside years 1 to 9999"},
		{"history digit", with("0222", "0242"), "history=0242: not digits"},
		{"history letters", with("0222", "OKOK"), "history=OKOK: not digits"},
		{"history too long", with("0222", strings.Repeat("0", 21)+"2"), "more than 21 states"},
		{"empty history", with("history=0222", "history="), "0 states of history"},
		{"history ends elsewhere", with("0222", "0221"), "latest state of history WARNING"},
		{"bad flapping", with("false", "no"), "flapping=no: not true or false"},
		{"negative percent", with("5.7894736842105265", "-1"), "-1 outside 0 to 100"},
		{"percent above 100", with("5.7894736842105265", "100.5"), "100.5 outside"},
		{"percent NaN", with("5.7894736842105265", "NaN"), "NaN outside"},
		{"percent word", with("5.7894736842105265", "lots"), "percent=lots: not a number"},
		{"never checked but not zero", "check-status/1 state=CRITICAL type=HARD attempt=0/0 since=0001-01-01T00:00:00Z " +
			"last=0001-01-01T00:00:00Z history= flapping=false percent=0", "never checked, yet"},
		{"too long", good + strings.Repeat("x", 2000), "2159 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := s
			err := s.UnmarshalText([]byte(tc.text))
			if !errors.Is(err, ErrStatus) || !strings.Contains(err.Error(), tc.why) {
				t.Errorf("UnmarshalText(%q) = %v, want an ErrStatus error saying %q", tc.text, err, tc.why)
			}
			if !reflect.DeepEqual(s, before) {
				t.Errorf("UnmarshalText(%q) changed the status to %+v", tc.text, s)
			}
		})
	}
}

func TestMarshalTextRejects(t *testing.T) {
	ok := run(Policy{MaxAttempts: 3}, OK, Critical)
	for _, tc := range []struct {
		name   string
		change func(*Status)
	}{
		{"bad state", func(s *Status) { s.State = 9 }},
		{"bad type", func(s *Status) { s.Type = 5 }},
		{"attempt 0", func(s *Status) { s.Attempt = 0 }},
		{"history too long", func(s *Status) { s.History = make([]State, HistoryLen+1) }},
		{"bad state in history", func(s *Status) { s.History = []State{7, Critical} }},
		{"year 10000", func(s *Status) { s.LastCheck = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }},
		{"never checked", func(s *Status) { s.LastCheck = time.Time{} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := ok
			s.History = append([]State(nil), ok.History...)
			tc.change(&s)
			if text, err := s.MarshalText(); !errors.Is(err, ErrStatus) {
				t.Errorf("MarshalText() of %+v = %q, %v; want an ErrStatus error", s, text, err)
			}
		})
	}
}

func FuzzUnmarshalText(f *testing.F) {
	for _, s := range []Status{{}, run(Policy{MaxAttempts: 3}, OK, Critical, Critical, Critical), run(Policy{}, alternating(25)...)} {
		text, err := s.MarshalText()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(text))
	}
	f.Add("check-status/1 state=OK type=SOFT attempt=1/1 since=2026-11-22T21:41:01+02:00 last=2026-11-22T21:43:01.5Z history=0 flapping=true percent=1e2")
	f.Fuzz(func(t *testing.T, in string) {
		var s Status
		if err := s.UnmarshalText([]byte(in)); err != nil {
			if !errors.Is(err, ErrStatus) {
				t.Fatalf("UnmarshalText(%q) = %v, not an ErrStatus error", in, err)
			}
			return
		}
		text, err := s.MarshalText()
		if err != nil {
			t.Fatalf("UnmarshalText(%q) accepted %+v, which MarshalText refuses: %v", in, s, err)
		}
		var back Status
		if err := back.UnmarshalText(text); err != nil || !reflect.DeepEqual(back, s) {
			t.Fatalf("round trip of %q through %q: %+v, %v", in, text, back, err)
		}
		next, _ := s.Next(Critical, s.LastCheck.Add(time.Minute), Policy{MaxAttempts: s.MaxAttempts})
		if err := next.check(); err != nil {
			t.Fatalf("Next after %q made a bad status: %v", in, err)
		}
		_ = s.String()
	})
}
