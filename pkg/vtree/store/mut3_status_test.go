package store

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMut3RanBound: a status records what ran whole up to maxRan bytes
// and cuts it there beyond, marking the cut.
func TestMut3RanBound(t *testing.T) {
	for _, n := range []int{maxRan - 1, maxRan, maxRan + 1} {
		ran := strings.Repeat("a", n)
		want := "0\nran: " + ran + "\n"
		if n > maxRan {
			want = "0\nran: " + ran[:maxRan] + "...\n"
		}
		if got := string(Status{Ran: ran}.Bytes()); got != want {
			t.Errorf("ran of %d bytes recorded as %d bytes, want %d", n, len(got), len(want))
		}
	}
}

// TestMut3StaleNeedsContent: a status that says stale makes the last run
// stale only when there is content it kept: empty content, as a missing
// file, is not stale; one byte is.
func TestMut3StaleNeedsContent(t *testing.T) {
	s, dir := newStore(t)
	if err := os.Mkdir(filepath.Join(dir, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	status := "4 gone\n" + staleLine
	if err := os.WriteFile(filepath.Join(dir, "d", "c.status"), []byte(status), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		content string
		stale   bool
	}{{"", false}, {"x", true}} {
		if err := os.WriteFile(filepath.Join(dir, "d", "c"), []byte(tc.content), 0o644); err != nil {
			t.Fatal(err)
		}
		if l, ok := s.Last("d/c"); !ok || l.Stale != tc.stale || l.RC != 4 {
			t.Errorf("Last with %d bytes of content: %+v, %v; want stale %v", len(tc.content), l, ok, tc.stale)
		}
		if b, l, ok, err := s.ReadResult("d/c", 100); err != nil || !ok || string(b) != tc.content || l.Stale != tc.stale {
			t.Errorf("ReadResult with %d bytes of content: %q %+v, %v, %v; want stale %v", len(tc.content), b, l, ok, err, tc.stale)
		}
	}
}

// TestMut3StatusKept: a run whose status is the last one's leaves the
// status file alone (same inode, same time: when the run ended is then
// the content's time); a run with another status replaces it.
func TestMut3StatusKept(t *testing.T) {
	s, dir := newStore(t)
	if err := os.Mkdir(filepath.Join(dir, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "d", "c.status")
	past := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	stat := func() syscall.Stat_t {
		t.Helper()
		var st syscall.Stat_t
		if err := syscall.Stat(p, &st); err != nil {
			t.Fatal(err)
		}
		return st
	}
	for i, tc := range []struct {
		st      Status
		changed bool
	}{
		{Status{Ran: "true"}, true}, // the first status
		{Status{Ran: "true"}, false},
		{Status{Ran: "true"}, false},
		{Status{RC: 1, Message: "failed", Ran: "false"}, true},
		{Status{RC: 1, Message: "failed", Ran: "false"}, false},
	} {
		var before syscall.Stat_t
		if i > 0 {
			if err := os.Chtimes(p, past, past); err != nil {
				t.Fatal(err)
			}
			before = stat()
		}
		if err := s.StoreResult("d/c", Result{Content: []byte("v\n"), Status: tc.st}); err != nil {
			t.Fatal(err)
		}
		after := stat()
		if b, _ := os.ReadFile(p); string(b) != string(tc.st.Bytes()) {
			t.Errorf("run %d: status %q, want %q", i, b, tc.st.Bytes())
		}
		if i == 0 {
			continue
		}
		changed := after.Ino != before.Ino || after.Mtim != before.Mtim
		if changed != tc.changed {
			t.Errorf("run %d (%+v): status file replaced %v, want %v", i, tc.st, changed, tc.changed)
		}
		if l, ok := s.Last("d/c"); !ok || l.At.Before(time.Now().Add(-time.Hour)) {
			t.Errorf("run %d: the last run ended %v, want now (the content's time)", i, l.At)
		}
	}
}
