package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"

	"github.com/smctl/smctl/pkg/sshx"
	"github.com/smctl/smctl/pkg/transport"
)

// A stream to a UNIX socket on a node (libvirtd's, for the libvirt
// driver) goes over serve's connection to the node too, on a connection
// to serve of its own, which becomes the stream. The verb sends the JSON
// object {"Op":"forward"} with the options, the target and the Path it
// would have dialled itself, and no newline after it; serve opens the
// stream over the connection it keeps for those options and target
// (sshx.Transport.DialUnix: the same ssh_config, keys and host key checks,
// the path checked absolute) and answers with a JSON object, again with no
// newline: an empty response when the stream is open, else the failure
// (a response of Kind "refused" when serve opened nothing and the verb
// should open the stream itself). After the empty answer every byte either
// way is the stream's, unchanged, until either side closes, which closes
// both ends (there is no half-close). Serve stopping closes the streams
// open.
//
// A serve that does not know the request (an older one) answers
// "refused"; so does one of another user: the verb then dials over its
// own connection. So does a verb whose serve vanished before answering:
// nothing was sent on a stream yet, so opening it again is safe (unlike a
// command, which is not run twice).
//
// A stream open counts in Status as a command in flight until it closes,
// then as one served; its SSH connection is in use meanwhile, so that the
// idle timeout does not close it.

var (
	_ sshx.UnixForwarder = (*Client)(nil)
	_ sshx.UnixForwarder = (*Server)(nil)
)

// DialUnix implements sshx.UnixForwarder in serve's own process: the
// stream goes over the connection serve keeps for opts and t. It counts
// as a command in flight until it is closed.
func (s *Server) DialUnix(ctx context.Context, opts sshx.Options, t sshx.Target, path string) (net.Conn, error) {
	s.inFlight.Add(1)
	conn, err := (&sshx.Transport{Pool: s.pool(opts), Target: t}).DialUnix(ctx, path)
	if err != nil {
		s.failed.Add(1)
		s.streamEnded()
		return nil, err
	}
	return &countedConn{Conn: conn, end: s.streamEnded}, nil
}

// streamEnded counts a stream closed, or one that failed to open.
func (s *Server) streamEnded() {
	s.served.Add(1)
	s.inFlight.Add(-1)
}

// countedConn is a stream that serve counts as in flight until it is
// closed.
type countedConn struct {
	net.Conn
	once sync.Once
	end  func()
}

func (c *countedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.end)
	return err
}

// serveForward answers a "forward" request of c: it opens the stream and
// then copies c's bytes (read from in, which holds what was read past the
// request) to it and its bytes to c until either side closes or serve
// stops (ctx).
func (s *Server) serveForward(ctx context.Context, c net.Conn, in io.Reader, req request) {
	reply := func(r response) error {
		b, _ := json.Marshal(r) // no newline: the stream follows at once
		_, err := c.Write(b)
		return err
	}
	remote, err := s.DialUnix(ctx, req.Opts, req.Target, req.Path)
	if err == nil && ctx.Err() != nil {
		remote.Close()
	}
	if ctx.Err() != nil {
		// Stopping: nothing is opened, and the verb opens it itself.
		_ = reply(response{Kind: "refused", Msg: fmt.Sprintf("smctl serve on %s is stopping", s.root)})
		return
	}
	if err != nil {
		_ = reply(answer(transport.Output{}, err))
		return
	}
	var once sync.Once
	end := func() {
		once.Do(func() {
			c.Close()
			remote.Close()
		})
	}
	defer end()
	stop := context.AfterFunc(ctx, end)
	defer stop()
	if reply(response{}) != nil {
		return
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(remote, in)
		end()
	}()
	_, _ = io.Copy(c, remote)
	end()
	<-done
}

// DialUnix implements sshx.UnixForwarder: the stream to the UNIX socket
// path on t goes over serve's connection to t, made with opts; the
// returned connection, to serve, carries it. An error wrapping
// sshx.ErrNoRemote opened nothing (serve not reachable, refusing, or
// older than forwarding): the caller opens the stream itself. ctx bounds
// the opening only.
func (c *Client) DialUnix(ctx context.Context, opts sshx.Options, t sshx.Target, path string) (net.Conn, error) {
	conn, err := c.dial(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		c.notice(err)
		return nil, fmt.Errorf("%w: %v", sshx.ErrNoRemote, err)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	req, err := json.Marshal(request{Op: "forward", Opts: opts, Target: t, Path: path})
	if err != nil {
		stop()
		conn.Close()
		return nil, fmt.Errorf("forwarding %s on %s: %w", path, t.Alias, err)
	}
	dec := json.NewDecoder(conn)
	var resp response
	if _, err = conn.Write(req); err == nil {
		if err = dec.Decode(&resp); err != nil {
			err = fmt.Errorf("no answer from %s: %w", c.Socket, err)
		}
	}
	if !stop() {
		conn.Close() // closed by ctx's end
		return nil, ctx.Err()
	}
	switch {
	case err != nil:
		// Lost before the answer: no byte went on a stream.
		conn.Close()
		c.notice(err)
		return nil, fmt.Errorf("%w: %v", sshx.ErrNoRemote, err)
	case resp.Kind == "refused":
		conn.Close()
		c.notice(errors.New(resp.Msg))
		return nil, fmt.Errorf("%w: %s", sshx.ErrNoRemote, resp.Msg)
	case resp.Kind != "":
		conn.Close()
		return nil, resp.failure()
	}
	// The decoder may have read past the answer what the socket on the
	// node sent first: it is the stream's beginning.
	rest, _ := io.ReadAll(dec.Buffered())
	if len(rest) == 0 {
		return conn, nil
	}
	return &prefixedConn{Conn: conn, r: io.MultiReader(bytes.NewReader(rest), conn)}, nil
}

// prefixedConn is a connection whose reads begin with bytes already read
// from it.
type prefixedConn struct {
	net.Conn
	r io.Reader
}

func (c *prefixedConn) Read(p []byte) (int, error) { return c.r.Read(p) }
