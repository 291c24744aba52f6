package check

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
)

func fp(x float64) *float64 { return &x }

// noEq is the Bad entries of words that are not items at all.
func noEq(words ...string) []string {
	var bad []string
	for _, w := range words {
		bad = append(bad, fmt.Sprintf("%q: no =", w))
	}
	return bad
}

func TestParse(t *testing.T) {
	const disk = "DISK OK - free space: / 3326 MB (56%);"
	for _, tc := range []struct {
		name string
		exit int
		out  string
		want Result
	}{
		// The three cases of the Nagios plugin API's "Plugin Output Examples".
		{"api case 1, text only", 0, disk + "\n", Result{State: OK, Message: disk}},
		{"api case 2, text and perfdata", 0, disk + " | /=2643MB;5948;5958;0;5968\n", Result{State: OK, Message: disk,
			Perf: []Perf{{Label: "/", Value: 2643, Unit: "MB", Warn: "5948", Crit: "5958", Min: fp(0), Max: fp(5968)}}}},
		// (The API's table of macros leaves out the /home line of the long
		// output; its text says lines 2 to 5 make it.)
		{"api case 3, multiple lines", 0, disk + " | /=2643MB;5948;5958;0;5968\n" +
			"/ 15272 MB (77%);\n/boot 68 MB (69%);\n/home 69357 MB (27%);\n" +
			"/var/log 819 MB (84%); | /boot=68MB;88;93;0;98\n" +
			"/home=69357MB;253404;253409;0;253414 \n/var/log=818MB;970;975;0;980\n",
			Result{State: OK, Message: disk,
				Long: "/ 15272 MB (77%);\n/boot 68 MB (69%);\n/home 69357 MB (27%);\n/var/log 819 MB (84%);",
				Perf: []Perf{
					{Label: "/", Value: 2643, Unit: "MB", Warn: "5948", Crit: "5958", Min: fp(0), Max: fp(5968)},
					{Label: "/boot", Value: 68, Unit: "MB", Warn: "88", Crit: "93", Min: fp(0), Max: fp(98)},
					{Label: "/home", Value: 69357, Unit: "MB", Warn: "253404", Crit: "253409", Min: fp(0), Max: fp(253414)},
					{Label: "/var/log", Value: 818, Unit: "MB", Warn: "970", Crit: "975", Min: fp(0), Max: fp(980)},
				}}},
		// The Nagios "Performance Data" page's check_ping example: its
		// "0," is a number followed by a comma, no unit.
		{"perfdata page", 0, "PING ok - Packet loss = 0%, RTA = 0.80 ms | percent_packet_loss=0, rta=0.80",
			Result{State: OK, Message: "PING ok - Packet loss = 0%, RTA = 0.80 ms",
				Perf: []Perf{{Label: "rta", Value: 0.8}},
				Bad:  []string{`"percent_packet_loss=0,": unknown unit "," (want s, ms, us, %, B, KB, MB, TB, c or none)`}}},
		// The guidelines' layout of multi-line output, whose "performance
		// data" is prose, every word a malformed item.
		{"guidelines layout", 2, "SERVICE STATUS: First line of output | First part of performance data\n" +
			"Any number of subsequent lines of output, but note that buffers\n" +
			"may have a limited size | Second part of performance data, which\n" +
			"may have continuation lines, too\n",
			Result{State: Critical, Message: "SERVICE STATUS: First line of output",
				Long: "Any number of subsequent lines of output, but note that buffers\nmay have a limited size",
				Bad: noEq("First", "part", "of", "performance", "data", "Second", "part", "of", "performance", "data,",
					"which", "may", "have", "continuation", "lines,", "too")}},
		{"guidelines format", 1, "SERVICE STATUS: Information text", Result{State: Warning, Message: "SERVICE STATUS: Information text"}},
		{"perfdata only after the first line", 0, "OK\nline 2\n| a=1 b=2\nc=3",
			Result{State: OK, Message: "OK", Long: "line 2", Perf: []Perf{{Label: "a", Value: 1}, {Label: "b", Value: 2}, {Label: "c", Value: 3}}}},
		{"a second | on the first line", 0, "OK | a=1 | b=2", Result{State: OK, Message: "OK",
			Perf: []Perf{{Label: "a", Value: 1}, {Label: "b", Value: 2}}, Bad: noEq("|")}},
		{"quoted labels", 0, "OK | 'in bytes'=5B;;;0 'it''s'=U 'a=b'=1c",
			Result{State: OK, Message: "OK", Perf: []Perf{{Label: "in bytes", Value: 5, Unit: "B", Min: fp(0)},
				{Label: "it's", Undetermined: true}, {Label: "a=b", Value: 1, Unit: "c"}}}},
		{"crlf and blank lines trimmed", 0, "\r\n\n  OK: fine  \r\n  indented \r\n\n\n", Result{State: OK, Message: "OK: fine", Long: "  indented"}},
		{"blank lines kept inside long output", 0, "OK\na\n\nb", Result{State: OK, Message: "OK", Long: "a\n\nb"}},
		{"message empty, perfdata", 0, "|x=1", Result{State: OK, Perf: []Perf{{Label: "x", Value: 1}}}},
		{"exit 0", 0, "OK: all good", Result{State: OK, Message: "OK: all good"}},
		{"exit 1", 1, "WARNING: hmm", Result{State: Warning, Message: "WARNING: hmm"}},
		{"exit 2", 2, "CRITICAL: down", Result{State: Critical, Message: "CRITICAL: down"}},
		{"exit 3", 3, "UNKNOWN: bad args", Result{State: Unknown, Message: "UNKNOWN: bad args"}},
		{"exit 4", 4, "CHECK OK | t=1s", Result{State: Unknown, Message: "exit status 4 is no plugin return code (0..3): CHECK OK",
			Perf: []Perf{{Label: "t", Value: 1, Unit: "s"}}}},
		{"exit 127", 127, "sh: 1: check_foo: not found", Result{State: Unknown,
			Message: "exit status 127 is no plugin return code (0..3): plugin may be missing: sh: 1: check_foo: not found"}},
		{"exit 126 without output", 126, "", Result{State: Unknown,
			Message: "no output (exit status 126 is no plugin return code (0..3): plugin may not be executable)"}},
		{"killed", -1, "OK so far", Result{State: Unknown, Message: "plugin killed by a signal: OK so far"}},
		{"killed without output", -1, "", Result{State: Unknown, Message: "no output (plugin killed by a signal)"}},
		{"empty", 0, "", Result{State: Unknown, Message: "no output (exit status 0)"}},
		{"blank", 2, " \n\r\n\t\n", Result{State: Unknown, Message: "no output (exit status 2)"}},
		{"empty, exit 3", 3, "", Result{State: Unknown, Message: "no output"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Parse(tc.exit, []byte(tc.out))
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Parse(%d, %q) =\n%s\nwant\n%s", tc.exit, tc.out, js(t, got), js(t, tc.want))
			}
		})
	}
}

func js(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("json.Marshal(%#v): %v", v, err)
	}
	return string(b)
}

func TestResultJSON(t *testing.T) {
	r := Parse(2, []byte("CRITICAL: x | 'a b'=0s;1;2;0;10 u=U\nmore"))
	want := `{"state":"CRITICAL","message":"CRITICAL: x","long":"more","perf":[{"label":"a b","value":0,"unit":"s","warn":"1","crit":"2","min":0,"max":10},{"label":"u","value":0,"undetermined":true}]}`
	if got := js(t, r); got != want {
		t.Errorf("JSON of %+v =\n%s\nwant\n%s", r, got, want)
	}
	var back Result
	if err := json.Unmarshal([]byte(want), &back); err != nil || !reflect.DeepEqual(back, r) {
		t.Errorf("json.Unmarshal(%s) = %+v, %v; want %+v", want, back, err, r)
	}
}

func TestState(t *testing.T) {
	for _, tc := range []struct {
		s    State
		name string
	}{{OK, "OK"}, {Warning, "WARNING"}, {Critical, "CRITICAL"}, {Unknown, "UNKNOWN"}} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.s.String(); got != tc.name {
				t.Errorf("State(%d).String() = %q, want %q", int(tc.s), got, tc.name)
			}
			if got, err := ParseState(tc.name); got != tc.s || err != nil {
				t.Errorf("ParseState(%q) = %v, %v; want %v", tc.name, got, err, tc.s)
			}
		})
	}
	for _, bad := range []string{"", "ok", "Critical", "PENDING", "OK ", "2"} {
		if _, err := ParseState(bad); err == nil || !strings.Contains(err.Error(), "not a check state") {
			t.Errorf("ParseState(%q) = _, %v; want ErrState", bad, err)
		}
	}
	if got := State(7).String(); got != "State(7)" {
		t.Errorf("State(7).String() = %q", got)
	}
	if _, err := State(-1).MarshalText(); err == nil {
		t.Error("State(-1).MarshalText() succeeded")
	}
}

func FuzzParse(f *testing.F) {
	f.Add(0, []byte("DISK OK - free space: / 3326 MB (56%); | /=2643MB;5948;5958;0;5968\n/ 15272 MB (77%);\n/var/log 819 MB (84%); | /boot=68MB;88;93;0;98\n/home=69357MB;253404;253409;0;253414"))
	f.Add(2, []byte("x | 'a''b c'=U;@10:20;~:5;;"))
	f.Add(4, []byte("|||\n|\r\n'"))
	f.Add(-1, []byte(""))
	f.Add(1, []byte("W | a=1e5 b=-0.5.5 c=9999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999"))
	f.Fuzz(func(t *testing.T, exit int, out []byte) {
		r := Parse(exit, out)
		if !r.State.valid() {
			t.Fatalf("Parse(%d, %q).State = %d", exit, out, int(r.State))
		}
		if (exit < 0 || exit > 3) && r.State != Unknown {
			t.Fatalf("Parse(%d, %q).State = %v, want UNKNOWN", exit, out, r.State)
		}
		if strings.Contains(r.Message, "\n") || r.Message != strings.TrimSpace(r.Message) {
			t.Fatalf("Parse(%d, %q).Message = %q", exit, out, r.Message)
		}
		for _, p := range r.Perf {
			if math.IsInf(p.Value, 0) || math.IsNaN(p.Value) || !units[p.Unit] {
				t.Fatalf("Parse(%d, %q): bad item %+v", exit, out, p)
			}
			back, bad := ParsePerf(p.String())
			if len(back) != 1 || len(bad) != 0 || !reflect.DeepEqual(back[0], p) {
				t.Fatalf("ParsePerf(%q) = %+v, %q; want %+v", p.String(), back, bad, p)
			}
		}
		if _, err := json.Marshal(r); err != nil {
			t.Fatalf("json.Marshal(Parse(%d, %q)): %v", exit, out, err)
		}
	})
}
