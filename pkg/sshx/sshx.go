// Package sshx is smctl's SSH transport: a pool of golang.org/x/crypto/ssh
// clients configured the way OpenSSH would configure them.
//
// Settings come from ssh_config files (the user's and the system's, or a
// node's own file, like ssh -F), parsed once per process: HostName, Port,
// User, IdentityFile, IdentitiesOnly, IdentityAgent, ProxyJump,
// ConnectTimeout, StrictHostKeyChecking, UserKnownHostsFile and
// HostKeyAlias. Keys come from the identity files and from ssh-agent (one
// shared connection, signers read once); a password from the node's
// inherited ids credentials is tried when no key works. Host keys are
// checked against known_hosts: unknown keys are refused unless
// StrictHostKeyChecking is accept-new (then recorded) or no; a changed key
// is always refused with a message naming the node.
//
// Connecting is retried with jittered backoff a bounded number of times
// when the failure is transient (a reset or closed connection during the
// handshake, as sshd's MaxStartups does); a refused connection, an
// authentication failure or a timeout is not retried, and a command that
// has started is never retried. One client per node is kept for the life
// of the Pool, so listing and reading a node's proc/ share a connection.
package sshx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
)

// Options tune a Pool.
type Options struct {
	// ConfigFiles are the ssh_config files read, first value wins; nil
	// means DefaultConfigFiles.
	ConfigFiles []string
	// ConnectTimeout bounds TCP connect plus handshake when ssh_config sets
	// no ConnectTimeout; 0 means 10 s.
	ConnectTimeout time.Duration
	// Retries is how many times a transiently failed connect is retried.
	Retries int
	// StrictHostKey, if set, overrides StrictHostKeyChecking.
	StrictHostKey string
	// MaxIdle bounds the clients kept open while unused, for the next
	// operation on the same node; 0 means 64. The oldest are closed first.
	MaxIdle int
}

// Target names a node.
type Target struct {
	Alias string // looked up in ssh_config as "ssh ALIAS" would
	// Port and User override ssh_config when set (the node's attribute
	// files).
	Port int
	User string
	// FallbackUser is the login name when neither User nor ssh_config
	// gives one (the inherited ids user), before the local user name.
	FallbackUser string
	// ConfigFile, when set, replaces Options.ConfigFiles for this node.
	ConfigFile string
	// Password, if set, is tried after public keys (from inherited ids).
	Password     string
	PasswordUser string

	// via holds the pool keys of the targets whose ProxyJump led here,
	// nearest last: a loop of jumps is refused instead of waiting on its
	// own dial forever.
	via []string
}

// key names a target in the pool.
func (t Target) key() string {
	return fmt.Sprintf("%s|%d|%s|%s|%s", t.Alias, t.Port, t.User, t.FallbackUser, t.ConfigFile)
}

// Pool dials and keeps SSH clients.
type Pool struct {
	opts    Options
	configs configCache

	mu      sync.Mutex
	clients map[string]*dialing
	idle    []string             // keys of unused clients, oldest first
	idleAt  map[string]time.Time // when each of them was let go
	closed  bool

	agentOnce    sync.Once
	agentSigners []ssh.Signer
	agentConn    net.Conn

	keysMu sync.Mutex
	keys   map[string]keyEntry

	hosts hostKeys
}

type dialing struct {
	done   chan struct{}
	client *ssh.Client
	err    error
	users  int
}

type keyEntry struct {
	signer ssh.Signer
	err    error
}

// NewPool returns an empty pool.
func NewPool(opts Options) *Pool {
	if opts.ConfigFiles == nil {
		opts.ConfigFiles = DefaultConfigFiles()
	}
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = 10 * time.Second
	}
	if opts.MaxIdle <= 0 {
		opts.MaxIdle = 64
	}
	return &Pool{opts: opts, clients: map[string]*dialing{}, idleAt: map[string]time.Time{}, keys: map[string]keyEntry{}}
}

// Close closes every client and the agent connection.
func (p *Pool) Close() error {
	p.mu.Lock()
	p.closed = true
	clients := p.clients
	p.clients = map[string]*dialing{}
	p.mu.Unlock()
	for _, d := range clients {
		<-d.done
		if d.client != nil {
			d.client.Close()
		}
	}
	if p.agentConn != nil {
		p.agentConn.Close()
	}
	return nil
}

// Settings resolves the settings of a target.
func (p *Pool) Settings(t Target) (*Settings, error) {
	files := p.opts.ConfigFiles
	if t.ConfigFile != "" {
		files = []string{t.ConfigFile}
	}
	s, err := p.configs.resolve(files, t.Alias)
	if err != nil {
		return nil, err
	}
	if t.Port != 0 {
		s.Port = t.Port
	}
	if t.User != "" {
		s.User = t.User
	} else if !s.userSet && t.FallbackUser != "" {
		s.User = t.FallbackUser
	}
	if s.ConnectTimeout == 0 {
		s.ConnectTimeout = p.opts.ConnectTimeout
	}
	if p.opts.StrictHostKey != "" {
		s.StrictHostKey = p.opts.StrictHostKey
	}
	return s, nil
}

// Client returns the pool's client for t, dialing it once, and a release
// function to call when the caller is done with it. Unused clients stay
// open, up to MaxIdle of them, for the next operation on the same node.
func (p *Pool) Client(ctx context.Context, t Target) (*ssh.Client, func(), error) {
	key := t.key()
	if slices.Contains(t.via, key) {
		return nil, nil, fmt.Errorf("ProxyJump loop: %s reached again through its own jump hosts", t.Alias)
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, nil, errors.New("ssh pool closed")
	}
	d, ok := p.clients[key]
	if !ok {
		d = &dialing{done: make(chan struct{})}
		p.clients[key] = d
	}
	d.users++
	p.unidle(key)
	p.mu.Unlock()
	if !ok {
		func() {
			// Closed however dial ends, a panic included: waiters and
			// Close must never wait forever for this dial.
			defer close(d.done)
			d.err = errors.New("ssh: dial did not complete")
			d.client, d.err = p.dial(ctx, t, len(t.via))
		}()
		if d.err != nil {
			// A failed dial is not kept: the next caller tries again.
			p.mu.Lock()
			if p.clients[key] == d {
				delete(p.clients, key)
			}
			p.mu.Unlock()
		}
	}
	release := func() { p.release(key, d) }
	select {
	case <-d.done:
	case <-ctx.Done():
		release()
		return nil, nil, ctx.Err()
	}
	if d.err != nil {
		release()
		return nil, nil, d.err
	}
	return d.client, release, nil
}

func (p *Pool) unidle(key string) {
	delete(p.idleAt, key)
	for i, k := range p.idle {
		if k == key {
			p.idle = append(p.idle[:i], p.idle[i+1:]...)
			return
		}
	}
}

func (p *Pool) release(key string, d *dialing) {
	p.mu.Lock()
	defer p.mu.Unlock()
	d.users--
	if d.users > 0 || d.err != nil || p.clients[key] != d {
		return
	}
	p.idle = append(p.idle, key)
	p.idleAt[key] = time.Now()
	for len(p.idle) > p.opts.MaxIdle {
		old := p.idle[0]
		p.idle = p.idle[1:]
		delete(p.idleAt, old)
		if od := p.clients[old]; od != nil && od.users == 0 {
			delete(p.clients, old)
			if od.client != nil {
				od.client.Close()
			}
		}
	}
}

const maxJumps = 8

func (p *Pool) dial(ctx context.Context, t Target, depth int) (*ssh.Client, error) {
	s, err := p.Settings(t)
	if err != nil {
		return nil, err
	}
	cfg, err := p.clientConfig(s, t)
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort(s.HostName, strconv.Itoa(s.Port))
	var jump *ssh.Client
	if s.ProxyJump != "" && !strings.EqualFold(s.ProxyJump, "none") {
		if depth >= maxJumps {
			return nil, fmt.Errorf("ProxyJump nested deeper than %d", maxJumps)
		}
		// The last hop of a chain is the one next to the target.
		hops := strings.Split(s.ProxyJump, ",")
		jt, err := parseJump(hops[len(hops)-1])
		if err != nil {
			return nil, err
		}
		if len(hops) > 1 {
			// Earlier hops are reached through ssh_config of the last hop.
			jt.ConfigFile = t.ConfigFile
		}
		jt.via = append(slices.Clip(t.via), t.key())
		// The jump client stays in use as long as the pool lives: the
		// target's connection runs through it.
		jump, _, err = p.Client(ctx, jt)
		if err != nil {
			return nil, fmt.Errorf("ProxyJump %s: %w", hops[len(hops)-1], err)
		}
	}
	var lastErr error
	for attempt := 0; ; attempt++ {
		c, err := p.dialOnce(ctx, s, cfg, addr, jump)
		if err == nil {
			return c, nil
		}
		lastErr = err
		if ctx.Err() != nil || attempt >= p.opts.Retries || !Transient(err) {
			break
		}
		// Jittered exponential backoff: 50 ms, 100 ms, 200 ms ... x [0.5, 1.5).
		d := time.Duration(float64(50*time.Millisecond<<attempt) * (0.5 + rand.Float64()))
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return nil, lastErr
		}
	}
	return nil, lastErr
}

func parseJump(hop string) (Target, error) {
	hop = strings.TrimPrefix(strings.TrimSpace(hop), "ssh://")
	t := Target{}
	if u, h, ok := strings.Cut(hop, "@"); ok {
		t.User, hop = u, h
	}
	if h, port, err := net.SplitHostPort(hop); err == nil {
		n, err := strconv.Atoi(port)
		if err != nil {
			return t, fmt.Errorf("ProxyJump %q: bad port", hop)
		}
		t.Alias, t.Port = h, n
	} else {
		t.Alias = hop
	}
	if t.Alias == "" {
		return t, fmt.Errorf("ProxyJump %q: no host", hop)
	}
	return t, nil
}

func (p *Pool) dialOnce(ctx context.Context, s *Settings, cfg *ssh.ClientConfig, addr string, jump *ssh.Client) (*ssh.Client, error) {
	dctx, cancel := context.WithTimeout(ctx, s.ConnectTimeout)
	defer cancel()
	var conn net.Conn
	var err error
	if jump != nil {
		conn, err = jump.DialContext(dctx, "tcp", addr)
	} else {
		var d net.Dialer
		conn, err = d.DialContext(dctx, "tcp", addr)
	}
	if err != nil {
		return nil, err
	}
	// The handshake is bounded by the same connect timeout, and ends at
	// once if ctx does.
	stop := context.AfterFunc(dctx, func() { conn.Close() })
	cc, chans, reqs, err := ssh.NewClientConn(conn, addr, cfg)
	if !stop() {
		if cc != nil {
			cc.Close()
		}
		conn.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("connect to %s: timed out after %s", addr, s.ConnectTimeout)
	}
	if err != nil {
		conn.Close()
		return nil, err
	}
	return ssh.NewClient(cc, chans, reqs), nil
}

// Transient reports whether a connect error is worth retrying: the server
// reset or closed the connection during the handshake, as sshd does when
// MaxStartups is exceeded. Typed errors are checked first; the texts are
// for the reasons other programs give as text (a jump host's sshd says
// why a forwarded connection failed in a string, OpenSSH's own
// kex_exchange_identification) and for errors formatted with %v, whose
// cause is only in their message.
func Transient(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "connection reset by peer") ||
		strings.HasSuffix(msg, "handshake failed: EOF") ||
		strings.Contains(msg, "kex_exchange_identification")
}
