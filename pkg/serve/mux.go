package serve

import (
	"bufio"
	"context"
	"encoding/gob"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/smctl/smctl/pkg/sshx"
	"github.com/smctl/smctl/pkg/transport"
)

// A verb sends all its commands over one connection to serve: after the
// JSON object {"Op":"mux"} and serve's JSON answer (an empty response, or a
// refusal), both sides exchange gob frames, any number in flight at once
// (a verb runs up to its fan-out of commands together). One connection
// per verb rather than per command: 2000 commands cost one accept and one
// peer check, and the frames carry output as bytes, not JSON's base64.

// muxRequest is a frame a verb sends: a command to run, or the
// cancellation of one it sent (its caller interrupted, its deadline past).
type muxRequest struct {
	ID     uint64
	Cancel bool
	Req    request
	Data   []byte // input for the open subsystem ID (pipe.go)
	EOF    bool   // its input ends
}

// muxResponse is serve's answer to the command ID, or, with Fd 1 or 2,
// output it printed (on stdout or stderr) sent as it comes, before the
// answer, for a command sent with Stream.
type muxResponse struct {
	ID   uint64
	Fd   int
	Data []byte
	Resp response
}

// frameWriter sends what a streamed command prints as frames.
type frameWriter struct {
	id  uint64
	fd  int
	mu  *sync.Mutex
	enc *gob.Encoder
}

func (w frameWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.enc.Encode(muxResponse{ID: w.id, Fd: w.fd, Data: p}); err != nil {
		return 0, err
	}
	return len(p), nil
}

// serveMux runs the commands a verb sends over c (frames read from r)
// until the verb closes it, each as it comes, answering each when it
// ends. The verb gone, its commands still running are stopped on their
// nodes, as they would be without serve; serve stopping (ctx) reads no
// more commands and lets those running finish.
func (s *Server) serveMux(ctx context.Context, c net.Conn, r io.Reader) {
	dec, enc := gob.NewDecoder(r), gob.NewEncoder(c)
	var wmu, mu sync.Mutex
	running := map[uint64]context.CancelFunc{}
	pipes := map[uint64]*queue{} // the input of the open subsystems
	gone, stopAll := context.WithCancel(context.Background())
	defer stopAll()
	stopping := context.AfterFunc(ctx, func() { c.SetReadDeadline(time.Now()) })
	defer stopping()
	var wg sync.WaitGroup
	// A verb's commands all come with the same options, as a rule: their
	// pool is looked up once.
	var lastOpts sshx.Options
	var lastPool *sshx.Pool
	for {
		var f muxRequest
		if err := dec.Decode(&f); err != nil {
			break
		}
		mu.Lock()
		cancel, in := running[f.ID], pipes[f.ID]
		mu.Unlock()
		switch {
		case f.Cancel:
			if cancel != nil {
				cancel()
			}
			continue
		case f.Req.Op == "":
			if in != nil {
				in.push(f.Data, f.EOF)
			}
			continue
		case f.Req.Op != "exec" && f.Req.Op != "subsystem":
			wmu.Lock()
			_ = enc.Encode(muxResponse{ID: f.ID, Resp: response{Kind: "refused", Msg: fmt.Sprintf("unknown request %q", f.Req.Op)}})
			wmu.Unlock()
			continue
		}
		if lastPool == nil || !sameOptions(f.Req.Opts, lastOpts) {
			lastOpts, lastPool = f.Req.Opts, s.pool(f.Req.Opts)
		}
		pool := lastPool
		cctx, cancel := context.WithCancel(gone)
		mu.Lock()
		running[f.ID] = cancel
		mu.Unlock()
		s.inFlight.Add(1)
		if f.Req.Stream || f.Req.Pty {
			cctx = transport.WithStream(cctx, transport.Stream{
				Stdout: frameWriter{id: f.ID, fd: 1, mu: &wmu, enc: enc},
				Stderr: frameWriter{id: f.ID, fd: 2, mu: &wmu, enc: enc},
				Pty:    f.Req.Pty,
			})
		}
		send := func(r muxResponse) {
			wmu.Lock()
			_ = enc.Encode(r)
			wmu.Unlock()
		}
		if f.Req.Op == "subsystem" {
			in := newQueue()
			mu.Lock()
			pipes[f.ID] = in
			mu.Unlock()
			wg.Go(func() {
				s.pipe(cctx, pool, f.ID, f.Req, in, send)
				mu.Lock()
				delete(running, f.ID)
				delete(pipes, f.ID)
				mu.Unlock()
				cancel()
			})
			continue
		}
		wg.Go(func() {
			resp := s.run(cctx, pool, f.Req)
			mu.Lock()
			delete(running, f.ID)
			mu.Unlock()
			cancel()
			send(muxResponse{ID: f.ID, Resp: resp})
		})
	}
	if ctx.Err() == nil {
		stopAll() // the verb is gone: nobody waits for its commands
	}
	wg.Wait()
}

// run runs an exec request over the connections of pool (serve's, for the
// request's options), counted in Status.
func (s *Server) run(ctx context.Context, pool *sshx.Pool, req request) response {
	tr := &sshx.Transport{Pool: pool, Target: req.Target}
	out, err := tr.Exec(ctx, req.Command, req.Stdin, req.Max)
	if err != nil {
		s.failed.Add(1)
	}
	// Counted before the answer: a caller asking Status next sees it.
	s.served.Add(1)
	s.inFlight.Add(-1)
	return answer(out, err)
}

// sameOptions reports whether a and b make the same pool (Server.pool's
// key: every field but MaxIdle).
func sameOptions(a, b sshx.Options) bool {
	return a.ConnectTimeout == b.ConnectTimeout && a.Retries == b.Retries && a.StrictHostKey == b.StrictHostKey && slices.Equal(a.ConfigFiles, b.ConfigFiles)
}

// mux is a verb's connection to serve, shared by its commands.
type mux struct {
	conn net.Conn
	wmu  sync.Mutex // the encoder's
	enc  *gob.Encoder

	mu      sync.Mutex
	next    uint64
	pending map[uint64]*call
	dead    bool
}

// call is a command waiting for its answer, and where its output goes as
// it comes (a streamed command's).
type call struct {
	id             uint64
	done           chan response
	stdout, stderr io.Writer
	opened         chan struct{} // a subsystem's: closed when serve opened it
	pipe           *queue        // a subsystem's output
}

// errMuxClosed is a command not sent because the connection to serve had
// closed meanwhile: nothing ran.
var errMuxClosed = errors.New("connection to smctl serve closed")

// connect returns the client's connection to serve, dialling it (again,
// after a loss) when there is none.
func (c *Client) connect(ctx context.Context) (*mux, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m != nil && !c.m.closed() {
		return c.m, nil
	}
	conn, err := c.dial(ctx)
	if err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	br := bufio.NewReader(conn)
	var ack response
	// No newline after either JSON line: the frames follow at once.
	if _, err = conn.Write([]byte(`{"Op":"mux"}`)); err == nil {
		err = json.NewDecoder(br).Decode(&ack)
	}
	// The answer is one JSON line, and serve sends nothing more before a
	// command's answer: br holds nothing of the frames.
	if err == nil && ack.Kind != "" {
		err = errors.New(ack.Msg) // another user's serve, or an older one
	}
	if err != nil {
		conn.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	m := &mux{conn: conn, enc: gob.NewEncoder(conn), pending: map[uint64]*call{}}
	go m.read(gob.NewDecoder(br))
	c.m = m
	return m, nil
}

func (m *mux) closed() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.dead
}

// read hands each answer to its command until the connection ends; the
// commands still waiting then were taken by serve and not answered.
func (m *mux) read(dec *gob.Decoder) {
	for {
		var f muxResponse
		if dec.Decode(&f) != nil {
			break
		}
		m.mu.Lock()
		c := m.pending[f.ID]
		if f.Fd == 0 {
			delete(m.pending, f.ID)
		}
		m.mu.Unlock()
		switch {
		case c == nil:
		case f.Fd == 3:
			close(c.opened)
		case f.Fd == 1 && c.pipe != nil:
			c.pipe.push(f.Data, false)
		case f.Fd == 1 && c.stdout != nil:
			c.stdout.Write(f.Data)
		case f.Fd == 2 && c.stderr != nil:
			c.stderr.Write(f.Data)
		case f.Fd == 0:
			if c.pipe != nil {
				c.pipe.push(nil, true)
			}
			c.done <- f.Resp
		}
	}
	m.conn.Close()
	m.mu.Lock()
	m.dead = true
	for id, c := range m.pending {
		if c.pipe != nil {
			c.pipe.fail(errServeLost)
		}
		c.done <- response{Kind: "lost"}
		delete(m.pending, id)
	}
	m.mu.Unlock()
}

// send registers the call and sends its request; an error is a request
// serve did not get.
func (m *mux) send(c *call, req request) error {
	m.mu.Lock()
	if m.dead {
		m.mu.Unlock()
		return errMuxClosed
	}
	m.next++
	c.id = m.next
	m.pending[c.id] = c
	m.mu.Unlock()
	if err := m.frame(muxRequest{ID: c.id, Req: req}); err != nil {
		m.conn.Close() // a frame cut short: the stream is lost
		return fmt.Errorf("%w: %v", errNotSent, err)
	}
	return nil
}

// frame sends one frame.
func (m *mux) frame(f muxRequest) error {
	m.wmu.Lock()
	defer m.wmu.Unlock()
	return m.enc.Encode(f)
}

// cancel forgets the call id and tells serve to stop it.
func (m *mux) cancel(id uint64) {
	m.mu.Lock()
	delete(m.pending, id)
	m.mu.Unlock()
	_ = m.frame(muxRequest{ID: id, Cancel: true})
}

// exec sends the command and waits for its answer or for ctx to end
// (then serve is told to stop it). sent reports whether serve may have
// received it.
func (m *mux) exec(ctx context.Context, req request, stream transport.Stream) (resp response, sent bool, err error) {
	c := &call{done: make(chan response, 1), stdout: stream.Stdout, stderr: stream.Stderr}
	req.Stream, req.Pty = c.stdout != nil || c.stderr != nil, stream.Pty
	if err := m.send(c, req); err != nil {
		return response{}, false, err
	}
	select {
	case resp := <-c.done:
		return resp, true, nil
	case <-ctx.Done():
		m.cancel(c.id)
		return response{}, true, ctx.Err()
	}
}

// Exec implements sshx.Remote: the command runs over serve's connection
// to t, made with opts. It wraps sshx.ErrNoRemote when serve could not be
// reached (nothing ran); ctx ending stops the command on the node. The
// writers of the Stream ctx carries (transport.StreamOf) get the output as
// it comes, and its pty request is made by serve.
func (c *Client) Exec(ctx context.Context, opts sshx.Options, t sshx.Target, command string, stdin []byte, maxOut int64) (transport.Output, error) {
	req := request{Op: "exec", Opts: opts, Target: t, Command: command, Stdin: stdin, Max: maxOut}
	var resp response
	var sent bool
	var err error
	for try := 0; ; try++ {
		var m *mux
		m, err = c.connect(ctx)
		if err == nil {
			resp, sent, err = m.exec(ctx, req, transport.StreamOf(ctx))
		}
		if errors.Is(err, errMuxClosed) && try == 0 {
			continue // closed meanwhile (serve restarted): once more
		}
		break
	}
	switch {
	case ctx.Err() != nil:
		return transport.Output{}, ctx.Err()
	case err != nil && !sent:
		c.notice(err) // nothing ran: the verb runs it itself
		return transport.Output{}, fmt.Errorf("%w: %v", sshx.ErrNoRemote, err)
	}
	switch resp.Kind {
	case "":
		return resp.Out, nil
	case "lost":
		return transport.Output{}, errServeLost
	case "refused":
		// A serve that does not know the request: nothing ran.
		c.notice(errors.New(resp.Msg))
		return transport.Output{}, fmt.Errorf("%w: %s", sshx.ErrNoRemote, resp.Msg)
	}
	return resp.Out, resp.failure()
}
