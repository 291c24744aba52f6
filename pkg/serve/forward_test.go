package serve

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smctl/smctl/internal/testsshd"
	"github.com/smctl/smctl/pkg/sshx"
	"github.com/smctl/smctl/pkg/status"
	"github.com/smctl/smctl/pkg/transport"
)

// startSSHD runs a real OpenSSH sshd for the node u1 (this machine); it is
// stopped at the test's end.
func startSSHD(t *testing.T) *testsshd.Server {
	t.Helper()
	if !testsshd.Available() {
		if os.Getenv("SMCTL_TEST_REQUIRE") == "1" {
			t.Fatal("sshd is not installed, which SMCTL_TEST_REQUIRE=1 makes required")
		}
		t.Skip("sshd is not installed")
	}
	s, err := testsshd.Start([]string{"u1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop() })
	return s
}

// echoServer listens on a UNIX socket that the test's login on the node
// may reach (the node is this machine); on each connection it greets with
// "ready\n", then answers each line with "echo LINE", and closes after
// "bye". Every connection's end is sent on ended.
func echoServer(t *testing.T) (sock string, ended <-chan struct{}) {
	t.Helper()
	dir, err := os.MkdirTemp("", "smctl-fwd-") // t.TempDir's parent is 0700
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	sock = filepath.Join(dir, "echo.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(sock, 0o666) // the login may be another user
	ch := make(chan struct{}, 16)
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer func() { c.Close(); ch <- struct{}{} }()
				c.Write([]byte("ready\n"))
				br := bufio.NewReader(c)
				for {
					line, err := br.ReadString('\n')
					if err != nil {
						return
					}
					c.Write([]byte("echo " + line))
					if line == "bye\n" {
						return
					}
				}
			})
		}
	})
	t.Cleanup(func() {
		l.Close()
		wg.Wait()
		os.RemoveAll(dir)
	})
	return sock, ch
}

// roundTrip sends line and checks that the echo comes back.
func roundTrip(t *testing.T, c net.Conn, br *bufio.Reader, line string) {
	t.Helper()
	if _, err := c.Write([]byte(line + "\n")); err != nil {
		t.Fatalf("write %q: %v", line, err)
	}
	if got, err := br.ReadString('\n'); err != nil || got != "echo "+line+"\n" {
		t.Fatalf("after %q read %q, %v", line, got, err)
	}
}

// dialEcho opens a stream to sock through tr and reads its greeting. The
// stream is closed after 30 s, so that a stream left open by a failure
// fails the test rather than hangs it.
func dialEcho(t *testing.T, tr *sshx.Transport, sock string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := transport.DialUnix(context.Background(), tr, sock)
	if err != nil {
		t.Fatal(err)
	}
	watchdog := time.AfterFunc(30*time.Second, func() { c.Close() })
	t.Cleanup(func() { watchdog.Stop() })
	br := bufio.NewReader(c)
	if got, err := br.ReadString('\n'); err != nil || got != "ready\n" {
		c.Close()
		t.Fatalf("greeting %q, %v", got, err)
	}
	return c, br
}

// waitFor waits until cond holds, failing the test after 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for i := 0; !cond(); i++ {
		if i > 1000 {
			t.Fatalf("still not so after 10 s: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitEnded waits for the echo server to see a connection end.
func waitEnded(t *testing.T, ended <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ended:
	case <-time.After(10 * time.Second):
		t.Fatalf("the socket's side of the stream still open 10 s after %s", what)
	}
}

// tendAll runs serve's idle upkeep on its pools at once with the timeout
// d and returns how many connections it closed.
func tendAll(srv *Server, d time.Duration) int {
	srv.mu.Lock()
	var pools []*sshx.Pool
	for _, p := range srv.pools {
		pools = append(pools, p)
	}
	srv.mu.Unlock()
	n := 0
	for _, p := range pools {
		n += p.Tend(d)
	}
	return n
}

// TestForwardThroughServe: a verb's stream to a UNIX socket on a node
// (a real sshd's) goes over serve's connection, not its own; it counts in
// serve's Status while open, keeps its connection from being closed as
// idle, and ends on the socket's side when the verb closes it and on the
// verb's side when the socket closes. A socket that is not there, or a
// path that is not absolute, fails as without serve.
func TestForwardThroughServe(t *testing.T) {
	sshd := startSSHD(t)
	sock, ended := echoServer(t)
	srv, root := start(t, Config{IdleTimeout: time.Minute})
	cl := Available(root)
	var notices []string
	cl.Notice = func(m string) { notices = append(notices, m) }
	opts := sshx.Options{ConfigFiles: []string{sshd.ConfigFile}}
	local := sshx.NewPool(opts)
	defer local.Close()
	target := sshx.Target{Alias: "u1"}
	tr := &sshx.Transport{Pool: local, Target: target, Remote: cl}

	c, br := dialEcho(t, tr, sock)
	roundTrip(t, c, br, "hello")
	if open, _ := local.Stats(); open != 0 {
		t.Errorf("the verb's own pool has %d connections open: the stream did not go through serve", open)
	}
	if st := srv.Status(); st.InFlight != 1 || st.Open != 1 || st.Idle != 0 {
		t.Errorf("status with a stream open: %+v, want 1 in flight on 1 connection in use", st)
	}
	// Past any idle timeout, the connection carrying the stream is kept.
	if n := tendAll(srv, 0); n != 0 {
		t.Errorf("the idle upkeep closed %d connections carrying an open stream", n)
	}
	roundTrip(t, c, br, "still there")
	c.Close()
	waitEnded(t, ended, "the verb closed the stream")
	waitFor(t, "serve counts the stream closed", func() bool { return srv.Status().InFlight == 0 })
	if st := srv.Status(); st.Served != 1 || st.Failed != 0 || st.Idle != 1 {
		t.Errorf("status after the stream closed: %+v, want 1 served, the connection idle", st)
	}
	if n := tendAll(srv, 0); n != 1 {
		t.Errorf("the idle upkeep closed %d connections once the stream closed, want 1", n)
	}

	// The socket's side closes: the verb reads the end.
	c, br = dialEcho(t, tr, sock)
	roundTrip(t, c, br, "bye")
	if b, err := br.ReadByte(); err != io.EOF {
		t.Errorf("after the socket closed read %q, %v; want EOF", b, err)
	}
	c.Close()
	waitEnded(t, ended, "the socket closed")
	waitFor(t, "serve counts the stream closed", func() bool { return srv.Status().InFlight == 0 })

	// A socket that is not there: the error names it and the node, as
	// without serve.
	missing := filepath.Join(filepath.Dir(sock), "nothere.sock")
	_, gerr := transport.DialUnix(context.Background(), tr, missing)
	if gerr == nil || !strings.Contains(gerr.Error(), missing) || !strings.Contains(gerr.Error(), "u1") || errors.Is(gerr, sshx.ErrNoRemote) {
		t.Errorf("a socket that is not there, through serve: %v; want an error naming %s and u1", gerr, missing)
	}
	if st := srv.Status(); st.Failed != 1 {
		t.Errorf("status after a failed stream: %+v, want 1 failed", st)
	}
	if open, _ := local.Stats(); open != 0 {
		t.Errorf("a failure through serve was tried again on the verb's own connection")
	}
	_, werr := transport.DialUnix(context.Background(), &sshx.Transport{Pool: local, Target: target}, missing)
	if werr == nil || gerr == nil || gerr.Error() != werr.Error() || status.Of(gerr) != status.Of(werr) {
		t.Errorf("a socket that is not there: through serve %v (%d), here %v (%d)", gerr, status.Of(gerr), werr, status.Of(werr))
	}
	// Serve checks the path itself, whatever its client does.
	if _, err := cl.DialUnix(context.Background(), opts, target, "run/echo.sock"); err == nil || status.Of(err) != status.Usage || !strings.Contains(err.Error(), "run/echo.sock") {
		t.Errorf("a relative path sent to serve: %v (%d), want a usage error naming it", err, status.Of(err))
	}
	if len(notices) != 0 {
		t.Errorf("failures taken for serve not reachable: %q", notices)
	}
}

// TestForwardInProcess: in serve's own process (its refresh), a transport
// whose Remote is the server opens streams over the server's connections,
// counted the same way.
func TestForwardInProcess(t *testing.T) {
	sshd := startSSHD(t)
	sock, ended := echoServer(t)
	srv, _ := start(t, Config{IdleTimeout: time.Minute})
	local := sshx.NewPool(sshx.Options{ConfigFiles: []string{sshd.ConfigFile}})
	defer local.Close()
	tr := &sshx.Transport{Pool: local, Target: sshx.Target{Alias: "u1"}, Remote: srv}
	c, br := dialEcho(t, tr, sock)
	roundTrip(t, c, br, "in process")
	if st := srv.Status(); st.InFlight != 1 || st.Open != 1 || st.Idle != 0 {
		t.Errorf("status with a stream open: %+v", st)
	}
	if open, _ := local.Stats(); open != 0 {
		t.Errorf("the stream went over the transport's own pool (%d open)", open)
	}
	c.Close()
	c.Close() // counted once
	waitEnded(t, ended, "the stream was closed")
	if st := srv.Status(); st.InFlight != 0 || st.Served != 1 || st.Idle != 1 {
		t.Errorf("status after the stream closed: %+v", st)
	}
}

// TestForwardServeStops: serve stopping closes the streams open through
// it and then stops; the verb's next stream, serve gone, goes over the
// verb's own connection, and the verb is told once that serve is not
// used.
func TestForwardServeStops(t *testing.T) {
	sshd := startSSHD(t)
	sock, ended := echoServer(t)
	root := t.TempDir()
	srv, cancel, done := serveOn(t, root, Config{IdleTimeout: time.Minute})
	cl := Available(root)
	var notices []string
	cl.Notice = func(m string) { notices = append(notices, m) }
	local := sshx.NewPool(sshx.Options{ConfigFiles: []string{sshd.ConfigFile}})
	defer local.Close()
	tr := &sshx.Transport{Pool: local, Target: sshx.Target{Alias: "u1"}, Remote: cl}
	c, br := dialEcho(t, tr, sock)
	roundTrip(t, c, br, "before")
	cancel()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if b, err := br.ReadByte(); err != io.EOF {
		t.Errorf("a stream open when serve stopped: read %q, %v; want EOF (serve closed it)", b, err)
	}
	c.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve still runs 10 s after it was stopped with a stream open")
	}
	waitEnded(t, ended, "serve stopped")
	if st := srv.Status(); st.InFlight != 0 || st.Served != 1 {
		t.Errorf("status after serve stopped: %+v", st)
	}
	for i := range 2 {
		c, br = dialEcho(t, tr, sock)
		roundTrip(t, c, br, "without serve")
		c.Close()
		if open, _ := local.Stats(); open != 1 {
			t.Errorf("stream %d without serve: the verb's pool has %d connections, want its own 1", i, open)
		}
	}
	if len(notices) != 1 || !strings.Contains(notices[0], "running without it") {
		t.Errorf("notices: %q, want one", notices)
	}
}

// fakeServe listens on root's socket as a serve would and answers each
// connection's request with answer(req).
func fakeServe(t *testing.T, answer func(c net.Conn, req request)) string {
	t.Helper()
	root := t.TempDir()
	ln, err := net.Listen("unix", filepath.Join(root, SocketName))
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(filepath.Join(root, SocketName), 0o600) // the client uses no other
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				var req request
				if json.NewDecoder(c).Decode(&req) == nil {
					answer(c, req)
				}
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	return root
}

// TestForwardOldServe: a serve older than forwarding refuses the request
// as unknown; the verb opens the stream over its own connection.
func TestForwardOldServe(t *testing.T) {
	sshd := startSSHD(t)
	sock, _ := echoServer(t)
	root := fakeServe(t, func(c net.Conn, req request) {
		// What an older serve's handle answers a request it does not know.
		json.NewEncoder(c).Encode(response{Kind: "refused", Msg: `unknown request "` + req.Op + `"`})
	})
	cl := Available(root)
	var notices []string
	cl.Notice = func(m string) { notices = append(notices, m) }
	local := sshx.NewPool(sshx.Options{ConfigFiles: []string{sshd.ConfigFile}})
	defer local.Close()
	tr := &sshx.Transport{Pool: local, Target: sshx.Target{Alias: "u1"}, Remote: cl}
	c, br := dialEcho(t, tr, sock)
	roundTrip(t, c, br, "own connection")
	c.Close()
	if open, _ := local.Stats(); open != 1 {
		t.Errorf("the verb's pool has %d connections, want its own 1", open)
	}
	if len(notices) != 1 || !strings.Contains(notices[0], `unknown request "forward"`) {
		t.Errorf("notices: %q", notices)
	}
}

// TestForwardProtocol: the request carries the verb's options, target and
// path; bytes serve sends right behind its answer (the socket's greeting,
// read with the answer) are the stream's first; serve closing before its
// answer opens nothing, and the verb opens the stream itself.
func TestForwardProtocol(t *testing.T) {
	opts := sshx.Options{ConfigFiles: []string{"/etc/x/ssh_config"}, Retries: 2}
	target := sshx.Target{Alias: "n7", Port: 2222, User: "u"}
	got := make(chan request, 1)
	root := fakeServe(t, func(c net.Conn, req request) {
		got <- req
		c.Write([]byte(`{}greeting` + "\n"))
		io.Copy(c, c)
	})
	c, err := Available(root).DialUnix(context.Background(), opts, target, "/run/x.sock")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	req := <-got
	if req.Op != "forward" || req.Path != "/run/x.sock" || req.Target.Alias != "n7" || req.Target.Port != 2222 || req.Opts.Retries != 2 || len(req.Opts.ConfigFiles) != 1 {
		t.Errorf("request %+v", req)
	}
	br := bufio.NewReader(c)
	if line, err := br.ReadString('\n'); err != nil || line != "greeting\n" {
		t.Errorf("first read %q, %v; want the greeting", line, err)
	}
	c.Write([]byte("ping\n"))
	if line, err := br.ReadString('\n'); err != nil || line != "ping\n" {
		t.Errorf("echo %q, %v", line, err)
	}

	lost := fakeServe(t, func(c net.Conn, req request) {})
	if _, err := Available(lost).DialUnix(context.Background(), opts, target, "/run/x.sock"); !errors.Is(err, sshx.ErrNoRemote) {
		t.Errorf("serve closing before its answer: %v, want ErrNoRemote", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	silent := fakeServe(t, func(c net.Conn, req request) { io.Copy(io.Discard, c) })
	if _, err := Available(silent).DialUnix(ctx, opts, target, "/run/x.sock"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("no answer before the deadline: %v, want the context's error", err)
	}
}

// TestForwardStopping: a stream asked of a serve that is stopping is
// refused, so that the verb opens it itself, rather than failed as
// interrupted.
func TestForwardStopping(t *testing.T) {
	srv, err := Listen(t.TempDir(), Config{IdleTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	defer srv.Serve(ctx) // stops at once, and closes what Listen opened
	verb, conn := net.Pipe()
	defer verb.Close()
	go func() {
		defer conn.Close()
		srv.serveForward(ctx, conn, conn, request{Op: "forward", Target: sshx.Target{Alias: "127.0.0.1", Port: 1}, Path: "/run/x.sock"})
	}()
	var resp response
	if err := json.NewDecoder(verb).Decode(&resp); err != nil || resp.Kind != "refused" || !strings.Contains(resp.Msg, "stopping") {
		t.Errorf("answer of a stopping serve: %+v, %v; want a refusal", resp, err)
	}
}
