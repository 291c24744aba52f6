package libvirt

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	golibvirt "github.com/digitalocean/go-libvirt"
	"github.com/digitalocean/go-libvirt/socket/dialers"

	"github.com/smctl/smctl/pkg/transport"
)

// DefaultURI is a hypervisor's uri when it has no uri attribute.
const DefaultURI = "qemu:///system"

// hypervisorURI is a hypervisor's uri attribute taken apart: the URI
// libvirtd is asked to open (test:///default, qemu:///system) and the
// UNIX socket it listens on, on the hypervisor.
type hypervisorURI struct {
	open, socket string
}

// parseURI reads a uri attribute: DRIVER[+unix]:///PATH[?socket=SOCKET]
// (qemu:///system, qemu:///session, test+unix:///default?socket=...).
// The socket is libvirt's for the URI unless given: /run/libvirt/
// libvirt-sock for a system URI, and for another its socket parameter,
// which it then needs. How the hypervisor is reached is its transport
// attribute's (local, ssh: the socket forwarded over smctl's own
// connection, as qemu+ssh:// does), so a URI naming another transport or
// a host is refused.
func parseURI(s string) (hypervisorURI, error) {
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" || u.Opaque != "" {
		return hypervisorURI{}, fmt.Errorf("uri %q is not a libvirt URI (qemu:///system)", s)
	}
	drv, tr, _ := strings.Cut(u.Scheme, "+")
	switch {
	case tr != "" && tr != "unix":
		return hypervisorURI{}, fmt.Errorf("uri %q: the device's transport attribute reaches the hypervisor, not %s: write %s:///%s", s, tr, drv, strings.TrimPrefix(u.Path, "/"))
	case u.Host != "" || u.User != nil:
		return hypervisorURI{}, fmt.Errorf("uri %q names a host: the device's address and transport reach the hypervisor; write %s:///%s", s, drv, strings.TrimPrefix(u.Path, "/"))
	}
	q := u.Query()
	h := hypervisorURI{open: drv + "://" + u.Path, socket: q.Get("socket")}
	q.Del("socket")
	if len(q) > 0 {
		h.open += "?" + q.Encode()
	}
	if h.socket == "" {
		if u.Path != "/system" {
			return hypervisorURI{}, fmt.Errorf("uri %q: give the socket of its libvirtd (?socket=PATH): only a system URI has a known one", s)
		}
		h.socket = "/run/libvirt/libvirt-sock"
	}
	if !strings.HasPrefix(h.socket, "/") {
		return hypervisorURI{}, fmt.Errorf("uri %q: socket %q is not an absolute path", s, h.socket)
	}
	return h, nil
}

// conn is an open connection to one hypervisor's libvirtd.
type conn struct {
	*golibvirt.Libvirt
	stop func() bool
}

// dial connects to the libvirtd of the hypervisor whose uri attribute is
// uri, through its transport tr. go-libvirt takes no context: the stream
// gets ctx's deadline and is closed when ctx ends, which fails the calls
// in progress; Close ends it.
func dial(ctx context.Context, tr transport.Transport, uri string) (*conn, error) {
	if uri == "" {
		uri = DefaultURI
	}
	h, err := parseURI(uri)
	if err != nil {
		return nil, err
	}
	nc, err := transport.DialUnix(ctx, tr, h.socket)
	if err != nil {
		return nil, fmt.Errorf("libvirtd at %s: %w", h.socket, err)
	}
	if d, ok := ctx.Deadline(); ok {
		nc.SetDeadline(d)
	}
	c := &conn{Libvirt: golibvirt.NewWithDialer(dialers.NewAlreadyConnected(nc))}
	c.stop = context.AfterFunc(ctx, func() { nc.Close() })
	if err := c.ConnectToURI(golibvirt.ConnectURI(h.open)); err != nil {
		c.stop()
		nc.Close()
		return nil, fmt.Errorf("libvirtd at %s: opening %s: %w", h.socket, h.open, ctxErr(ctx, err))
	}
	return c, nil
}

// Close disconnects.
func (c *conn) Close() error {
	c.stop()
	return c.Disconnect()
}

// ctxErr is err, or the context's reason when it ended: a call cut by the
// deadline fails with a closed stream, which says less.
func ctxErr(ctx context.Context, err error) error {
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("%w (%v)", context.Cause(ctx), err)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("libvirtd did not answer in time: %w", err)
	}
	return err
}

// callTimeout bounds one agent's calls where its context has no deadline.
const callTimeout = 30 * time.Second
