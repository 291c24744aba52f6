package cli

import (
	"math"
	"runtime/debug"
	"testing"
)

func TestHeapLimit(t *testing.T) {
	tests := []struct {
		width int
		want  int64
	}{
		{0, 66 << 20},
		{1, 66 << 20},
		{64, 192 << 20},
		{1000, 64<<20 + 2000<<20},
	}
	for _, tt := range tests {
		t.Run("", func(t *testing.T) {
			if got := heapLimit(tt.width); got != tt.want {
				t.Errorf("heapLimit(%d) = %d MiB, want %d MiB", tt.width, got>>20, tt.want>>20)
			}
		})
	}
}

func TestLimitHeap(t *testing.T) {
	saved := debug.SetMemoryLimit(-1)
	defer debug.SetMemoryLimit(saved)
	tests := []struct {
		name, env string
		want      int64
	}{
		{"no GOMEMLIMIT: the fan-out's limit", "", 192 << 20},
		{"GOMEMLIMIT wins", "1GiB", math.MaxInt64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("GOMEMLIMIT", tt.env)
			debug.SetMemoryLimit(math.MaxInt64)
			limitHeap(64)
			if got := debug.SetMemoryLimit(-1); got != tt.want {
				t.Errorf("memory limit = %d, want %d", got, tt.want)
			}
		})
	}
}
