package transport

import (
	"context"
	"errors"
	"fmt"
	"net"
)

// UnixDialer is the optional ability of a transport to open a stream to a
// UNIX socket on its node (libvirtd's), as ssh -L does with a socket:
// Local dials it, ssh forwards it over the node's connection
// (direct-streamlocal). Check for it with DialUnix.
type UnixDialer interface {
	DialUnix(ctx context.Context, path string) (net.Conn, error)
}

// DialUnix opens a stream to the UNIX socket path on the node t reaches,
// when t can (UnixDialer); otherwise the error wraps
// errors.ErrUnsupported. A Broken transport gives its own error.
func DialUnix(ctx context.Context, t Transport, path string) (net.Conn, error) {
	switch t := t.(type) {
	case UnixDialer:
		return t.DialUnix(ctx, path)
	case Broken:
		return nil, t.Err
	}
	return nil, fmt.Errorf("transport %T cannot reach a UNIX socket: %w", t, errors.ErrUnsupported)
}

var _ UnixDialer = Local{}

// DialUnix implements UnixDialer.
func (Local) DialUnix(ctx context.Context, path string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "unix", path)
}
