package config

import (
	"errors"
	"io/fs"
	"testing"
	"testing/fstest"
	"time"
)

// TestStale: each caching model's answer, and that the content is looked
// at only when the model needs it.
func TestStale(t *testing.T) {
	now := time.Now()
	file := func(size int, age time.Duration) func() (fs.FileInfo, error) {
		return func() (fs.FileInfo, error) {
			m := fstest.MapFS{"f": {Data: make([]byte, size), ModTime: now.Add(-age)}}
			return fs.Stat(m, "f")
		}
	}
	missing := func() (fs.FileInfo, error) { return nil, fs.ErrNotExist }
	never := func() (fs.FileInfo, error) { return nil, errors.New("looked at") }
	for _, tt := range []struct {
		name  string
		model string
		ttl   time.Duration
		stat  func() (fs.FileInfo, error)
		stale bool
	}{
		{"refresh", Refresh, 0, never, true},
		{"unknown model", "sometimes", time.Hour, never, true},
		{"cached, content", Cached, 0, file(3, time.Hour), false},
		{"cached, empty", Cached, 0, file(0, 0), true},
		{"cached, missing", Cached, 0, missing, true},
		{"ttl, young", TTL, time.Minute, file(3, time.Second), false},
		{"ttl, old", TTL, time.Minute, file(3, time.Hour), true},
		{"ttl, missing", TTL, time.Minute, missing, true},
		{"ttl 0, from the future", TTL, 0, never, true},
		{"periodic, young: a read takes its period as a ttl", Periodic, time.Minute, file(3, time.Second), false},
		{"periodic, old", Periodic, time.Minute, file(3, time.Hour), true},
	} {
		if got := Stale(tt.model, tt.ttl, tt.stat); got != tt.stale {
			t.Errorf("%s: stale = %v, want %v", tt.name, got, tt.stale)
		}
	}
}
