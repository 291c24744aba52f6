package subscribe

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smctl/smctl/pkg/notify"
)

func TestBackoff(t *testing.T) {
	for n, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 9: 256 * time.Second, 10: 5 * time.Minute, 100: 5 * time.Minute} {
		if got := backoff(n); got != want {
			t.Errorf("backoff(%d) = %s, want %s", n, got, want)
		}
	}
}

// TestStateSaved: a state is saved whole, in a directory and a file only
// serve's user may read, and read back; a missing one is fresh, a
// damaged one an error naming the file.
func TestStateSaved(t *testing.T) {
	root := t.TempDir()
	st, err := loadState(root, "s")
	if err != nil || st.Values == nil || st.Seq != 0 {
		t.Fatalf("fresh state: %+v, %v", st, err)
	}
	at := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	st.Spec, st.Seq, st.Values["/a"] = "paths=/a exec=x", 7, "on"
	st.Pending = []pending{{Event: notify.Event{Path: "/a", Old: "off", New: "on", Seq: 7, Time: at}, Attempts: 2, Next: at, Done: []string{"exec"}}}
	b, _ := jsonOf(st)
	if err := saveState(root, "s", b); err != nil {
		t.Fatal(err)
	}
	got, err := loadState(root, "s")
	if err != nil || got.Seq != 7 || got.Values["/a"] != "on" || len(got.Pending) != 1 || got.Pending[0].Event.New != "on" ||
		got.Pending[0].Attempts != 2 || strings.Join(got.Pending[0].Done, ",") != "exec" {
		t.Errorf("read back: %+v, %v", got, err)
	}
	for p, want := range map[string]os.FileMode{filepath.Join(root, StateDir): 0o700, statePath(root, "s"): 0o600} {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: %v, %v; want mode %v", p, fi.Mode(), err, want)
		}
	}
	if es, _ := os.ReadDir(filepath.Join(root, StateDir)); len(es) != 1 {
		t.Errorf("left behind: %v", es)
	}
	os.WriteFile(statePath(root, "s"), []byte("{"), 0o600)
	if _, err := loadState(root, "s"); err == nil || !strings.Contains(err.Error(), "s.json") {
		t.Errorf("damaged state: %v", err)
	}
}

// TestRender: the state lines serve writes below a spec, in each state.
func TestRender(t *testing.T) {
	at := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	until := at.Add(time.Hour)
	st := &state{Since: at, Events: 3, Delivered: 2, Failures: 1, Err: "webhook x: 503\nmore", ErrAt: at,
		Last: &notify.Event{Time: at, Path: "/a", Old: "off", New: "on"}, Pending: make([]pending, 1)}
	spec := Spec{Until: until}
	want := "paths=/a exec=x\n# state: active since 2026-11-22T12:00:00Z, until 2026-11-22T13:00:00Z\n" +
		"# events: 3, last 2026-11-22T12:00:00Z /a: off -> on\n" +
		"# deliveries: 2 delivered, 1 failed attempts, 1 pending; last failure 2026-11-22T12:00:00Z: webhook x: 503; more\n"
	if got := st.render(spec, "paths=/a exec=x", true, ""); got != want {
		t.Errorf("render:\n%s\nwant:\n%s", got, want)
	}
	if got := st.summary("s", spec, true, ""); got != "s: active, until 2026-11-22T13:00:00Z; 3 events, 2 delivered, 1 pending; last failure 2026-11-22T12:00:00Z: webhook x: 503; more" {
		t.Errorf("summary: %q", got)
	}
	for _, tc := range []struct {
		st             *state
		ready          bool
		watchErr, line string
		summary        string
	}{
		{&state{}, false, "", "# state: starting, no expiry", "s: starting, no expiry; 0 events, 0 delivered, 0 pending"},
		{&state{Since: at}, true, "no file", "# state: waiting since 2026-11-22T12:00:00Z: no file", "s: waiting: no file; 0 events"},
		{&state{Expired: true}, true, "", "# state: expired 2026-11-22T13:00:00Z", "s: expired 2026-11-22T13:00:00Z; 0 events"},
	} {
		sp := spec
		if !tc.st.Expired {
			sp = Spec{}
		}
		if got := tc.st.render(sp, "x", tc.ready, tc.watchErr); !strings.Contains(got, tc.line+"\n") || !strings.Contains(got, "\n# events: 0\n") {
			t.Errorf("render: %q, want %q", got, tc.line)
		}
		if got := tc.st.summary("s", sp, tc.ready, tc.watchErr); !strings.HasPrefix(got, tc.summary) {
			t.Errorf("summary: %q, want %q", got, tc.summary)
		}
	}
}

func jsonOf(st *state) ([]byte, error) { return json.Marshal(st) }
