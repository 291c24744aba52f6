package nodeset

import (
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestExpand(t *testing.T) {
	tests := []struct {
		in   string
		want string // space separated
		err  string
	}{
		{in: "n1", want: "n1"},
		{in: "10.10.2.15", want: "10.10.2.15"},
		{in: "n[1-3]", want: "n1 n2 n3"},
		{in: "n[001-003]", want: "n001 n002 n003"},
		{in: "n[08-11]", want: "n08 n09 n10 n11"},
		{in: "n[1-2,5]", want: "n1 n2 n5"},
		{in: "a,b[1-2]", want: "a b1 b2"},
		{in: "r[1-2]n[1-2]", want: "r1n1 r1n2 r2n1 r2n2"},
		{in: "n[1-5/2]", want: "n1 n3 n5"},
		{in: "127.0.0.[1-3]", want: "127.0.0.1 127.0.0.2 127.0.0.3"},
		{in: "n1,n1", want: "n1"},
		{in: "n[3-1]", err: "end before start"},
		{in: "n[1-", err: "unbalanced '['"},
		{in: "n1]", err: "unbalanced ']'"},
		{in: "n[]", err: "empty range"},
		{in: "n[a-b]", err: "bad range"},
		{in: "", err: "empty"},
		{in: "n[1-99999999]", err: "more than"},
		// Empty patterns are skipped, not the end of the list.
		{in: "a,,b", want: "a b"},
		{in: "a, ,b[1-2]", want: "a b1 b2"},
		// A name may start with its bracket.
		{in: "[1-2]x", want: "1x 2x"},
		{in: "[1-2]", want: "1 2"},
		// Zero is a number like any other; a lone 0 pads nothing.
		{in: "n[0-2]", want: "n0 n1 n2"},
		{in: "n[0,10]", want: "n0 n10"},
		// Steps: 1 is every number, a step wider than the range keeps its start.
		{in: "n[1-3/1]", want: "n1 n2 n3"},
		{in: "n[0-1000/2000]", want: "n0"},
		{in: "n[2-10/4]", want: "n2 n6 n10"},
		{in: "n[1-3/0]", err: "bad step"},
		{in: "n[1-3/-1]", err: "bad step"},
		{in: "n[/x]", err: "bad step"},
		{in: "n[1-3/x]", err: "bad step"},
		// Bounds are plain decimal numbers that fit an int.
		{in: "n[99999999999999999999]", err: "bad range"},
		{in: "n[1-99999999999999999999]", err: "bad range"},
		{in: "n[99999999999999999999-9223372036854775807]", err: "bad range"},
		{in: "n[+1-3]", err: "bad range"},
		{in: "n[1-+3]", err: "bad range"},
		{in: "n[+2]", err: "bad range"},
		{in: "n[1-3x]", err: "bad range"},
		{in: "n[1x-3]", err: "bad range"},
		{in: "n[-3]", err: "bad range"},
		// The range too wide is named.
		{in: "n[1-3,0-1048576]", err: `range "0-1048576": more than 1048576 nodes`},
		{in: "n[1-2]x]", err: "unbalanced ']'"},
		{in: "x]n[1-2]", err: "unbalanced ']'"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Expand(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Expand(%q) error = %v, want %q", tt.in, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if want := strings.Fields(tt.want); !reflect.DeepEqual(got, want) {
				t.Errorf("Expand(%q) = %v, want %v", tt.in, got, want)
			}
		})
	}
}

func TestFold(t *testing.T) {
	tests := []struct{ in, want string }{
		{"n1 n1 n2", "n[1-2]"},                 // a repeated name early does not end the fold
		{"1a 2a", "[1-2]a"},                    // digits at the start of a name
		{"n1a n2a", "n[1-2]a"},                 // a suffix after the number
		{"n1-eth0 n2-eth0", "n1-eth0,n2-eth0"}, // only the last number varies
		{"n99999999999999999999 n1 n2", "n99999999999999999999,n[1-2]"},
		{"n0 n10", "n[0,10]"}, // a lone 0 is not padded
		{"n9 n10", "n[9-10]"}, // a 2-digit number is not padded
		{"a01 a02 b10", "a[01-02],b10"},
		{"a01 a02 a10b", "a10b,a[01-02]"},
		{"a01 a02 a10 b1", "a[01-02,10],b1"},
		{"n1 n2 n3", "n[1-3]"},
		{"n0001 n0002 n0042 n0050", "n[0001-0002,0042,0050]"},
		{"n7", "n7"},
		{"n007", "n007"}, // one zero-padded name keeps its padding
		{"n007 n008", "n[007-008]"},
		{"node-01", "node-01"},
		{"a b n1", "a,b,n1"},
		{"n1 n3 n2 n2", "n[1-3]"},
		{"r1n1 r1n2 r2n1", "r1n[1-2],r2n1"},
		{"n08 n09 n10", "n[08-10]"},
		{"127.0.0.1 127.0.0.2", "127.0.0.[1-2]"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := Fold(strings.Fields(tt.in)); got != tt.want {
				t.Errorf("Fold(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// An empty name is a name like any other: kept (sorted first), not a
// panic.
func TestFoldEmptyName(t *testing.T) {
	for _, tt := range []struct {
		in   []string
		want string
	}{
		{[]string{""}, ""},
		{[]string{"n2", "", "n1"}, ",n[1-2]"},
	} {
		t.Run(strings.Join(tt.in, " "), func(t *testing.T) {
			if got := Fold(tt.in); got != tt.want {
				t.Errorf("Fold(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestAtMost(t *testing.T) {
	for _, tc := range []struct {
		s     string
		limit int
		want  bool
	}{
		{"n[1-10]", 10, true},
		{"n[1-10]", 9, false},
		{"a,b[1-5]", 6, true},
		{"a,b[1-5]", 5, false},
		{"r[1-2]n[1-3]", 6, true},
		{"r[1-2]n[1-3]", 5, false},
		{"n[1-3,7,10-11]", 6, true},
		{"n[1-3,7,10-11]", 5, false},
		{"n[1-1000000]", 10000, false},
		{"n[9223372036854775806-9223372036854775807]", 5, true},
		{"n[0-9223372036854775807]", 1000, false},
		{"n[0-9223372036854775807]", math.MaxInt, false}, // 2^63 names: one more than MaxInt, no wrap
		{"n[1-9223372036854775807]", math.MaxInt, true},
		// Counts near the largest int do not wrap around to small ones.
		{"a[1-4294967296]b[1-4294967296]", math.MaxInt, false},                    // 2^64 names
		{"a[1-5000000000000000000],b[1-5000000000000000000]", math.MaxInt, false}, // 10^19
		{"n[1-5000000000000000000,1-5000000000000000000]", math.MaxInt, false},
		{"a[1-3037000499]b[1-3037000499]", math.MaxInt, true}, // 3037000499^2 < 2^63
		{"n[1-4600000000000000000,0-4700000000000000000]", math.MaxInt / 2, false},
		{"a[1-2147483648]b[1-4]c[1-2147483648]", 1 << 31, false}, // 2^64 names
		{"x", 1, true},
		{"x,y", 1, false},
		{"[1-10]", 5, false}, // a bracket at the start counts
		{"[1-10]", 10, true},
		{"n[x,1-5]", 5, false}, // a malformed range counts one, the rest still count
		{"n[x,1-5]", 6, true},
		{"n[x-20]", 5, true}, // malformed: one name, whatever its end
		{"n[0-99999999999999999999]", 5, true},
		{"n[5-1]", 1, true},   // end before start: one name
		{"n[1-5/2]", 5, true}, // steps are ignored: 5 is an upper bound
		{"n[1-5/2]", 4, false},
	} {
		t.Run(fmt.Sprintf("%s/%d", tc.s, tc.limit), func(t *testing.T) {
			if got := AtMost(tc.s, tc.limit); got != tc.want {
				t.Errorf("AtMost(%q, %d) = %v, want %v", tc.s, tc.limit, got, tc.want)
			}
			if !tc.want {
				return
			}
			if names, err := Expand(tc.s); err == nil && len(names) > tc.limit {
				t.Errorf("AtMost(%q, %d) is not an upper bound: %d names", tc.s, tc.limit, len(names))
			}
		})
	}
}

// A cross product of more than MaxNodes names is refused before they are
// built: a typo costs no memory.
func TestExpandCrossProductRefusedEarly(t *testing.T) {
	const s = "r[1-1024]n[1-1025]" // 1024 * 1025 > MaxNodes
	var err error
	allocs := testing.AllocsPerRun(1, func() { _, err = Expand(s) })
	if err == nil || !strings.Contains(err.Error(), "more than") {
		t.Fatalf("Expand(%q) = %v, want more than %d nodes", s, err, MaxNodes)
	}
	if allocs > 100_000 {
		t.Errorf("Expand(%q) made %.0f allocations before refusing it: its names were built", s, allocs)
	}
}

// Ranges as wide as int are refused, never looped over.
func TestExpandHugeRange(t *testing.T) {
	for _, s := range []string{"n[0-9223372036854775807]", "n[1-9223372036854775807/1]", "n[0-1048576]"} {
		if _, err := Expand(s); err == nil || !strings.Contains(err.Error(), "more than") {
			t.Errorf("Expand(%q) = %v", s, err)
		}
	}
	if names, err := Expand("n[1-1048576]"); err != nil || len(names) != MaxNodes {
		t.Errorf("Expand of exactly MaxNodes: %d, %v", len(names), err)
	}
}
