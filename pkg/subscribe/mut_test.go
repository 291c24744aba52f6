package subscribe

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smctl/smctl/internal/testroot"
	"github.com/smctl/smctl/pkg/discover"
	"github.com/smctl/smctl/pkg/notify"
)

// TestParseBounds: the smallest and largest values each key takes.
func TestParseBounds(t *testing.T) {
	for _, in := range []string{
		"paths=/a every=100ms exec=x", "paths=/a for=1 exec=x", "paths=/a for=1000 exec=x",
	} {
		if _, err := Parse(in); err != nil {
			t.Errorf("Parse(%q): %v", in, err)
		}
	}
	if !ValidName(strings.Repeat("a", 200)) {
		t.Error("a name of 200 characters refused")
	}
	// The edges of the letters and digits, and their neighbours.
	for _, name := range []string{"a", "z", "A", "Z", "0", "9"} {
		if !ValidName("x" + name) {
			t.Errorf("%q refused", "x"+name)
		}
	}
	for _, name := range []string{"`", "{", "@", "[", "/", ":"} {
		if ValidName("x" + name) {
			t.Errorf("%q taken", "x"+name)
		}
	}
}

// TestDeliverOnce: an event delivered to the command but not the webhook
// is tried again at the webhook only: the command does not run twice.
func TestDeliverOnce(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			http.Error(w, "down", http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	out := filepath.Join(t.TempDir(), "out")
	s := &sub{spec: Spec{Exec: "echo $SMCTL_SEQ >> " + out, Webhook: srv.URL}}
	p := pending{Event: notify.Event{Path: "/a", Seq: 7, Subscription: "s"}}
	done, err := s.deliver(context.Background(), p)
	if err == nil || !strings.Contains(err.Error(), "503") || strings.Join(done, ",") != "exec" {
		t.Fatalf("first try: %v, %v", done, err)
	}
	p.Done = done
	if done, err = s.deliver(context.Background(), p); err != nil || strings.Join(done, ",") != "exec,webhook" {
		t.Fatalf("second try: %v, %v", done, err)
	}
	if b, _ := os.ReadFile(out); string(b) != "7\n" {
		t.Errorf("the command ran for %q, want once", b)
	}
	// Only a webhook: no command runs.
	s = &sub{spec: Spec{Webhook: srv.URL}}
	if done, err = s.deliver(context.Background(), pending{}); err != nil || strings.Join(done, ",") != "webhook" {
		t.Errorf("webhook only: %v, %v", done, err)
	}
}

// TestRunExecError: a failed command's error has its last line of
// output, at most 200 bytes of it.
func TestRunExecError(t *testing.T) {
	ctx := context.Background()
	if err := runExec(ctx, "echo first; echo last; exit 3", notify.Event{}); err == nil || err.Error() != "exec: exit status 3: last" {
		t.Errorf("got %v", err)
	}
	long := strings.Repeat("x", 300)
	if err := runExec(ctx, "echo "+long+"; exit 1", notify.Event{}); err == nil || err.Error() != "exec: exit status 1: "+long[:200] {
		t.Errorf("got %v", err)
	}
	if err := runExec(ctx, "exit 2", notify.Event{}); err == nil || err.Error() != "exec: exit status 2" {
		t.Errorf("got %v", err)
	}
}

// TestScan: what the manager takes for a subscription in /subscriptions:
// not a directory, a log or a bad name; a refused or blank one does not
// keep the next from running; a missing directory is made, owner-only
// writable; a normal removal logs no error.
func TestScan(t *testing.T) {
	dir := testroot.Init(t, discover.New, testroot.Options{})
	subs := filepath.Join(dir, "tree", "subscriptions")
	if err := os.Remove(subs); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var logged []string
	m := &Manager{Root: dir, ScanEvery: time.Hour, Open: opener(dir),
		Logf: func(format string, args ...any) {
			mu.Lock()
			logged = append(logged, strings.TrimSpace(strings.ReplaceAll(format, "%v", "")))
			mu.Unlock()
		}}
	m.subs, m.refused = map[string]*sub{}, map[string]string{}
	ctx := context.Background()
	m.scan(ctx)
	if fi, err := os.Stat(subs); err != nil || fi.Mode().Perm()&0o022 != 0 {
		t.Fatalf("the directory made: %v, %v", fi, err)
	}
	os.Mkdir(filepath.Join(subs, "adir"), 0o755)
	os.WriteFile(filepath.Join(subs, "x.log"), []byte("paths=/ exec=x\n"), 0o644)
	os.WriteFile(filepath.Join(subs, "a1"), []byte("paths=/systems exec=true\n"), 0o666) // others may write it: refused
	os.Chmod(filepath.Join(subs, "a1"), 0o666)
	os.WriteFile(filepath.Join(subs, "a2"), []byte("\n"), 0o644) // blank: removed
	os.WriteFile(filepath.Join(subs, "b"), []byte("paths=/systems/servers/localhost/address exec=true\n"), 0o644)
	m.scan(ctx)
	st := strings.Join(m.Status(), "\n")
	if !strings.Contains(st, "a1: not run: ") || !strings.Contains(st, "b: ") || strings.Contains(st, "adir") || strings.Contains(st, "x.log") {
		t.Errorf("status:\n%s", st)
	}
	if _, err := os.Stat(filepath.Join(subs, "a2")); !os.IsNotExist(err) {
		t.Errorf("the blank subscription is still there: %v", err)
	}
	m.stop("b")
	mu.Lock()
	defer mu.Unlock()
	for _, l := range logged {
		if strings.HasPrefix(l, "subscriptions:") || strings.Contains(l, "removing") {
			t.Errorf("logged %q", l)
		}
	}
}

// TestRescan: a device discovered after a subscription started is
// watched from the next listing of its files on.
func TestRescan(t *testing.T) {
	defer func(d time.Duration) { rescan = d }(rescan)
	rescan = 200 * time.Millisecond
	dir, write := newRoot(t)
	ctx := context.Background()
	out := filepath.Join(dir, "out")
	write("/systems/servers/localhost/note", "a")
	write("/subscriptions/s", "paths=/systems/servers/*/note exec=echo $SMCTL_PATH $SMCTL_NEW >> "+out)
	m := &Manager{Root: dir, ScanEvery: 20 * time.Millisecond, Logf: t.Logf, Open: opener(dir)}
	mctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { m.Run(mctx); close(done) }()
	defer func() { cancel(); <-done }()
	read := func(p string) string {
		b, _ := os.ReadFile(p)
		return string(b)
	}
	eventually(t, "active", func() bool {
		t.Log(m.Status())
		return strings.Contains(read(filepath.Join(dir, "tree/subscriptions/s")), "# state: active")
	})
	write("/discover_master", "server n2 transport=local\n")
	write("/systems/servers/n2/note", "x")
	time.Sleep(600 * time.Millisecond) // a listing or two: x is n2's baseline
	write("/systems/servers/n2/note", "y")
	eventually(t, "n2's change delivered", func() bool { return read(out) == "/systems/servers/n2/note y\n" })
}
