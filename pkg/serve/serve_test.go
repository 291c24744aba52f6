package serve

import (
	"context"
	"encoding/gob"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smctl/smctl/pkg/sim"
	"github.com/smctl/smctl/pkg/sshx"
	"github.com/smctl/smctl/pkg/status"
)

// serveOn runs a serve on root until cancel; done gets what Serve
// returned.
func serveOn(t *testing.T, root string, cfg Config) (srv *Server, cancel context.CancelFunc, done <-chan error) {
	t.Helper()
	srv, err := Listen(root, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	d := make(chan error, 1)
	go func() { d <- srv.Serve(ctx) }()
	return srv, cancel, d
}

// start runs a serve on a new root; it is stopped at the test's end.
func start(t *testing.T, cfg Config) (*Server, string) {
	t.Helper()
	root := t.TempDir()
	srv, cancel, done := serveOn(t, root, cfg)
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return srv, root
}

func startSim(t *testing.T, n int) *sim.Cluster {
	t.Helper()
	c, err := sim.Start(sim.Options{N: n, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestExecThroughServe: commands sent to serve give what they give run
// here (output, exit status, failures and their status codes), over one
// connection per node that stays open between commands; two verbs at
// once are both answered.
func TestExecThroughServe(t *testing.T) {
	c := startSim(t, 3)
	srv, root := start(t, Config{IdleTimeout: time.Minute})
	cl := Available(root)
	if cl == nil {
		t.Fatal("no client for a running serve")
	}
	opts := sshx.Options{ConfigFiles: []string{c.ConfigFile}}
	local := sshx.NewPool(opts)
	defer local.Close()
	ctx := context.Background()
	for _, cmd := range []string{"hostname", "echo 'a b'; echo err >&2; exit 3"} {
		for _, n := range c.Nodes {
			tg := sshx.Target{Alias: n.Name}
			got, gerr := (&sshx.Transport{Pool: local, Target: tg, Remote: cl}).Exec(ctx, cmd, nil, 1<<20)
			want, werr := (&sshx.Transport{Pool: local, Target: tg}).Exec(ctx, cmd, nil, 1<<20)
			if string(got.Stdout) != string(want.Stdout) || string(got.Stderr) != string(want.Stderr) || got.Exit != want.Exit || (gerr == nil) != (werr == nil) {
				t.Errorf("%s %q through serve: %q %q %d %v; here: %q %q %d %v", n.Name, cmd, got.Stdout, got.Stderr, got.Exit, gerr, want.Stdout, want.Stderr, want.Exit, werr)
			}
		}
	}
	// Past the output cap: the same error, with the same status code.
	tr := &sshx.Transport{Pool: local, Target: sshx.Target{Alias: c.Nodes[0].Name}, Remote: cl}
	if _, err := tr.Exec(ctx, "hostname", nil, 2); !errors.Is(err, status.ErrOutputLimit) {
		t.Errorf("output past the cap through serve: %v, want ErrOutputLimit", err)
	}
	// An unknown node: unreachable, as here.
	bad := &sshx.Transport{Pool: local, Target: sshx.Target{Alias: "127.0.0.1", Port: 1}, Remote: cl}
	if _, err := bad.Exec(ctx, "true", nil, 100); status.Of(err) != status.Unreachable {
		t.Errorf("a closed port through serve: %v (%d), want unreachable", err, status.Of(err))
	}
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if out, err := tr.Exec(ctx, "sleep 0.2; hostname", nil, 100); err != nil || strings.TrimSpace(string(out.Stdout)) != c.Nodes[0].Name {
				t.Errorf("two at once: %q %v", out.Stdout, err)
			}
		}()
	}
	wg.Wait()
	st := srv.Status()
	if st.Open != 3 || st.Served < 10 || st.Failed != 2 || st.InFlight != 0 || st.PID != os.Getpid() {
		t.Errorf("status after 3 nodes, 12 commands, 2 failed: %+v", st)
	}
	if got, err := Ask(ctx, root); err != nil || got.Served != st.Served || got.Open != 3 {
		t.Errorf("Ask = %+v, %v; want %+v", got, err, st)
	}
}

// TestSecondServe: a second serve on the root refuses, naming the first's
// PID; once the first stops, its socket and PID file are gone and a new
// one starts; a socket left by a killed serve is replaced.
func TestSecondServe(t *testing.T) {
	root := t.TempDir()
	srv, err := Listen(root, Config{IdleTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	_, err = Listen(root, Config{IdleTimeout: time.Minute})
	if !errors.Is(err, ErrRunning) || !strings.Contains(err.Error(), "pid "+strconv.Itoa(os.Getpid())) {
		t.Errorf("second serve: %v, want ErrRunning naming pid %d", err, os.Getpid())
	}
	fi, err := os.Lstat(filepath.Join(root, SocketName))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket: %v, %v; want mode 0600", fi, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := srv.Serve(ctx); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{SocketName, PIDName} {
		if _, err := os.Lstat(filepath.Join(root, name)); !os.IsNotExist(err) {
			t.Errorf("%s after serve stopped: %v", name, err)
		}
	}
	// A killed serve leaves its socket: the next one replaces it.
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: filepath.Join(root, SocketName), Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
	srv, err = Listen(root, Config{IdleTimeout: time.Minute})
	if err != nil {
		t.Fatalf("serve after a killed one: %v", err)
	}
	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	srv.Serve(ctx)
	// Anything else by the socket's name is left alone.
	os.WriteFile(filepath.Join(root, SocketName), []byte("x"), 0o600)
	if _, err := Listen(root, Config{IdleTimeout: time.Minute}); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("serve over a regular file named %s: %v", SocketName, err)
	}
}

// TestClientFallback: a client of a serve that is gone (its socket left
// by a kill) runs nothing there and says so once (ErrNoRemote: the
// transport then runs the command itself); a socket open to others is not
// used; a serve that takes a command and dies is not asked again.
func TestClientFallback(t *testing.T) {
	root := t.TempDir()
	sock := filepath.Join(root, SocketName)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
	os.Chmod(sock, 0o600)
	var notices []string
	cl := Available(root)
	cl.Notice = func(m string) { notices = append(notices, m) }
	ctx := context.Background()
	for range 2 {
		if _, err := cl.Exec(ctx, sshx.Options{}, sshx.Target{Alias: "n1"}, "true", nil, 10); !errors.Is(err, sshx.ErrNoRemote) {
			t.Errorf("serve gone: %v, want ErrNoRemote", err)
		}
	}
	if len(notices) != 1 || !strings.Contains(notices[0], "running without it") {
		t.Errorf("notices: %q, want one", notices)
	}
	os.Remove(sock)
	ln, err = net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	os.Chmod(sock, 0o666)
	if _, err := (&Client{Socket: sock}).Exec(ctx, sshx.Options{}, sshx.Target{}, "true", nil, 10); !errors.Is(err, sshx.ErrNoRemote) || !errors.Is(err, status.ErrUntrusted) && !strings.Contains(err.Error(), "open to others") {
		t.Errorf("a socket open to others: %v, want it refused", err)
	}
	os.Chmod(sock, 0o600)
	// A serve that dies before accepting the verb's connection: nothing
	// ran, the verb runs it.
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		var req request
		json.NewDecoder(c).Decode(&req)
		c.Close()
	}()
	if _, err := (&Client{Socket: sock}).Exec(ctx, sshx.Options{}, sshx.Target{}, "true", nil, 10); !errors.Is(err, sshx.ErrNoRemote) {
		t.Errorf("serve lost before its answer to mux: %v, want ErrNoRemote", err)
	}
	// One that dies with the command taken: not run again.
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		dec := json.NewDecoder(c)
		var req request
		dec.Decode(&req)
		ack, _ := json.Marshal(response{})
		c.Write(ack)
		var f muxRequest
		gob.NewDecoder(io.MultiReader(dec.Buffered(), c)).Decode(&f)
		c.Close()
	}()
	if _, err := (&Client{Socket: sock}).Exec(ctx, sshx.Options{}, sshx.Target{}, "true", nil, 10); !errors.Is(err, errServeLost) {
		t.Errorf("serve lost mid-command: %v, want errServeLost", err)
	}
}

// TestIdleTimeout: serve closes a connection unused for idle_timeout; the
// next command dials again.
func TestIdleTimeout(t *testing.T) {
	c := startSim(t, 1)
	srv, root := start(t, Config{IdleTimeout: 200 * time.Millisecond})
	tr := &sshx.Transport{Pool: sshx.NewPool(sshx.Options{ConfigFiles: []string{c.ConfigFile}}), Target: sshx.Target{Alias: c.Nodes[0].Name}, Remote: Available(root)}
	ctx := context.Background()
	if _, err := tr.Exec(ctx, "true", nil, 10); err != nil {
		t.Fatal(err)
	}
	if st := srv.Status(); st.Open != 1 {
		t.Fatalf("after a command: %+v", st)
	}
	deadline := time.Now().Add(5 * time.Second)
	for srv.Status().Open != 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if st := srv.Status(); st.Open != 0 {
		t.Errorf("past idle_timeout: %+v, want no connection open", st)
	}
	if out, err := tr.Exec(ctx, "hostname", nil, 100); err != nil || strings.TrimSpace(string(out.Stdout)) != c.Nodes[0].Name {
		t.Errorf("after the idle close: %q %v", out.Stdout, err)
	}
}

// TestLongRoot: a state root whose socket path a UNIX socket cannot hold
// is refused with a message that says so (bind would say "invalid
// argument"), before anything is made there.
func TestLongRoot(t *testing.T) {
	root := filepath.Join(t.TempDir(), strings.Repeat("r", 120))
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := Listen(root, Config{IdleTimeout: time.Minute})
	if err == nil || !strings.Contains(err.Error(), "shorter path") {
		t.Fatalf("Listen on a long root: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(root, PIDName)); !os.IsNotExist(err) {
		t.Errorf("%s left behind: %v", PIDName, err)
	}
}

// TestFailureThroughServe: a failure through serve has the status code,
// sentinel and message it has here: an untrusted ssh_config is a usage
// error (2), not a failure (1), and is not taken for serve refusing (which
// would run the command here again).
func TestFailureThroughServe(t *testing.T) {
	c := startSim(t, 1)
	_, root := start(t, Config{IdleTimeout: time.Minute})
	b, err := os.ReadFile(c.ConfigFile)
	if err != nil {
		t.Fatal(err)
	}
	open := filepath.Join(t.TempDir(), "open_config")
	os.WriteFile(open, b, 0o600)
	os.Chmod(open, 0o666)
	local := sshx.NewPool(sshx.Options{ConfigFiles: []string{c.ConfigFile}})
	defer local.Close()
	var notices []string
	cl := Available(root)
	cl.Notice = func(m string) { notices = append(notices, m) }
	for _, tg := range []sshx.Target{
		{Alias: c.Nodes[0].Name, ConfigFile: open},
		{Alias: "127.0.0.1", Port: 1},
	} {
		_, werr := (&sshx.Transport{Pool: local, Target: tg}).Exec(context.Background(), "true", nil, 10)
		_, gerr := (&sshx.Transport{Pool: local, Target: tg, Remote: cl}).Exec(context.Background(), "true", nil, 10)
		if werr == nil || gerr == nil || gerr.Error() != werr.Error() || status.Of(gerr) != status.Of(werr) ||
			errors.Is(werr, status.ErrUntrusted) != errors.Is(gerr, status.ErrUntrusted) {
			t.Errorf("%+v: through serve %v (%d), here %v (%d)", tg, gerr, status.Of(gerr), werr, status.Of(werr))
		}
	}
	if len(notices) != 0 {
		t.Errorf("a failure taken for serve refusing: %q", notices)
	}
}
