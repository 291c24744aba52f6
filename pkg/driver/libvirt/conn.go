package libvirt

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"

	golibvirt "github.com/digitalocean/go-libvirt"
	"github.com/digitalocean/go-libvirt/socket/dialers"

	"github.com/smctl/smctl/pkg/status"
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
	nc net.Conn

	mu   sync.Mutex
	doms map[string]golibvirt.Domain // by name: nil until a lookup asks

	events listener     // lifecycle events, once the events file is read
	states stateBatcher // state reads asked together (batch.go)
}

// listAll lists every domain the hypervisor defines, running or not.
func (c *conn) listAll() ([]golibvirt.Domain, error) {
	doms, _, err := c.ConnectListAllDomains(1, golibvirt.ConnectListDomainsActive|golibvirt.ConnectListDomainsInactive)
	return doms, err
}

// lookup finds the domain name: in one listing of the hypervisor's
// domains made at the first lookup and kept for the connection's life (a
// thousand VMs' files cost one call per hypervisor, not one each), else
// by name (one defined since).
func (c *conn) lookup(name string) (golibvirt.Domain, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.doms == nil {
		doms, err := c.listAll()
		if err != nil {
			return golibvirt.Domain{}, err
		}
		c.doms = make(map[string]golibvirt.Domain, len(doms))
		for _, d := range doms {
			c.doms[d.Name] = d
		}
	}
	if d, ok := c.doms[name]; ok {
		return d, nil
	}
	d, err := c.DomainLookupByName(name)
	if err == nil {
		c.doms[name] = d
	}
	return d, err
}

// forget drops what lookup knows of name (undefined, or defined again
// with another UUID since the listing).
func (c *conn) forget(name string) {
	c.mu.Lock()
	delete(c.doms, name)
	c.mu.Unlock()
}

// closed says whether the connection is gone (libvirtd stopped, dropped).
func (c *conn) closed() bool {
	select {
	case <-c.Disconnected():
		return true
	default:
		return false
	}
}

// close ends the connection.
func (c *conn) close() {
	c.Disconnect()
	c.nc.Close()
}

// dial connects to the libvirtd of the hypervisor whose uri attribute is
// uri, through its transport tr, within ctx (go-libvirt takes no
// context: the stream is closed when ctx ends first).
func dial(ctx context.Context, tr transport.Transport, uri string) (*conn, error) {
	if uri == "" {
		uri = DefaultURI
	}
	h, err := parseURI(uri)
	if err != nil {
		return nil, status.Mark(err, status.ErrUsage) // the device's configuration
	}
	nc, err := transport.DialUnix(ctx, tr, h.socket)
	if err != nil {
		return nil, fmt.Errorf("libvirtd at %s: %w", h.socket, err)
	}
	c := &conn{Libvirt: golibvirt.NewWithDialer(dialers.NewAlreadyConnected(nc)), nc: nc}
	// Opening has part of the time left, so that a libvirtd that accepts
	// and never answers (hung) is named as such before the caller's
	// deadline passes.
	octx, cancel := ctx, context.CancelFunc(func() {})
	var limit time.Duration
	if dl, ok := ctx.Deadline(); ok {
		limit = time.Until(dl) * 3 / 4
		octx, cancel = context.WithTimeout(ctx, limit)
	}
	defer cancel()
	stop := context.AfterFunc(octx, func() { nc.Close() })
	err = c.ConnectToURI(golibvirt.ConnectURI(h.open))
	if !stop() || err != nil {
		nc.Close()
		if octx.Err() != nil && ctx.Err() == nil {
			err = fmt.Errorf("no answer within %s: %w", limit.Round(10*time.Millisecond), context.DeadlineExceeded)
		} else {
			err = ctxErr(ctx, cmpErr(err, ctx.Err()))
		}
		return nil, fmt.Errorf("libvirtd at %s: opening %s: %w", h.socket, h.open, err)
	}
	return c, nil
}

// cmpErr is the first of errs that is not nil.
func cmpErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// pool keeps one connection per hypervisor (its device path and uri) for
// the driver's life (one smctl command; serve's whole run), shared by the
// files of the hypervisor and of its VMs: go-libvirt multiplexes calls
// over it. A connection that fails or outlives a caller's deadline is
// dropped, and the next caller dials again.
type pool struct {
	mu    sync.Mutex
	conns map[string]*poolEntry
}

// poolEntry is a connection being made (ready open until it is) or made.
type poolEntry struct {
	ready  chan struct{}
	c      *conn
	err    error
	failed time.Time // when err was returned
}

// get returns the connection of key, dialing it (once, whoever asks at
// the same time) when there is none or it is gone.
func (p *pool) get(ctx context.Context, key string, tr transport.Transport, uri string) (*conn, error) {
	for {
		p.mu.Lock()
		if p.conns == nil {
			p.conns = map[string]*poolEntry{}
		}
		e := p.conns[key]
		if e == nil {
			e = &poolEntry{ready: make(chan struct{})}
			p.conns[key] = e
			p.mu.Unlock()
			c, err := dial(ctx, tr, uri)
			p.mu.Lock() // drop and forgetFailed read e under it
			e.c, e.err, e.failed = c, err, time.Now()
			p.mu.Unlock()
			if err != nil && ctx.Err() == context.Canceled {
				p.forgetFailed(key, e) // the caller gave up: not the hypervisor's failure
			}
			close(e.ready)
			return c, err
		}
		p.mu.Unlock()
		select {
		case <-e.ready:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		switch {
		case e.err == nil && !e.c.closed():
			return e.c, nil
		case e.err != nil && time.Since(e.failed) < failMemory:
			// A hypervisor that just failed to answer is not dialed
			// again by each of its VMs (a hung libvirtd would cost each
			// its whole timeout).
			return nil, e.err
		case e.err != nil:
			p.forgetFailed(key, e)
		default:
			p.drop(key, e.c) // gone: dial again
		}
	}
}

// failMemory is how long a failed dial answers for its hypervisor.
const failMemory = 10 * time.Second

// forgetFailed forgets e, a failed dial, if it is still key's.
func (p *pool) forgetFailed(key string, e *poolEntry) {
	p.mu.Lock()
	if p.conns[key] == e {
		delete(p.conns, key)
	}
	p.mu.Unlock()
}

// drop closes c and forgets it, if it is still key's.
func (p *pool) drop(key string, c *conn) {
	p.mu.Lock()
	if e := p.conns[key]; e != nil && e.c == c {
		delete(p.conns, key)
	}
	p.mu.Unlock()
	if c != nil {
		c.close()
	}
}

// do runs f, calls on c, within ctx: when ctx ends first, the connection
// is dropped, which fails the calls in progress, and f's end is awaited.
func (p *pool) do(ctx context.Context, key string, c *conn, f func() error) error {
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		if err != nil && c.closed() {
			p.drop(key, c)
		}
		return err
	case <-ctx.Done():
		p.drop(key, c)
		<-done
		return ctx.Err()
	}
}

// Close closes every connection.
func (p *pool) Close() error {
	p.mu.Lock()
	es := p.conns
	p.conns = nil
	p.mu.Unlock()
	for _, e := range es {
		<-e.ready
		if e.c != nil {
			e.c.close()
		}
	}
	return nil
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
