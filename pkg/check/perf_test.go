package check

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestParsePerf(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want []Perf
		bad  []string
	}{
		{"empty", "", nil, nil},
		{"blank", " \t ", nil, nil},
		{"bare value", "users=3", []Perf{{Label: "users", Value: 3}}, nil},
		{"every field", "/=2643MB;5948;5958;0;5968",
			[]Perf{{Label: "/", Value: 2643, Unit: "MB", Warn: "5948", Crit: "5958", Min: fp(0), Max: fp(5968)}}, nil},
		{"every unit", "a=1s b=2ms c=3us d=4% e=5B f=6KB g=7MB h=8TB i=9c", []Perf{
			{Label: "a", Value: 1, Unit: "s"}, {Label: "b", Value: 2, Unit: "ms"}, {Label: "c", Value: 3, Unit: "us"},
			{Label: "d", Value: 4, Unit: "%"}, {Label: "e", Value: 5, Unit: "B"}, {Label: "f", Value: 6, Unit: "KB"},
			{Label: "g", Value: 7, Unit: "MB"}, {Label: "h", Value: 8, Unit: "TB"}, {Label: "i", Value: 9, Unit: "c"}}, nil},
		{"negative and fractional", "t=-0.5s;;;-1.;.5", []Perf{{Label: "t", Value: -0.5, Unit: "s", Min: fp(-1), Max: fp(0.5)}}, nil},
		{"null fields and trailing semicolons", "load1=0.000;15.000;30.000;0; time=0.1s;;;0.000000",
			[]Perf{{Label: "load1", Value: 0, Warn: "15.000", Crit: "30.000", Min: fp(0)},
				{Label: "time", Value: 0.1, Unit: "s", Min: fp(0)}}, nil},
		{"ranges", "a=1;10:;~:10 b=2;10:20;@10:20 c=3;@~:;: d=4;~:-5;-10:-5",
			[]Perf{{Label: "a", Value: 1, Warn: "10:", Crit: "~:10"}, {Label: "b", Value: 2, Warn: "10:20", Crit: "@10:20"},
				{Label: "c", Value: 3, Warn: "@~:", Crit: ":"}, {Label: "d", Value: 4, Warn: "~:-5", Crit: "-10:-5"}}, nil},
		{"undetermined", "a=U b=Us;1;2 c=U;;;0;100", []Perf{{Label: "a", Undetermined: true},
			{Label: "b", Undetermined: true, Unit: "s", Warn: "1", Crit: "2"}, {Label: "c", Undetermined: true, Min: fp(0), Max: fp(100)}}, nil},
		{"quoted labels", "'a b'=1 'it''s'=2 '''x'''=3 'a=b'=4 '|;'=5 'tab\there'=6",
			[]Perf{{Label: "a b", Value: 1}, {Label: "it's", Value: 2}, {Label: "'x'", Value: 3},
				{Label: "a=b", Value: 4}, {Label: "|;", Value: 5}, {Label: "tab\there", Value: 6}}, nil},
		{"tabs separate", "a=1\tb=2", []Perf{{Label: "a", Value: 1}, {Label: "b", Value: 2}}, nil},
		{"line breaks separate", "a=1\r\nb=2\n", []Perf{{Label: "a", Value: 1}, {Label: "b", Value: 2}}, nil},
		{"a quoted label ends on its line", "'a\nb'=1", nil, []string{`"'a\nb'=1": label has no closing quote`}},
		{"bad items between good ones", "a=1 junk b=2", []Perf{{Label: "a", Value: 1}, {Label: "b", Value: 2}},
			[]string{`"junk": no =`}},
		{"decimal comma", "a=0,5s", nil, []string{`"a=0,5s": unknown unit ",5s" (want s, ms, us, %, B, KB, MB, TB, c or none)`}},
		{"unknown unit", "a=5GB", nil, []string{`"a=5GB": unknown unit "GB" (want s, ms, us, %, B, KB, MB, TB, c or none)`}},
		{"exponent", "a=1e5", nil, []string{`"a=1e5": unknown unit "e5" (want s, ms, us, %, B, KB, MB, TB, c or none)`}},
		{"not a number", "a=abc", nil, []string{`"a=abc": value "abc" is not a number`}},
		{"two points", "a=1.2.3", nil, []string{`"a=1.2.3": value "1.2.3": not a number of [-0-9.]`}},
		{"lone minus", "a=-", nil, []string{`"a=-": value "-": not a number of [-0-9.]`}},
		{"no value", "a= b=;1", nil, []string{`"a=": no value`, `"b=;1": no value`}},
		{"empty label", "=1 ''=2", nil, []string{`"=1": empty label`, `"''=2": empty label`}},
		{"too many fields", "a=1;2;3;4;5;6", nil, []string{`"a=1;2;3;4;5;6": 6 fields after =, want at most 5`}},
		{"bad warn", "a=1;x", nil, []string{`"a=1;x": warn "x" is not a range [@]start:end`}},
		{"bad crit", "a=1;;20:10", nil, []string{`"a=1;;20:10": crit "20:10" is not a range [@]start:end`}},
		{"bad ranges", "a=1;@ b=1;~ c=1;-5 d=1;1:2:3 e=1;5MB", nil, []string{
			`"a=1;@": warn "@" is not a range [@]start:end`, `"b=1;~": warn "~" is not a range [@]start:end`,
			`"c=1;-5": warn "-5" is not a range [@]start:end`, `"d=1;1:2:3": warn "1:2:3" is not a range [@]start:end`,
			`"e=1;5MB": warn "5MB" is not a range [@]start:end`}},
		{"bad min and max", "a=1;;;0MB b=1;;;;x", nil, []string{`"a=1;;;0MB": min "0MB": not a number of [-0-9.]`,
			`"b=1;;;;x": max "x": not a number of [-0-9.]`}},
		{"too big", "a=1" + strings.Repeat("0", 400), nil,
			[]string{fmt.Sprintf("%q: value %q: out of range", "a=1"+strings.Repeat("0", 400), "1"+strings.Repeat("0", 400))}},
		{"unclosed quote", "a=1 'b c=2", []Perf{{Label: "a", Value: 1}}, []string{`"'b c=2": label has no closing quote`}},
		{"junk after quoted label", "'a'b=1 'c' =2 d=3", []Perf{{Label: "d", Value: 3}},
			[]string{`"'a'b=1": no = after the quoted label`, `"'c'": no = after the quoted label`, `"=2": empty label`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, bad := ParsePerf(tc.in)
			if !reflect.DeepEqual(got, tc.want) || !reflect.DeepEqual(bad, tc.bad) {
				t.Errorf("ParsePerf(%q) =\n%+v, %q\nwant\n%+v, %q", tc.in, got, bad, tc.want, tc.bad)
			}
		})
	}
}

func TestPerfString(t *testing.T) {
	for _, tc := range []struct {
		p    Perf
		want string
	}{
		{Perf{Label: "users", Value: 3}, "users=3"},
		{Perf{Label: "/", Value: 2643, Unit: "MB", Warn: "5948", Crit: "5958", Min: fp(0), Max: fp(5968)}, "/=2643MB;5948;5958;0;5968"},
		{Perf{Label: "time", Value: 0.000114, Unit: "s", Min: fp(0), Max: fp(10)}, "time=0.000114s;;;0;10"},
		{Perf{Label: "t", Value: 1, Crit: "@1:2"}, "t=1;;@1:2"},
		{Perf{Label: "it's a b", Undetermined: true, Unit: "%"}, "'it''s a b'=U%"},
		{Perf{Label: "a=b", Value: -2.5, Max: fp(1e21)}, "'a=b'=-2.5;;;;1000000000000000000000"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			if got := tc.p.String(); got != tc.want {
				t.Errorf("%+v.String() = %q, want %q", tc.p, got, tc.want)
			}
			back, bad := ParsePerf(tc.want)
			if len(back) != 1 || len(bad) != 0 || !reflect.DeepEqual(back[0], tc.p) {
				t.Errorf("ParsePerf(%q) = %+v, %q; want %+v", tc.want, back, bad, tc.p)
			}
		})
	}
}
