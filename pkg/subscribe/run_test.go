package subscribe

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smctl/smctl/internal/testroot"
	"github.com/smctl/smctl/pkg/discover"
	"github.com/smctl/smctl/pkg/vtree"
)

// eventually waits (at most 20 s) for cond.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(20 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("never: %s", what)
}

// newRoot makes a state root as smctl init does, and a function that
// writes to its tree as a command would.
func newRoot(t *testing.T) (string, func(p, v string)) {
	dir := testroot.Init(t, discover.New, testroot.Options{})
	tr, _ := testroot.Open(t, dir, discover.New, testroot.Options{})
	return dir, func(p, v string) {
		t.Helper()
		if _, err := tr.Write(context.Background(), p, []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
}

// opener opens the state root dir's tree, as serve does for each
// subscription.
func opener(dir string) func() (Tree, error) {
	return func() (Tree, error) {
		return vtree.Open(dir, vtree.Options{Drivers: testroot.Drivers(), Extensions: []vtree.Extension{discover.New()}})
	}
}

// TestManager: a subscription written to the tree is run; a change is
// delivered with its number; a failed delivery is retried and what is
// owed survives a stop of the manager, as does a change made while it was
// stopped; a changed spec starts afresh; written empty, it is gone with
// its state and log.
func TestManager(t *testing.T) {
	dir, write := newRoot(t)
	ctx := context.Background()
	read := func(p string) string {
		b, _ := os.ReadFile(filepath.Join(dir, "tree", p))
		return string(b)
	}
	out, fail := filepath.Join(dir, "out"), filepath.Join(dir, "fail")
	readOut := func() string {
		b, _ := os.ReadFile(out)
		return string(b)
	}
	note := "/systems/servers/localhost/note"
	write(note, "a")
	spec := "paths=" + note + " exec=test ! -e " + fail + ` && echo "$SMCTL_SUBSCRIPTION $SMCTL_SEQ $SMCTL_OLD $SMCTL_NEW" >> ` + out
	write("/subscriptions/s", spec)

	var logMu sync.Mutex
	var logged []string
	run := func() (stop func()) {
		m := &Manager{Root: dir, ScanEvery: 20 * time.Millisecond, Open: opener(dir),
			Logf: func(format string, args ...any) {
				logMu.Lock()
				logged = append(logged, format)
				logMu.Unlock()
				if os.Getenv("DEBUGSUB") != "" {
					t.Logf("LOGF "+format, args...)
				}
			}}
		ctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { m.Run(ctx); close(done) }()
		return func() { cancel(); <-done }
	}
	stop := run()
	eventually(t, "active", func() bool { return strings.Contains(read("subscriptions/s"), "# state: active") })
	write(note, "b")
	eventually(t, "delivered", func() bool { return readOut() == "s 1 a b\n" })
	eventually(t, "counted", func() bool {
		return strings.Contains(read("subscriptions/s"), "\n# events: 1, last ") && strings.Contains(read("subscriptions/s"), "\n# deliveries: 1 delivered, 0 failed attempts, 0 pending\n")
	})
	if l := read("subscriptions/s.log"); !strings.HasPrefix(l, "20") {
		t.Errorf("the log starts with %q", l)
	}

	os.WriteFile(fail, nil, 0o644)
	write(note, "c")
	eventually(t, "a failure", func() bool {
		return strings.Contains(read("subscriptions/s"), "# deliveries: 1 delivered, 1 failed attempts, 1 pending; last failure ")
	})
	stop()
	st, err := loadState(dir, "s")
	if err != nil || len(st.Pending) != 1 || st.Pending[0].Event.Seq != 2 || st.Values[note] != "c" {
		t.Fatalf("saved at the stop: %+v, %v", st, err)
	}
	os.Remove(fail)
	write(note, "d") // while nothing runs
	stop = run()
	eventually(t, "both delivered", func() bool { return readOut() == "s 1 a b\ns 2 b c\ns 3 c d\n" })
	eventually(t, "resumed in the log", func() bool {
		l := read("subscriptions/s.log")
		return strings.Contains(l, " resumed, 1 pending\n") && strings.Contains(l, " failed 2 (attempt 1): exec: exit status 1; next try in 1s\n")
	})

	// A new spec: a new baseline, the numbering goes on.
	write("/systems/servers/localhost/other", "x")
	write("/subscriptions/s", spec+"\npaths=/systems/servers/localhost/other")
	eventually(t, "restarted", func() bool { return strings.Contains(read("subscriptions/s.log"), " started: "+spec+" paths=") })
	eventually(t, "active again", func() bool { return strings.Contains(read("subscriptions/s"), "# state: active") })
	write(note, "e")
	eventually(t, "delivered after the change", func() bool { return strings.HasSuffix(readOut(), "s 4 d e\n") })

	write("/subscriptions/s", "")
	eventually(t, "removed", func() bool {
		_, e1 := os.Stat(filepath.Join(dir, "tree/subscriptions/s"))
		_, e2 := os.Stat(filepath.Join(dir, "tree/subscriptions/s.log"))
		_, e3 := os.Stat(statePath(dir, "s"))
		return os.IsNotExist(e1) && os.IsNotExist(e2) && os.IsNotExist(e3)
	})
	stop()
	logMu.Lock()
	defer logMu.Unlock()
	if !strings.Contains(strings.Join(logged, "\n"), "subscription %s removed") {
		t.Errorf("serve's log: %q", logged)
	}
}

// TestRemoveBlank: only a blank file is removed; one written meanwhile
// with a spec (or anything) is kept.
func TestRemoveBlank(t *testing.T) {
	d := t.TempDir()
	root, err := os.OpenRoot(d)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	for name, content := range map[string]string{"blank": " \n", "empty": "", "spec": "paths=/a exec=x\n", "state": "# state\n"} {
		os.WriteFile(filepath.Join(d, name), []byte(content), 0o644)
		err := removeBlank(root, name)
		_, serr := os.Stat(filepath.Join(d, name))
		gone := os.IsNotExist(serr)
		if want := strings.TrimSpace(content) == ""; gone != want || (err == nil) != want {
			t.Errorf("%s: removed %v (%v), want %v", name, gone, err, want)
		}
	}
	if err := removeBlank(root, "missing"); !os.IsNotExist(err) {
		t.Errorf("missing: %v", err)
	}
}
