package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestSee: a new value is reported once it held for the reads asked, a
// value that flaps back first is not, and the baseline moves with each
// report.
func TestSee(t *testing.T) {
	f := &file{value: "low"}
	var got []string
	for _, v := range []string{"high", "low", "high", "high", "low", "high", "high", "high", "high"} {
		if e, ok := f.see(v, 0, 3); ok {
			got = append(got, e.Old+"->"+e.New)
		}
	}
	if strings.Join(got, " ") != "low->high" {
		t.Errorf("for 3: %q, want one low->high", got)
	}
	// Two new values in a row: the count starts again with the second.
	f = &file{value: "low"}
	for _, v := range []string{"mid", "high", "high"} {
		if e, ok := f.see(v, 0, 3); ok {
			t.Errorf("for 3, after mid, high, high: reported %+v", e)
		}
	}
	if e, ok := f.see("high", 0, 3); !ok || e.Old != "low" || e.New != "high" {
		t.Errorf("for 3, the third high: %+v %v", e, ok)
	}
	f = &file{value: "a"}
	if e, ok := f.see("b", 2, 1); !ok || e.Old != "a" || e.New != "b" || e.RC != 2 {
		t.Errorf("for 1: %+v %v", e, ok)
	}
	if _, ok := f.see("b", 2, 1); ok {
		t.Error("the same value again was a change")
	}
}

// TestPost: an event is posted as JSON, tried again after a failure, and
// a receiver that keeps failing is an error naming it.
func TestPost(t *testing.T) {
	var calls atomic.Int32
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		body, _ = io.ReadAll(r.Body)
	}))
	defer srv.Close()
	e := Event{Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Path: "/a/b", Old: "on", New: "off", RC: 0}
	if err := Post(context.Background(), srv.URL, e); err != nil || calls.Load() != 2 {
		t.Fatalf("Post: %v after %d calls", err, calls.Load())
	}
	var back Event
	if err := json.Unmarshal(body, &back); err != nil || back != e {
		t.Errorf("posted %s, want %+v", body, e)
	}
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no", http.StatusInternalServerError)
	}))
	defer bad.Close()
	if err := Post(context.Background(), bad.URL, e); err == nil || !strings.Contains(err.Error(), "500") || !strings.Contains(err.Error(), "/a/b") {
		t.Errorf("a failing receiver: %v", err)
	}
}

// TestExec: the command gets the event in its environment.
func TestExec(t *testing.T) {
	var out bytes.Buffer
	e := Event{Path: "/x/y", Old: "1", New: "2", RC: 3}
	if err := Exec(context.Background(), `echo "$SMCTL_PATH $SMCTL_OLD $SMCTL_NEW $SMCTL_RC"`, e, &out, io.Discard); err != nil || out.String() != "/x/y 1 2 3\n" {
		t.Errorf("Exec: %q, %v", out.String(), err)
	}
	if err := Exec(context.Background(), "exit 2", e, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "/x/y") {
		t.Errorf("a failing command: %v", err)
	}
}
