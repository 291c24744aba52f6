package check

import (
	"math"
	"strconv"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 22, 21, 40, 1, 0, time.UTC)

// at is the time of the i-th result of a test sequence, a minute apart.
func at(i int) time.Time { return t0.Add(time.Duration(i) * time.Minute) }

// step is one result of a sequence and the status and change it makes.
type step struct {
	r       State
	state   State
	typ     StateType
	attempt string // "attempt/max"
	event   Event
	since   int // index of the result whose time Since must be
}

func TestNext(t *testing.T) {
	for _, tc := range []struct {
		name  string
		p     Policy
		steps []step
	}{
		{"soft, soft, hard, recovery", Policy{MaxAttempts: 3}, []step{
			{OK, OK, Hard, "1/3", NoChange, 0},
			{Critical, Critical, Soft, "1/3", SoftProblem, 1},
			{Critical, Critical, Soft, "2/3", SoftProblem, 1},
			{Critical, Critical, Hard, "3/3", HardProblem, 1},
			{Critical, Critical, Hard, "3/3", NoChange, 1},
			{OK, OK, Hard, "1/3", HardRecovery, 5},
			{OK, OK, Hard, "1/3", NoChange, 5},
		}},
		// The example of Nagios's "State Types", check by check, except
		// that a HARD problem keeps attempt 3/3 where the table shows the
		// check number reset to 1.
		{"state types example", Policy{MaxAttempts: 3}, []step{
			{OK, OK, Hard, "1/3", NoChange, 0},                // initial state
			{Critical, Critical, Soft, "1/3", SoftProblem, 1}, // first detection
			{Warning, Warning, Soft, "2/3", SoftProblem, 2},   // still non-OK
			{Critical, Critical, Hard, "3/3", HardProblem, 3}, // max attempts
			{Warning, Warning, Hard, "3/3", HardProblem, 4},   // HARD WARNING
			{Warning, Warning, Hard, "3/3", NoChange, 4},      // stabilizes
			{OK, OK, Hard, "1/3", HardRecovery, 6},            // hard recovery
			{OK, OK, Hard, "1/3", NoChange, 6},                // still OK
			{Unknown, Unknown, Soft, "1/3", SoftProblem, 8},   // SOFT non-OK
			{OK, OK, Soft, "2/3", SoftRecovery, 9},            // soft recovery
			{OK, OK, Hard, "1/3", NoChange, 9},                // stabilizes
		}},
		{"max attempts 1", Policy{MaxAttempts: 1}, []step{
			{Critical, Critical, Hard, "1/1", HardProblem, 0},
			{Critical, Critical, Hard, "1/1", NoChange, 0},
			{Warning, Warning, Hard, "1/1", HardProblem, 2},
			{OK, OK, Hard, "1/1", HardRecovery, 3},
		}},
		{"max attempts 0 is 1", Policy{}, []step{
			{OK, OK, Hard, "1/1", NoChange, 0},
			{Unknown, Unknown, Hard, "1/1", HardProblem, 1},
		}},
		{"first result a problem", Policy{MaxAttempts: 2}, []step{
			{Critical, Critical, Soft, "1/2", SoftProblem, 0},
			{Critical, Critical, Hard, "2/2", HardProblem, 0},
		}},
		{"soft recovery, then a new problem", Policy{MaxAttempts: 3}, []step{
			{OK, OK, Hard, "1/3", NoChange, 0},
			{Warning, Warning, Soft, "1/3", SoftProblem, 1},
			{Warning, Warning, Soft, "2/3", SoftProblem, 1},
			{OK, OK, Soft, "3/3", SoftRecovery, 3},
			{Critical, Critical, Soft, "1/3", SoftProblem, 4},
		}},
		{"a state that is none counts as UNKNOWN", Policy{MaxAttempts: 2}, []step{
			{State(9), Unknown, Soft, "1/2", SoftProblem, 0},
			{State(-1), Unknown, Hard, "2/2", HardProblem, 0},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s Status
			for i, st := range tc.steps {
				var c Change
				s, c = s.Next(st.r, at(i), tc.p)
				checkStep(t, i, s, c, st)
			}
		})
	}
}

func checkStep(t *testing.T, i int, s Status, c Change, st step) {
	t.Helper()
	attempt := strconv.Itoa(s.Attempt) + "/" + strconv.Itoa(s.MaxAttempts)
	if s.State != st.state || s.Type != st.typ || attempt != st.attempt || c.Event != st.event ||
		!s.Since.Equal(at(st.since)) || !s.LastCheck.Equal(at(i)) {
		t.Errorf("result %d (%v): %v %v %s since %v last %v, %v; want %v %v %s since %v last %v, %v", i, st.r,
			s.State, s.Type, attempt, s.Since, s.LastCheck, c.Event, st.state, st.typ, st.attempt, at(st.since), at(i), st.event)
	}
	if err := s.check(); err != nil {
		t.Errorf("result %d: Next made a status MarshalText refuses: %v", i, err)
	}
	if want := st.event == HardProblem || st.event == HardRecovery; c.Hard() != want {
		t.Errorf("result %d: %v.Hard() = %v", i, c, c.Hard())
	}
}

func TestNextPolicyChanges(t *testing.T) {
	var s Status
	s, _ = s.Next(Critical, at(0), Policy{MaxAttempts: 5})
	s, c := s.Next(Critical, at(1), Policy{MaxAttempts: 2}) // attempt 2 of now 2
	checkStep(t, 1, s, c, step{Critical, Critical, Hard, "2/2", HardProblem, 0})
	s, c = s.Next(Critical, at(2), Policy{MaxAttempts: 4}) // still HARD
	checkStep(t, 2, s, c, step{Critical, Critical, Hard, "4/4", NoChange, 0})
	s, c = s.Next(OK, at(3), Policy{MaxAttempts: 4})
	checkStep(t, 3, s, c, step{OK, OK, Hard, "1/4", HardRecovery, 3})
}

func TestNextKeepsItsInput(t *testing.T) {
	var s Status
	for i := range HistoryLen {
		s, _ = s.Next(State(i%2), at(i), Policy{})
	}
	if len(s.History) != HistoryLen {
		t.Fatalf("history of %d results, want %d", len(s.History), HistoryLen)
	}
	before := append([]State(nil), s.History...)
	a, _ := s.Next(OK, at(30), Policy{})
	b, _ := s.Next(Critical, at(30), Policy{})
	for i := range before {
		if s.History[i] != before[i] {
			t.Fatalf("Next changed its receiver's history: %v, was %v", s.History, before)
		}
	}
	if len(a.History) != HistoryLen || a.History[HistoryLen-1] != OK || b.History[HistoryLen-1] != Critical ||
		a.History[0] != before[1] {
		t.Errorf("histories after OK and CRITICAL: %v, %v (from %v)", a.History, b.History, before)
	}
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestFlapping(t *testing.T) {
	// Alternating OK and CRITICAL from the first result: n results make
	// n-1 changes in the newest places of the window. The change in place
	// i (1 oldest, 20 newest) weighs 0.8 + 0.4(i-1)/19, and the percent
	// state change is the sum of the weights over 20, times 100 (5 times
	// the sum):
	//   n=1: no change                                   0%
	//   n=2: 1.2                                         6%
	//   n=3: + 0.8+0.4*18/19 = 1.178947, sum 2.378947  11.894737%
	//   n=4: + 1.157895, sum 3.536842                  17.684211%
	//   n=5: + 1.136842, sum 4.673684                  23.368421%
	//   n=6: + 1.115789, sum 5.789474                  28.947368%
	//   n=7: + 1.094737, sum 6.884211                  34.421053% >= 30: starts
	// and by n=21 every one of the 20 places changed: 100%.
	want := []float64{0, 6, 11.894736842105264, 17.68421052631579, 23.36842105263158, 28.94736842105263, 34.421052631578945}
	var (
		s Status
		c Change
	)
	p := Policy{MaxAttempts: 3}
	for i := range HistoryLen {
		s, c = s.Next([]State{OK, Critical}[i%2], at(i), p)
		if i < len(want) && !near(s.PercentChange, want[i]) {
			t.Errorf("result %d: %v%% state change, want %v%%", i+1, s.PercentChange, want[i])
		}
		if c.FlapStarted != (i == 6) || s.Flapping != (i >= 6) || c.FlapStopped {
			t.Errorf("result %d: flapping %v (%v%%), change %v", i+1, s.Flapping, s.PercentChange, c)
		}
	}
	if !near(s.PercentChange, 100) {
		t.Errorf("21 alternating results: %v%% state change, want 100%%", s.PercentChange)
	}
	if got, want := s.String(), "OK SOFT 2/3 since 2026-11-22T22:00:01Z flapping (100.0% state change)"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}

	// Then OK steadily (the 21st result was OK): after k of them only the
	// 20-k oldest places still change, whose weights sum to
	// (20-k)*0.8 + 0.4/19 * (19-k)(20-k)/2:
	//   k=14: 6 changes, 4.8 + 0.315789 = 5.115789      25.578947% (above 20: flapping)
	//   k=15: 5 changes, 4.0 + 0.210526 = 4.210526      21.052632% (still flapping)
	//   k=16: 4 changes, 3.2 + 0.126316 = 3.326316      16.631579% < 20: stops
	steady := map[int]float64{14: 25.578947368421055, 15: 21.052631578947366, 16: 16.63157894736842}
	for k := 1; k <= 20; k++ {
		s, c = s.Next(OK, at(20+k), p)
		if w, ok := steady[k]; ok && !near(s.PercentChange, w) {
			t.Errorf("%d steady results: %v%% state change, want %v%%", k, s.PercentChange, w)
		}
		if c.FlapStopped != (k == 16) || s.Flapping != (k < 16) || c.FlapStarted {
			t.Errorf("%d steady results: flapping %v (%v%%), change %v", k, s.Flapping, s.PercentChange, c)
		}
	}
	if s.PercentChange != 0 {
		t.Errorf("20 steady results: %v%% state change, want 0", s.PercentChange)
	}
}

func TestPercentChangeDocExample(t *testing.T) {
	// The example of Nagios's "Detection and Handling of State Flapping":
	// 21 results with 7 changes, at t3, t4, t5, t9, t12, t16 and t19, so
	// in places 2, 3, 4, 8, 11, 15 and 18. Unweighted that is 7/20 = 35%;
	// weighted "slightly less": 7*0.8 + 0.4/19*(1+2+3+7+10+14+17) =
	// 5.6 + 1.136842 = 6.736842 over 20, 33.684211%.
	h := make([]State, HistoryLen)
	s := OK
	for i := range h {
		switch i + 1 {
		case 3, 4, 5, 9, 12, 16, 19:
			s = Warning - s
		}
		h[i] = s
	}
	if got := percentChange(h); !near(got, 33.68421052631579) {
		t.Errorf("percentChange(%v) = %v, want 33.684211", h, got)
	}
}

func TestFlapThresholds(t *testing.T) {
	for _, tc := range []struct {
		name      string
		p         Policy
		low, high float64
	}{
		{"defaults", Policy{}, DefaultLowServiceFlap, DefaultHighServiceFlap},
		{"negative means default", Policy{LowFlap: -1, HighFlap: -1}, 20, 30},
		{"NaN means default", Policy{LowFlap: math.NaN(), HighFlap: math.NaN()}, 20, 30},
		{"set", Policy{LowFlap: 5, HighFlap: 10}, 5, 10},
		{"low above high", Policy{LowFlap: 40, HighFlap: 35}, 35, 35},
		{"only high, below the default low", Policy{HighFlap: 10}, 10, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if low, high := tc.p.flapThresholds(); low != tc.low || high != tc.high {
				t.Errorf("%+v thresholds %v, %v; want %v, %v", tc.p, low, high, tc.low, tc.high)
			}
		})
	}
	if DefaultLowHostFlap != 20 || DefaultHighHostFlap != 30 {
		t.Errorf("host defaults %v, %v; want Nagios's 20, 30", DefaultLowHostFlap, DefaultHighHostFlap)
	}
}

func TestFlapBoundaries(t *testing.T) {
	// Starting takes a percent state change equal to or greater than the
	// high threshold; stopping one less than the low threshold.
	var s Status
	for i := range 3 {
		s, _ = s.Next([]State{OK, Critical}[i%2], at(i), Policy{})
	}
	pct := s.PercentChange // 11.894737: OK, CRITICAL, OK
	s3, c := s.Next(Critical, at(3), Policy{})
	edge := s3.PercentChange // 17.684211, three changes
	if _, c = s.Next(Critical, at(3), Policy{LowFlap: 1, HighFlap: edge}); !c.FlapStarted {
		t.Errorf("%v%% did not start flapping at a high threshold of %v%%", edge, edge)
	}
	if _, c = s.Next(Critical, at(3), Policy{LowFlap: 1, HighFlap: math.Nextafter(edge, 100)}); c.FlapStarted {
		t.Errorf("%v%% started flapping below the high threshold", edge)
	}
	s.Flapping = true
	steady, _ := s.Next(OK, at(3), Policy{}) // no new change: 11.684211
	low := steady.PercentChange
	if low >= pct {
		t.Fatalf("a steady result raised the percent state change from %v to %v", pct, low)
	}
	if _, c = s.Next(OK, at(3), Policy{LowFlap: low, HighFlap: 50}); c.FlapStopped {
		t.Errorf("%v%% stopped flapping at a low threshold of %v%%", low, low)
	}
	if _, c = s.Next(OK, at(3), Policy{LowFlap: math.Nextafter(low, 100), HighFlap: 50}); !c.FlapStopped {
		t.Errorf("%v%% did not stop flapping below the low threshold", low)
	}
}

func TestChangeString(t *testing.T) {
	for _, tc := range []struct {
		c    Change
		want string
	}{
		{Change{}, "no change"},
		{Change{Event: SoftProblem}, "soft problem"},
		{Change{Event: SoftRecovery, FlapStopped: true}, "soft recovery, flapping stopped"},
		{Change{Event: HardProblem, FlapStarted: true}, "hard problem, flapping started"},
		{Change{Event: HardRecovery}, "hard recovery"},
		{Change{Event: Event(9)}, "Event(9)"},
	} {
		if got := tc.c.String(); got != tc.want {
			t.Errorf("%#v.String() = %q, want %q", tc.c, got, tc.want)
		}
	}
}
