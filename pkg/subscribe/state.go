package subscribe

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/smctl/smctl/pkg/notify"
)

// StateDir is where serve keeps what its subscriptions owe, in the state
// root: one NAME.json each, readable by serve's user only.
const StateDir = "serve.d"

// state is what a subscription keeps across a restart of serve: the
// values it last reported (its baseline), the events not yet delivered,
// and its counters. It is saved with the values and the events of one
// moment together: an event lost with a crash was not in the saved
// baseline either, and is found again from it on restart.
type state struct {
	Spec      string            `json:"spec"`
	Since     time.Time         `json:"since"`
	Values    map[string]string `json:"values"`
	Seq       uint64            `json:"seq"`
	Pending   []pending         `json:"pending"`
	Events    uint64            `json:"events"`
	Delivered uint64            `json:"delivered"`
	Failures  uint64            `json:"failures"` // failed delivery attempts
	Last      *notify.Event     `json:"last,omitempty"`
	Err       string            `json:"error,omitempty"` // the last failure
	ErrAt     time.Time         `json:"error_at,omitzero"`
	Expired   bool              `json:"expired,omitempty"`
}

// pending is an event owed to the subscriber, and its next try.
type pending struct {
	Event    notify.Event `json:"event"`
	Attempts int          `json:"attempts"`
	Next     time.Time    `json:"next"`
	Done     []string     `json:"done,omitempty"` // exec, webhook: delivered there already
}

// statePath is NAME's state file in the state root.
func statePath(root, name string) string { return filepath.Join(root, StateDir, name+".json") }

// loadState reads NAME's state; a missing one is a fresh state.
func loadState(root, name string) (*state, error) {
	b, err := os.ReadFile(statePath(root, name))
	st := &state{}
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, err
	default:
		if err := json.Unmarshal(b, st); err != nil {
			return nil, fmt.Errorf("%s: %w", statePath(root, name), err)
		}
	}
	if st.Values == nil {
		st.Values = map[string]string{}
	}
	return st, nil
}

// saveState writes a state (b, its JSON) atomically: a new file, synced,
// renamed over the old one.
func saveState(root, name string, b []byte) error {
	dir := filepath.Join(root, StateDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+name+".*")
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), statePath(root, name))
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// render is the subscription file as serve writes it: the spec, then its
// state as "# " lines.
func (st *state) render(spec Spec, text string, ready bool, watchErr string) string {
	var b strings.Builder
	b.WriteString(text + "\n")
	switch {
	case st.Expired:
		fmt.Fprintf(&b, "# state: expired %s\n", stamp(spec.Until))
	case watchErr != "":
		fmt.Fprintf(&b, "# state: waiting since %s: %s\n", stamp(st.Since), oneLine(watchErr))
	case !ready:
		fmt.Fprintf(&b, "# state: starting, %s\n", expiry(spec))
	default:
		fmt.Fprintf(&b, "# state: active since %s, %s\n", stamp(st.Since), expiry(spec))
	}
	fmt.Fprintf(&b, "# events: %d", st.Events)
	if e := st.Last; e != nil {
		fmt.Fprintf(&b, ", last %s %s: %s -> %s", stamp(e.Time), e.Path, e.Old, e.New)
	}
	fmt.Fprintf(&b, "\n# deliveries: %d delivered, %d failed attempts, %d pending", st.Delivered, st.Failures, len(st.Pending))
	if st.Err != "" {
		fmt.Fprintf(&b, "; last failure %s: %s", stamp(st.ErrAt), oneLine(st.Err))
	}
	b.WriteString("\n")
	return b.String()
}

// summary is the subscription's line in smctl serve --status.
func (st *state) summary(name string, spec Spec, ready bool, watchErr string) string {
	what := "active, " + expiry(spec)
	switch {
	case st.Expired:
		what = "expired " + stamp(spec.Until)
	case watchErr != "":
		what = "waiting: " + oneLine(watchErr)
	case !ready:
		what = "starting, " + expiry(spec)
	}
	s := fmt.Sprintf("%s: %s; %d events, %d delivered, %d pending", name, what, st.Events, st.Delivered, len(st.Pending))
	if st.Err != "" {
		s += "; last failure " + stamp(st.ErrAt) + ": " + oneLine(st.Err)
	}
	return s
}

func expiry(spec Spec) string {
	if spec.Until.IsZero() {
		return "no expiry"
	}
	return "until " + stamp(spec.Until)
}

func stamp(t time.Time) string { return t.Format(time.RFC3339) }

func oneLine(s string) string { return strings.ReplaceAll(strings.TrimSpace(s), "\n", "; ") }
