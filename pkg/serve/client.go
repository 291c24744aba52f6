package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"syscall"

	"github.com/smctl/smctl/pkg/sshx"
	"github.com/smctl/smctl/pkg/status"
)

// Client sends a verb's SSH commands to the serve of a state root
// (sshx.Remote). Each command is one connection to the socket.
type Client struct {
	// Socket is the serve socket of the root.
	Socket string
	// Notice, if set, is told once that serve could not be reached and
	// commands run without it.
	Notice func(msg string)

	once sync.Once
	mu   sync.Mutex
	m    *mux // the connection to serve, made at the first command
}

var _ sshx.Remote = (*Client)(nil)

// Available returns a client for the serve of root if its socket exists,
// nil if serve is not running there. The socket is checked when used.
func Available(root string) *Client {
	sock := root + "/" + SocketName
	if _, err := os.Lstat(sock); err != nil {
		return nil
	}
	return &Client{Socket: sock}
}

// dial connects to the socket, which must be a socket of the running
// user, writable by nobody else (a socket planted by another user would
// receive the commands, and the passwords, sent to it).
func (c *Client) dial(ctx context.Context) (net.Conn, error) {
	var st syscall.Stat_t
	if err := syscall.Lstat(c.Socket, &st); err != nil {
		return nil, err
	}
	switch {
	case st.Mode&syscall.S_IFMT != syscall.S_IFSOCK:
		return nil, fmt.Errorf("%s is not a socket", c.Socket)
	case int(st.Uid) != os.Geteuid():
		return nil, status.Mark(fmt.Errorf("%s belongs to uid %d, not to this user", c.Socket, st.Uid), status.ErrUntrusted)
	case st.Mode&0o077 != 0:
		return nil, status.Mark(fmt.Errorf("%s is open to others (mode %o)", c.Socket, st.Mode&0o777), status.ErrUntrusted)
	}
	var d net.Dialer
	return d.DialContext(ctx, "unix", c.Socket)
}

// notice tells once that serve is not used.
func (c *Client) notice(err error) {
	c.once.Do(func() {
		if c.Notice != nil {
			c.Notice(fmt.Sprintf("smctl serve not reachable (%v); running without it", err))
		}
	})
}

// errServeLost is a command serve took but did not answer: it may have
// run on the node, so it is not run again.
var errServeLost = errors.New("smctl serve stopped before answering; the command was not run again (it may have run)")

// Ask asks the serve of root how it is.
func Ask(ctx context.Context, root string) (Status, error) {
	c := &Client{Socket: root + "/" + SocketName}
	conn, err := c.dial(ctx)
	if err != nil {
		return Status{}, fmt.Errorf("smctl serve is not running on %s: %w", root, err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if err := json.NewEncoder(conn).Encode(request{Op: "status"}); err != nil {
		return Status{}, err
	}
	dec := json.NewDecoder(conn)
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return Status{}, fmt.Errorf("smctl serve on %s did not answer: %w", root, err)
	}
	var resp response
	if json.Unmarshal(raw, &resp) == nil && resp.Kind == "refused" {
		return Status{}, errors.New(resp.Msg)
	}
	var st Status
	if err := json.Unmarshal(raw, &st); err != nil {
		return Status{}, err
	}
	return st, nil
}
