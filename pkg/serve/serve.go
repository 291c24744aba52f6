// Package serve is smctl serve: one process per state root that keeps the
// SSH connections of its owner's verbs warm between commands, as an
// OpenSSH ControlMaster does. It listens on a UNIX socket in the root
// (SocketName), mode 0600, and answers only processes of its own user
// (SO_PEERCRED): it acts with its owner's credentials, so nobody else may
// reach it. A verb sends it one command per connection, with the SSH
// options and the target the verb would have used itself; serve runs it
// over a connection it keeps (host keys checked as without serve) and
// returns the output. A stream to a UNIX socket on a node (libvirtd's)
// goes over serve's connection too (forward.go). The verbs keep doing
// their own tree access with their own permissions.
//
// The library never prints: the CLI's serve verb reports what Run tells it.
package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/smctl/smctl/pkg/sshx"
	"github.com/smctl/smctl/pkg/status"
	"github.com/smctl/smctl/pkg/transport"
)

// The files of a running serve in its state root.
const (
	SocketName = "serve.sock"
	PIDName    = "serve.pid" // locked while serve runs; holds its PID
)

// maxSocketPath is the longest path a UNIX socket may have (sun_path
// holds 108 bytes, the last a NUL).
const maxSocketPath = 107

// Config is what smctl.yaml's serve: section sets.
type Config struct {
	// IdleTimeout closes a connection unused for this long.
	IdleTimeout time.Duration
}

// Server is a running serve.
type Server struct {
	root    string
	ln      *net.UnixListener
	pidFile *os.File
	started time.Time

	mu         sync.Mutex
	cfg        Config
	pools      map[string]*sshx.Pool // by the options the verbs use
	refresh    Refreshed             // the last pass of the periodic refresh
	refreshAt  time.Time
	refreshErr string
	discovery  Discovered // the last automatic discovery
	subs       func() []string
	ha         func() []string

	tasks    []func(context.Context) // run by Serve beside the requests (Go)
	wg       sync.WaitGroup
	inFlight atomic.Int64
	served   atomic.Int64
	failed   atomic.Int64
	refused  atomic.Int64
}

// ErrRunning is wrapped by Listen's error when another serve runs on the
// root; the message names its PID.
var ErrRunning = errors.New("smctl serve already runs")

// Listen takes the root's serve lock and listens on its socket. A second
// serve on the same root fails, naming the running one's PID; a socket
// left by a serve that was killed is replaced.
func Listen(root string, cfg Config) (*Server, error) {
	sock := filepath.Join(root, SocketName)
	if len(sock) > maxSocketPath {
		return nil, fmt.Errorf("serve: the socket path %s is %d bytes, more than the %d a UNIX socket's may be: use a state root with a shorter path", sock, len(sock), maxSocketPath)
	}
	pidPath := filepath.Join(root, PIDName)
	f, err := os.OpenFile(pidPath, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		b := make([]byte, 32)
		n, _ := f.ReadAt(b, 0)
		f.Close()
		pid := strings.TrimSpace(string(b[:n]))
		if err == syscall.EWOULDBLOCK {
			return nil, fmt.Errorf("%w on %s (pid %s)", ErrRunning, root, pid)
		}
		return nil, fmt.Errorf("serve: lock %s: %w", pidPath, err)
	}
	if err := writePID(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("serve: %s: %w", pidPath, err)
	}
	// The lock is held: a socket here is a killed serve's. Anything else
	// by that name is not removed.
	if fi, err := os.Lstat(sock); err == nil {
		if fi.Mode().Type() != fs.ModeSocket {
			f.Close()
			return nil, fmt.Errorf("serve: %s exists and is not a socket", sock)
		}
		os.Remove(sock)
	}
	old := syscall.Umask(0o177) // the socket is made 0600: its owner's only
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	syscall.Umask(old)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("serve: %w", err)
	}
	ln.SetUnlinkOnClose(true)
	return &Server{root: root, ln: ln, pidFile: f, started: time.Now(), cfg: cfg, pools: map[string]*sshx.Pool{}}, nil
}

func writePID(f *os.File) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return err
}

// Socket is the path of the socket serve listens on.
func (s *Server) Socket() string { return s.ln.Addr().String() }

// SetConfig replaces the configuration (SIGHUP's reload of smctl.yaml).
func (s *Server) SetConfig(cfg Config) {
	s.mu.Lock()
	s.cfg = cfg
	s.mu.Unlock()
}

// Go adds work Serve runs beside the requests until its context ends (the
// periodic refresh); call it before Serve.
func (s *Server) Go(f func(ctx context.Context)) { s.tasks = append(s.tasks, f) }

// Serve answers requests until ctx ends, then stops listening and waits
// for the commands in flight and the work of Go to finish (their callers
// may still stop them). It closes the connections, the socket and the
// lock on return.
func (s *Server) Serve(ctx context.Context) error {
	defer s.close()
	go s.tend(ctx)
	for _, f := range s.tasks {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			f(ctx)
		}()
	}
	go func() {
		<-ctx.Done()
		s.ln.Close()
	}()
	for {
		c, err := s.ln.AcceptUnix()
		if err != nil {
			if ctx.Err() != nil {
				s.wg.Wait()
				return nil
			}
			if errors.Is(err, net.ErrClosed) {
				s.wg.Wait()
				return err
			}
			time.Sleep(10 * time.Millisecond) // out of descriptors: let some close
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.handle(ctx, c)
		}()
	}
}

// tend closes connections idle past the timeout and checks the others
// with a keepalive, every quarter of the timeout (at most a minute).
func (s *Server) tend(ctx context.Context) {
	for {
		s.mu.Lock()
		every := min(s.cfg.IdleTimeout/4, time.Minute)
		pools := make([]*sshx.Pool, 0, len(s.pools))
		for _, p := range s.pools {
			pools = append(pools, p)
		}
		idle := s.cfg.IdleTimeout
		s.mu.Unlock()
		for _, p := range pools {
			p.Tend(idle)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(max(every, 100*time.Millisecond)):
		}
	}
}

func (s *Server) close() {
	s.ln.Close()
	s.mu.Lock()
	for _, p := range s.pools {
		p.Close()
	}
	s.mu.Unlock()
	// Removed while locked: a serve starting now fails on the lock or
	// makes a new file.
	os.Remove(s.pidFile.Name())
	s.pidFile.Close()
}

// pool is the pool of connections made with opts, which serve keeps open
// until idle_timeout rather than to a count.
func (s *Server) pool(opts sshx.Options) *sshx.Pool {
	opts.MaxIdle = 1 << 20
	key := fmt.Sprintf("%q|%d|%d|%q", opts.ConfigFiles, opts.ConnectTimeout, opts.Retries, opts.StrictHostKey)
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.pools[key]
	if p == nil {
		p = sshx.NewPool(opts)
		s.pools[key] = p
	}
	return p
}

// peerUID is the user of the process at the other end of c.
func peerUID(c *net.UnixConn) (int, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return -1, err
	}
	var cred *unix.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return -1, err
	}
	if cerr != nil {
		return -1, cerr
	}
	return int(cred.Uid), nil
}

// requestTimeout bounds the wait for a connection's request.
const requestTimeout = 10 * time.Second

// request is one line a verb sends.
type request struct {
	Op      string // "status", "mux" or "forward"; "exec" and "subsystem" in mux frames
	Opts    sshx.Options
	Target  sshx.Target
	Command string
	Path    string // the UNIX socket on the node a "forward" opens a stream to (forward.go)
	Stdin   []byte
	Max     int64
	Stream  bool // send the output as it comes too (smctl run)
	Pty     bool // run it on a pseudo-terminal (smctl run -t)
}

// response is serve's answer to an exec.
type response struct {
	Out  transport.Output
	Kind string // "" for none; "refused" (serve ran nothing), else errKinds' kinds or "failed"
	Code int    // the failure's status code (status.Of), kept whatever its kind
	Msg  string
}

// errKinds are the sentinels an exec's failure may wrap, which the verb's
// error wraps again, in the order they are looked for.
var errKinds = []struct {
	kind     string
	sentinel error
}{
	{"output-limit", status.ErrOutputLimit},
	{"untrusted", status.ErrUntrusted},
	{"usage", status.ErrUsage},
	{"unreachable", status.ErrUnreachable},
	{"timeout", status.ErrTimeout},
	{"interrupted", status.ErrInterrupted},
}

// answer is the response carrying err: its kind, its code, its message.
func answer(out transport.Output, err error) response {
	r := response{Out: out}
	if err == nil {
		return r
	}
	r.Kind, r.Code, r.Msg = "failed", int(status.Of(err)), err.Error()
	for _, k := range errKinds {
		if errors.Is(err, k.sentinel) {
			r.Kind = k.kind
			break
		}
	}
	return r
}

// failure is the error a response carries, as the verb would have had it:
// the same message, sentinel and status code.
func (r response) failure() error {
	err := errors.New(r.Msg)
	for _, k := range errKinds {
		if k.kind == r.Kind {
			err = status.Mark(err, k.sentinel)
		}
	}
	return status.New(status.Code(r.Code), err)
}

func (s *Server) handle(ctx context.Context, c *net.UnixConn) {
	defer c.Close()
	enc := json.NewEncoder(c)
	if uid, err := peerUID(c); err != nil || uid != os.Geteuid() {
		s.refused.Add(1)
		_ = enc.Encode(response{Kind: "refused", Msg: fmt.Sprintf("smctl serve on %s answers only its own user (uid %d)", s.root, os.Geteuid())})
		return
	}
	dec := json.NewDecoder(c)
	var req request
	_ = c.SetReadDeadline(time.Now().Add(requestTimeout)) // one that sends nothing holds nothing
	if err := dec.Decode(&req); err != nil {
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	switch req.Op {
	case "status":
		_ = enc.Encode(s.Status())
	case "mux":
		ack, _ := json.Marshal(response{}) // accepted: frames follow, after no newline
		if _, err := c.Write(ack); err != nil {
			return
		}
		s.serveMux(ctx, c, io.MultiReader(dec.Buffered(), c))
	case "forward":
		s.serveForward(ctx, c, io.MultiReader(dec.Buffered(), c), req)
	default:
		_ = enc.Encode(response{Kind: "refused", Msg: fmt.Sprintf("unknown request %q", req.Op)})
	}
}

// Exec implements sshx.Remote in serve's own process: the periodic
// refresh runs its commands over the connections serve keeps.
func (s *Server) Exec(ctx context.Context, opts sshx.Options, t sshx.Target, command string, stdin []byte, maxOut int64) (transport.Output, error) {
	s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	out, err := (&sshx.Transport{Pool: s.pool(opts), Target: t}).Exec(ctx, command, stdin, maxOut)
	s.served.Add(1)
	if err != nil {
		s.failed.Add(1)
	}
	return out, err
}
