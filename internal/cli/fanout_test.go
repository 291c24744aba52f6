package cli

import (
	"fmt"
	"math"
	"testing"

	"github.com/smctl/smctl/pkg/config"
	"github.com/smctl/smctl/pkg/vtree"
)

func TestMaxFanout(t *testing.T) {
	tests := []struct {
		limit uint64
		want  int
	}{
		{0, 1},
		{64, 1},
		{130, 1},
		{131, 1},
		{132, 2},
		{256, 64},
		{1024, 448},
		{4096, 1984},
		{1 << 20, (1<<20 - 128) / 2},
		{math.MaxUint64, math.MaxInt32}, // RLIM_INFINITY
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.limit), func(t *testing.T) {
			if got := maxFanout(tt.limit); got != tt.want {
				t.Errorf("maxFanout(%d) = %d, want %d", tt.limit, got, tt.want)
			}
		})
	}
}

func TestFanoutClamp(t *testing.T) {
	tests := []struct {
		name     string
		flag     int
		config   int
		nofile   uint64
		want     int
		warnings string
	}{
		{"config under the limit", 0, 64, 1024, 64, ""},
		{"flag under the limit", 200, 64, 1024, 200, ""},
		{"flag over the limit", 5000, 64, 1024, 448,
			"smctl: fan-out 5000 clamped to 448 by the open-file limit (ulimit -n 1024)\n"},
		{"config over the limit", 0, 3000, 4096, 1984,
			"smctl: fan-out 3000 clamped to 1984 by the open-file limit (ulimit -n 4096)\n"},
		{"tiny limit", 10, 64, 100, 1,
			"smctl: fan-out 10 clamped to 1 by the open-file limit (ulimit -n 100)\n"},
	}
	saved := fileLimit
	defer func() { fileLimit = saved }()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fileLimit = func() uint64 { return tt.nofile }
			g := &globalOptions{Fanout: tt.flag}
			tr := &vtree.Tree{Config: &config.Config{Fanout: tt.config}}
			ios, _, errOut := Test("")
			// Twice: the warning is printed once.
			for range 2 {
				if got := g.fanoutWarn(ios, tr); got != tt.want {
					t.Errorf("fanoutWarn = %d, want %d", got, tt.want)
				}
			}
			if got := g.fanout(tr); got != tt.want {
				t.Errorf("fanout = %d, want %d", got, tt.want)
			}
			if errOut.String() != tt.warnings {
				t.Errorf("stderr = %q, want %q", errOut, tt.warnings)
			}
		})
	}
}
