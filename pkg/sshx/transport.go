package sshx

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"path"
	"sort"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/crypto/ssh"

	"github.com/smctl/smctl/pkg/status"
	"github.com/smctl/smctl/pkg/transport"
)

// Transport reaches one node through the pool.
type Transport struct {
	Pool   *Pool
	Target Target
	// Remote, when set, runs commands over the connections another
	// process keeps (smctl serve), with Pool's options, and opens
	// subsystems (RemotePipe) and streams to UNIX sockets (UnixForwarder)
	// there when it can; a command is run here, on Pool, when the other
	// process cannot be reached (ErrNoRemote).
	Remote Remote
}

// Remote runs a command over another process's connections, as
// Transport.Exec runs it here, streaming its output to the writers of
// the transport.Stream ctx carries, on a pty if it asks for one.
type Remote interface {
	Exec(ctx context.Context, opts Options, t Target, command string, stdin []byte, maxOut int64) (transport.Output, error)
}

// UnixForwarder is the optional ability of a Remote to open a stream to
// the UNIX socket path on a node over its connections, as
// Transport.DialUnix opens it here (the same checks, the same errors).
// An error wrapping ErrNoRemote opened nothing: the stream is opened here
// instead. Closing the stream ends it on both sides.
type UnixForwarder interface {
	DialUnix(ctx context.Context, opts Options, t Target, path string) (net.Conn, error)
}

// ErrNoRemote is wrapped by a Remote's error when it ran or opened
// nothing: the command runs here instead.
var ErrNoRemote = errors.New("no remote connections")

var _ transport.Transport = (*Transport)(nil)

// ErrOutputLimit is returned when a command printed more than allowed:
// status.ErrOutputLimit, the one sentinel every transport wraps.
var ErrOutputLimit = status.ErrOutputLimit

// IsLocal reports whether err is a shortage on this machine, not a failure
// of the node it was reaching: too many open files in the process or the
// system (EMFILE, ENFILE), or no memory or buffer space (ENOMEM, ENOBUFS).
// Such an error says nothing of the node, which must not be reported
// unreachable for it. It is status.IsLocal, the one definition the status
// codes (status.Local) follow.
func IsLocal(err error) bool { return status.IsLocal(err) }

// reachErr is the error of a failure to reach the node or to run a command
// on it (dial, handshake, authentication, host key, session, a connection
// lost before the exit status): a local error says so and what to do
// about it; an error status.Of does not classify yet is the node's, and
// wraps status.ErrUnreachable (ssh's 255), its message unchanged. Errors
// already classified (a cancelled or expired context, an untrusted input)
// are returned as they are.
func reachErr(err error) error {
	switch {
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE):
		return fmt.Errorf("local error, not the node: %w (raise the open-file limit, ulimit -n)", err)
	case IsLocal(err):
		return fmt.Errorf("local error, not the node: %w", err)
	case status.Of(err) == status.Failed:
		return status.Mark(err, status.ErrUnreachable)
	}
	return err
}

// ExitError is a remote command that exited non-zero, for callers that
// need it as an error (ReadFile, ReadDir).
type ExitError struct {
	Status int
	Stderr string
}

func (e *ExitError) Error() string {
	if e.Stderr != "" {
		return e.Stderr
	}
	return fmt.Sprintf("exit status %d", e.Status)
}

type capBuffer struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	max    int64
	over   bool
	onOver func()
}

func (w *capBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.over {
		return 0, ErrOutputLimit
	}
	if room := w.max - int64(w.buf.Len()); w.max > 0 && int64(len(p)) > room {
		w.buf.Write(p[:max(room, 0)]) // what fits is kept
		w.over = true
		go w.onOver()
		return 0, ErrOutputLimit
	}
	return w.buf.Write(p)
}

func (w *capBuffer) bytes() []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Bytes()
}

// ReadFrom copies r into the buffer through a pooled chunk: x/crypto/ssh
// copies a session's stdout and stderr with io.Copy, which gives a writer
// without ReadFrom a new 32 KiB buffer each (64 KiB allocated and zeroed
// per node of a fan-out).
func (w *capBuffer) ReadFrom(r io.Reader) (int64, error) { return readChunks(w, r) }

// readChunks copies r to w as io.Copy does, through a pooled buffer.
func readChunks(w io.Writer, r io.Reader) (int64, error) {
	bp := chunks.Get().(*[]byte)
	defer chunks.Put(bp)
	var total int64
	for {
		n, err := r.Read(*bp)
		if n > 0 {
			if _, werr := w.Write((*bp)[:n]); werr != nil {
				return total, werr
			}
			total += int64(n)
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

var chunks = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// dropAfter passes writes on until the first error, then drops them: a
// stream of stderr past its cap must not fail the command.
type dropAfter struct {
	w    io.Writer
	dead bool
}

// ReadFrom is capBuffer's (no 32 KiB buffer per copy).
func (d *dropAfter) ReadFrom(r io.Reader) (int64, error) { return readChunks(d, r) }

func (d *dropAfter) Write(p []byte) (int, error) {
	if !d.dead {
		if _, err := d.w.Write(p); err != nil {
			d.dead = true
		}
	}
	return len(p), nil
}

// Exec implements transport.Transport: the command runs in a session of
// the node's client. When ctx ends the remote command gets SIGKILL and its
// channel is closed. A command that has started is never retried.
func (t *Transport) Exec(ctx context.Context, command string, stdin []byte, maxOut int64) (transport.Output, error) {
	if t.Remote != nil {
		out, err := t.Remote.Exec(ctx, t.Pool.Options(), t.Target, command, stdin, maxOut)
		if !errors.Is(err, ErrNoRemote) {
			return out, err
		}
	}
	sess, release, err := t.session(ctx)
	if err != nil {
		return transport.Output{}, err
	}
	defer release()
	defer sess.Close()
	stdout := &capBuffer{max: maxOut, onOver: func() { sess.Close() }}
	// stderr is kept as stdout is (a command file's NAME.stderr), past
	// which the rest is dropped, not a failure.
	stderr := &capBuffer{max: max(maxOut, 64<<10), onOver: func() {}}
	sess.Stdout, sess.Stderr = stdout, &dropAfter{w: stderr}
	s := transport.StreamOf(ctx)
	if s.Stdout != nil {
		sess.Stdout = io.MultiWriter(stdout, s.Stdout)
	}
	if s.Stderr != nil {
		sess.Stderr = &dropAfter{w: io.MultiWriter(stderr, s.Stderr)}
	}
	if stdin != nil {
		sess.Stdin = bytes.NewReader(stdin)
	}
	if s.Pty {
		// As ssh -t: the remote side echoes and merges stderr into stdout.
		modes := ssh.TerminalModes{ssh.ECHO: 0, ssh.TTY_OP_ISPEED: 38400, ssh.TTY_OP_OSPEED: 38400}
		if err := sess.RequestPty("xterm", 24, 80, modes); err != nil {
			return transport.Output{}, fmt.Errorf("pty: %w", err)
		}
	}
	if err := sess.Start(command); err != nil {
		return transport.Output{}, reachErr(fmt.Errorf("start: %w", err))
	}
	done := make(chan error, 1)
	go func() { done <- sess.Wait() }()
	var werr error
	select {
	case werr = <-done:
	case <-ctx.Done():
		_ = sess.Signal(ssh.SIGKILL)
		sess.Close()
		<-done
		return transport.Output{Stdout: stdout.bytes(), Stderr: stderr.bytes()}, ctx.Err()
	}
	out := transport.Output{Stdout: stdout.bytes(), Stderr: stderr.bytes()}
	if stdout.over {
		return out, fmt.Errorf("%w: printed more than %d bytes", ErrOutputLimit, maxOut)
	}
	var ee *ssh.ExitError
	var missing *ssh.ExitMissingError
	switch {
	case werr == nil:
	case errors.As(werr, &ee):
		out.Exit = ee.ExitStatus()
		if ee.Signal() != "" && out.Exit == 0 {
			out.Exit = 128 + 9
		}
	case errors.As(werr, &missing):
		out.Exit = 255
		if len(out.Stderr) == 0 {
			out.Stderr = []byte("remote command ended without an exit status")
		}
	default:
		return out, reachErr(werr)
	}
	return out, nil
}

// session opens a session on the pool's client for the target. A kept
// client whose connection was lost (the node rebooted, a warm connection
// of smctl serve timed out on the node's side) is dropped and dialled
// again, once: no command has started on it.
func (t *Transport) session(ctx context.Context) (*ssh.Session, func(), error) {
	for try := 0; ; try++ {
		c, release, err := t.Pool.Client(ctx, t.Target)
		if err != nil {
			return nil, nil, reachErr(err)
		}
		sess, err := c.NewSession()
		if err == nil {
			return sess, release, nil
		}
		release()
		if try > 0 || ctx.Err() != nil {
			return nil, nil, reachErr(fmt.Errorf("session: %w", err))
		}
		t.Pool.drop(t.Target, c)
	}
}

func firstLine(b []byte) string {
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			return l
		}
	}
	return ""
}

// remoteErr maps a failed remote cat or ls to an error io/fs understands.
// The only account of why they failed is the text a remote program
// printed (strerror's messages, as a node in an English or C locale
// prints them): there is no typed error to read across SSH, so that text
// is matched; anything else is kept in an *ExitError.
func remoteErr(out transport.Output) error {
	msg := firstLine(out.Stderr)
	switch {
	case strings.Contains(msg, "No such file"):
		return fs.ErrNotExist
	case strings.Contains(msg, "Permission denied"):
		return fs.ErrPermission
	case strings.Contains(msg, "Is a directory"):
		return errors.New("is a directory")
	}
	return &ExitError{Status: out.Exit, Stderr: msg}
}

// ReadFile implements transport.Transport with "cat" on the node.
func (t *Transport) ReadFile(ctx context.Context, name string, max int64) ([]byte, error) {
	out, err := t.Exec(ctx, "cat -- "+transport.Quote(name), nil, max)
	if err != nil {
		if errors.Is(err, ErrOutputLimit) {
			return nil, fmt.Errorf("%s: %w (%d bytes)", name, transport.ErrTooLarge, max)
		}
		return nil, err
	}
	if out.Exit != 0 {
		return nil, remoteErr(out)
	}
	return out.Stdout, nil
}

// ReadDir implements transport.Transport with "ls -1Ap" on the node:
// entries ending in / are directories; symlinks are not followed. Sizes
// and times are not fetched.
func (t *Transport) ReadDir(ctx context.Context, name string) ([]transport.Entry, error) {
	out, err := t.Exec(ctx, "ls -1Ap -- "+transport.Quote(name), nil, 64<<20)
	if err != nil {
		return nil, err
	}
	if out.Exit != 0 {
		return nil, remoteErr(out)
	}
	var es []transport.Entry
	for _, l := range strings.Split(string(out.Stdout), "\n") {
		if l == "" || l == "./" || l == "../" {
			continue
		}
		e := transport.Entry{Name: l, Mode: 0o444}
		if strings.HasSuffix(l, "/") {
			e.Name, e.Mode = strings.TrimSuffix(l, "/"), fs.ModeDir|0o555
		}
		es = append(es, e)
	}
	sort.Slice(es, func(i, j int) bool { return es[i].Name < es[j].Name })
	return es, nil
}

// Stat implements transport.Transport with "ls -1Apd".
func (t *Transport) Stat(ctx context.Context, name string) (transport.Entry, error) {
	out, err := t.Exec(ctx, "ls -1Apd -- "+transport.Quote(name), nil, 1<<20)
	if err != nil {
		return transport.Entry{}, err
	}
	if out.Exit != 0 {
		return transport.Entry{}, remoteErr(out)
	}
	l := strings.TrimSpace(string(out.Stdout))
	e := transport.Entry{Name: path.Base(name), Mode: 0o444}
	if strings.HasSuffix(l, "/") {
		e.Mode = fs.ModeDir | 0o555
	}
	return e, nil
}
