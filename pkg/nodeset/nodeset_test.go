package nodeset

import (
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
		if got := Fold(strings.Fields(tt.in)); got != tt.want {
			t.Errorf("Fold(%q) = %q, want %q", tt.in, got, tt.want)
		}
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
		{"x", 1, true},
		{"x,y", 1, false},
	} {
		if got := AtMost(tc.s, tc.limit); got != tc.want {
			t.Errorf("AtMost(%q, %d) = %v, want %v", tc.s, tc.limit, got, tc.want)
		}
		if !tc.want {
			continue
		}
		if names, err := Expand(tc.s); err == nil && len(names) > tc.limit {
			t.Errorf("AtMost(%q, %d) is not an upper bound: %d names", tc.s, tc.limit, len(names))
		}
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
