package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestParseStraceC(t *testing.T) {
	tests := []struct {
		name, in string
		want     map[string]int // nil: an error
	}{
		{"strace 6", `% time     seconds  usecs/call     calls    errors syscall
------ ----------- ----------- --------- --------- ------------------
 69.48    7.762737        1215      6385       598 futex
 12.99    1.450826          87     16607           nanosleep
  0.00    0.000000           0         1         1 access
------ ----------- ----------- --------- --------- ------------------
100.00   11.172002          78    143140     18351 total
`, map[string]int{"futex": 6385, "nanosleep": 16607, "access": 1, "total": 143140}},
		{"no usecs/call on the total line", `% time     seconds  usecs/call     calls    errors syscall
------ ----------- ----------- --------- --------- ----------------
100.00    0.000012           6         2           read
------ ----------- ----------- --------- --------- ----------------
100.00    0.000012                     2           total
`, map[string]int{"read": 2, "total": 2}},
		{"no summary", "strace: exec: No such file or directory\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := filepath.Join(t.TempDir(), "strace.txt")
			if err := os.WriteFile(f, []byte(tt.in), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := parseStraceC(f)
			if tt.want == nil {
				if err == nil {
					t.Fatalf("got %v, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s: got %d, want %d", k, got[k], v)
				}
			}
		})
	}
}
