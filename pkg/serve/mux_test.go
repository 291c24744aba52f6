package serve

import (
	"bytes"
	"context"
	"errors"
	"io"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smctl/smctl/pkg/sshx"
	"github.com/smctl/smctl/pkg/transport"
)

// TestMuxCancel: a verb's command interrupted (its context ends) is
// stopped on the node by serve, the verb gets its context's error at
// once, and the connection goes on carrying the verb's other commands.
func TestMuxCancel(t *testing.T) {
	c := startSim(t, 1)
	srv, root := start(t, Config{IdleTimeout: time.Minute})
	cl := Available(root)
	opts := sshx.Options{ConfigFiles: []string{c.ConfigFile}}
	target := sshx.Target{Alias: c.Nodes[0].Name}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	began := time.Now()
	if _, err := cl.Exec(ctx, opts, target, "sleep 30", nil, 1<<20); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("interrupted: %v", err)
	}
	if d := time.Since(began); d > 5*time.Second {
		t.Errorf("interrupted after %s", d)
	}
	for i := 0; srv.Status().InFlight != 0; i++ {
		if i > 500 {
			t.Fatalf("serve still runs the interrupted command: %+v", srv.Status())
		}
		time.Sleep(10 * time.Millisecond)
	}
	out, err := cl.Exec(context.Background(), opts, target, "hostname", nil, 1<<20)
	if err != nil || string(out.Stdout) != c.Nodes[0].Name+"\n" {
		t.Errorf("next command on the same connection: %q, %v", out.Stdout, err)
	}
}

// TestMuxServeStops: serve stopping while a verb's connection is open and
// a command runs lets the command finish and answer, and then stops,
// without waiting for the verb to close its connection; the verb's next
// command finds no serve and runs itself.
func TestMuxServeStops(t *testing.T) {
	c := startSim(t, 1)
	root := t.TempDir()
	srv, cancel, done := serveOn(t, root, Config{IdleTimeout: time.Minute})
	cl := Available(root)
	opts := sshx.Options{ConfigFiles: []string{c.ConfigFile}}
	target := sshx.Target{Alias: c.Nodes[0].Name}
	if _, err := cl.Exec(context.Background(), opts, target, "true", nil, 10); err != nil {
		t.Fatal(err)
	}
	answered := make(chan error, 1)
	go func() {
		out, err := cl.Exec(context.Background(), opts, target, "sleep 1; echo done", nil, 1<<20)
		if err == nil && string(out.Stdout) != "done\n" {
			err = errors.New("output " + string(out.Stdout))
		}
		answered <- err
	}()
	for srv.Status().InFlight == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-answered; err != nil {
		t.Errorf("the command running when serve stopped: %v", err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve waits for the verb's idle connection")
	}
	if _, err := cl.Exec(context.Background(), opts, target, "true", nil, 10); !errors.Is(err, sshx.ErrNoRemote) {
		t.Errorf("after serve stopped: %v, want ErrNoRemote", err)
	}
}

// TestPoolKey: every field of sshx.Options is part of serve's pool key:
// connections made with other options are never shared.
func TestPoolKey(t *testing.T) {
	if n := reflect.TypeOf(sshx.Options{}).NumField(); n != 5 {
		t.Fatalf("sshx.Options has %d fields: put the new ones in Server.pool's key and sameOptions, then here", n)
	}
	srv := &Server{pools: map[string]*sshx.Pool{}}
	base := sshx.Options{ConfigFiles: []string{"a"}, ConnectTimeout: time.Second, Retries: 1, StrictHostKey: "yes"}
	p := srv.pool(base)
	for _, o := range []sshx.Options{
		{ConfigFiles: []string{"b"}, ConnectTimeout: time.Second, Retries: 1, StrictHostKey: "yes"},
		{ConfigFiles: []string{"a", "b"}, ConnectTimeout: time.Second, Retries: 1, StrictHostKey: "yes"},
		{ConfigFiles: []string{"a"}, ConnectTimeout: 2 * time.Second, Retries: 1, StrictHostKey: "yes"},
		{ConfigFiles: []string{"a"}, ConnectTimeout: time.Second, Retries: 2, StrictHostKey: "yes"},
		{ConfigFiles: []string{"a"}, ConnectTimeout: time.Second, Retries: 1, StrictHostKey: "no"},
	} {
		if srv.pool(o) == p || sameOptions(o, base) {
			t.Errorf("%+v shares the pool of %+v", o, base)
		}
	}
	same := base
	same.MaxIdle = 3 // serve keeps its own bound
	if srv.pool(same) != p || !sameOptions(same, base) {
		t.Error("MaxIdle made another pool")
	}
}

// lockedBuffer is a bytes.Buffer safe for a writer and a reader.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestMuxStream: a streamed command's output (smctl run) reaches the
// caller's writers through serve's frames, and its answer still holds it
// all. (The simulator prints a command's output when it ends: that the
// frames come while it runs is seen with the real sshd, in
// testscripts/serve.txtar.)
func TestMuxStream(t *testing.T) {
	c := startSim(t, 1)
	_, root := start(t, Config{IdleTimeout: time.Minute})
	cl := Available(root)
	var stdout, stderr lockedBuffer
	ctx := transport.WithStream(context.Background(), transport.Stream{Stdout: &stdout, Stderr: &stderr})
	out, err := cl.Exec(ctx, sshx.Options{ConfigFiles: []string{c.ConfigFile}}, sshx.Target{Alias: c.Nodes[0].Name},
		"echo first; echo second", nil, 1<<20)
	if err != nil || string(out.Stdout) != "first\nsecond\n" {
		t.Fatalf("answer: %q %q %v", out.Stdout, out.Stderr, err)
	}
	if stdout.String() != "first\nsecond\n" || stderr.String() != "" {
		t.Errorf("streamed: %q %q", stdout.String(), stderr.String())
	}
}

// TestMuxSubsystem: smctl cp's SFTP runs over serve's connection: a file
// written and read back through it, the verb's own pool never dialling;
// a subsystem the node does not have fails as it would without serve.
func TestMuxSubsystem(t *testing.T) {
	c := startSim(t, 1)
	srv, root := start(t, Config{IdleTimeout: time.Minute})
	ctx := context.Background()
	pool := sshx.NewPool(sshx.Options{ConfigFiles: []string{c.ConfigFile}})
	defer pool.Close()
	tr := &sshx.Transport{Pool: pool, Target: sshx.Target{Alias: c.Nodes[0].Name}, Remote: Available(root)}
	f, err := tr.OpenFiles(ctx)
	if err != nil {
		t.Fatal(err)
	}
	body := bytes.Repeat([]byte("0123456789abcdef"), 10000) // 160 KB: several frames each way
	w, err := f.CreateNew("/tmp/through-serve")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(body); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := f.Open("/tmp/through-serve")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil || !bytes.Equal(got, body) {
		t.Errorf("read back %d bytes, %v; want %d", len(got), err, len(body))
	}
	if err := f.Close(); err != nil {
		t.Error(err)
	}
	if open, _ := pool.Stats(); open != 0 {
		t.Errorf("the verb's own pool opened %d connections", open)
	}
	for i := 0; srv.Status().Served != 1 || srv.Status().InFlight != 0; i++ {
		if i > 500 {
			t.Fatalf("serve's count after the copy: %+v", srv.Status())
		}
		time.Sleep(10 * time.Millisecond)
	}
	_, _, _, err = Available(root).Subsystem(ctx, sshx.Options{ConfigFiles: []string{c.ConfigFile}}, sshx.Target{Alias: c.Nodes[0].Name}, "nosuch")
	if err == nil || errors.Is(err, sshx.ErrNoRemote) || !strings.Contains(err.Error(), "refused the nosuch subsystem") {
		t.Errorf("a subsystem the node does not have: %v", err)
	}
}
