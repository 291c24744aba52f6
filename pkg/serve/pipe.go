package serve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/smctl/smctl/pkg/sshx"
	"github.com/smctl/smctl/pkg/transport"
)

// A subsystem (sftp, for smctl cp) runs over serve's connection too: the
// verb sends {Op: "subsystem"}, serve opens it on the node and answers
// with a frame of Fd 3 (opened) or the failure; then what the subsystem
// prints comes as frames of Fd 1, and the verb's input goes as frames of
// Data (EOF: its end), until serve's answer (the subsystem ended) or the
// verb's Cancel (it is done).

var _ sshx.RemotePipe = (*Client)(nil)

// queue is a byte stream fed by frames: the reader waits for data; the
// writer never waits (what is in flight is bounded by the protocol on it:
// SFTP has a few requests of 32 KiB outstanding per file).
type queue struct {
	mu   sync.Mutex
	more *sync.Cond
	bufs [][]byte
	eof  bool  // no more data after bufs
	err  error // the stream broke: reads fail with it
}

func newQueue() *queue {
	q := &queue{}
	q.more = sync.NewCond(&q.mu)
	return q
}

// push adds data, and with eof ends the stream after it.
func (q *queue) push(b []byte, eof bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(b) > 0 {
		q.bufs = append(q.bufs, b)
	}
	q.eof = q.eof || eof
	q.more.Broadcast()
}

// fail ends the stream with err for readers, once what came is read.
func (q *queue) fail(err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.err == nil {
		q.err = err
	}
	q.more.Broadcast()
}

func (q *queue) Read(p []byte) (int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.bufs) == 0 {
		switch {
		case q.eof:
			return 0, io.EOF
		case q.err != nil:
			return 0, q.err
		}
		q.more.Wait()
	}
	n := copy(p, q.bufs[0])
	if q.bufs[0] = q.bufs[0][n:]; len(q.bufs[0]) == 0 {
		q.bufs = q.bufs[1:]
	}
	return n, nil
}

// pipe runs the subsystem of the request over pool's connection to its
// target until it ends or the verb cancels it (ctx), feeding it the frames
// in stdin and sending what it prints.
func (s *Server) pipe(ctx context.Context, pool *sshx.Pool, id uint64, req request, stdin *queue, send func(muxResponse)) {
	r, w, closePipe, err := (&sshx.Transport{Pool: pool, Target: req.Target}).Subsystem(ctx, req.Command)
	if err != nil {
		s.failed.Add(1)
		s.served.Add(1)
		s.inFlight.Add(-1)
		send(muxResponse{ID: id, Resp: answer(transport.Output{}, err)})
		return
	}
	defer closePipe()
	send(muxResponse{ID: id, Fd: 3})
	go func() {
		io.Copy(w, stdin)
		w.Close()
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			send(muxResponse{ID: id, Fd: 1, Data: append([]byte(nil), buf[:n]...)})
		}
		if err != nil {
			break
		}
	}
	stdin.fail(io.ErrClosedPipe)
	s.served.Add(1)
	s.inFlight.Add(-1)
	send(muxResponse{ID: id})
}

// Subsystem implements sshx.RemotePipe: the subsystem runs over serve's
// connection to t, made with opts. An error wrapping sshx.ErrNoRemote
// opened nothing (serve not reachable); ctx ending closes it.
func (c *Client) Subsystem(ctx context.Context, opts sshx.Options, t sshx.Target, name string) (io.Reader, io.WriteCloser, func(), error) {
	req := request{Op: "subsystem", Opts: opts, Target: t, Command: name}
	var m *mux
	var cl *call
	var err error
	for try := 0; ; try++ {
		if m, err = c.connect(ctx); err == nil {
			cl, err = m.open(ctx, req)
		}
		if errors.Is(err, errMuxClosed) && try == 0 {
			continue
		}
		break
	}
	switch {
	case ctx.Err() != nil:
		return nil, nil, nil, ctx.Err()
	case errors.Is(err, errMuxClosed) || errors.Is(err, errNotSent):
		c.notice(err)
		return nil, nil, nil, fmt.Errorf("%w: %v", sshx.ErrNoRemote, err)
	case err != nil:
		return nil, nil, nil, err
	}
	var once sync.Once
	closePipe := func() {
		once.Do(func() {
			m.cancel(cl.id)
			cl.pipe.fail(io.ErrClosedPipe)
		})
	}
	stop := context.AfterFunc(ctx, closePipe)
	return cl.pipe, &pipeWriter{m: m, id: cl.id}, func() { stop(); closePipe() }, nil
}

// errNotSent is a request whose frame could not be written: serve has
// not seen it.
var errNotSent = errors.New("connection to smctl serve broken")

// open sends a subsystem request and waits until serve opened it (the
// call, whose pipe gets the output) or failed to.
func (m *mux) open(ctx context.Context, req request) (*call, error) {
	cl := &call{done: make(chan response, 1), opened: make(chan struct{}), pipe: newQueue()}
	if err := m.send(cl, req); err != nil {
		return nil, err
	}
	select {
	case <-cl.opened:
		return cl, nil
	case resp := <-cl.done:
		if resp.Kind == "lost" {
			return nil, errServeLost
		}
		if resp.Kind == "refused" {
			return nil, fmt.Errorf("%w: %s", errNotSent, resp.Msg)
		}
		return nil, resp.failure()
	case <-ctx.Done():
		m.cancel(cl.id)
		return nil, ctx.Err()
	}
}

// pipeWriter sends a subsystem's input as frames.
type pipeWriter struct {
	m  *mux
	id uint64
}

func (w *pipeWriter) Write(p []byte) (int, error) {
	if err := w.m.frame(muxRequest{ID: w.id, Data: p}); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (w *pipeWriter) Close() error { return w.m.frame(muxRequest{ID: w.id, EOF: true}) }
