// Package sim serves a simulated cluster: N SSH servers on loopback, one
// port each, written with golang.org/x/crypto/ssh. Each node answers
// vmstat, hostname, uptime, uname, echo, sleep, exit, cat and ls of its own
// plausible /proc and /sys, differing by node; SFTP too (sftp.go).
//
// Chosen fractions of the nodes misbehave, to test what a cluster does to
// its tools: refuse (nothing listens on their port), hang (commands never
// finish), fail (every command exits 1 with a message), drop (the first
// connection is closed during the handshake, as sshd's MaxStartups does; the
// next works); Delay slows every command. Which nodes misbehave is fixed by
// the seed.
//
// Start writes into Dir the client key, known_hosts (one HostKeyAlias line
// for all nodes), an ssh_config with a Host block per node for OpenSSH
// tools (ssh -F, pdsh, clush, pssh), ssh_config.common with the settings
// every node shares (what smctl's devices use, with their address and port
// as attribute files), hosts.txt and the discovery statements.
package sim

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
)

// Options describe a simulated cluster.
type Options struct {
	N        int
	Dir      string // files for clients; required
	Prefix   string // node name prefix, default "n"
	Addr     string // listen address, default 127.0.0.1 (loopback only)
	Delay    time.Duration
	Refuse   float64
	Hang     float64
	Fail     float64
	Drop     float64
	Seed     uint64
	User     string // login name written to ssh_config; default "sim"
	Password string // if set, password authentication is accepted too
}

// Behaviour of a node.
type Behaviour string

// Behaviours.
const (
	OK     Behaviour = "ok"
	Refuse Behaviour = "refuse"
	Hang   Behaviour = "hang"
	Fail   Behaviour = "fail"
	Drop   Behaviour = "drop"
)

// Node is one simulated machine.
type Node struct {
	Name      string
	Port      int
	Behaviour Behaviour

	state   *node
	dropped atomic.Bool
}

// Cluster is a running simulated cluster.
type Cluster struct {
	Nodes      []*Node
	Dir        string
	ConfigFile string // ssh_config with a block per node
	CommonFile string // ssh_config.common
	KnownHosts string
	Addr       string

	opts      Options
	cfg       *ssh.ServerConfig
	listeners []net.Listener
	ctx       context.Context
	cancel    context.CancelFunc
	lock      *os.File // Dir's lock (LockName), held while running
	wg        sync.WaitGroup
	connsMu   sync.Mutex
	conns     map[net.Conn]bool
}

// HostKeyAlias is the name under which every node's key is known.
const HostKeyAlias = "smctl-sim"

// Start starts the cluster; Close stops it.
func Start(opts Options) (*Cluster, error) {
	if opts.N < 1 {
		return nil, errors.New("sim: need at least one node")
	}
	if opts.Dir == "" {
		return nil, errors.New("sim: need a directory for the client files")
	}
	if opts.Prefix == "" {
		opts.Prefix = "n"
	}
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1"
	}
	if ip := net.ParseIP(opts.Addr); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("sim: %s is not a loopback address: the simulated cluster only serves on 127.0.0.0/8", opts.Addr)
	}
	if opts.User == "" {
		opts.User = "sim"
	}
	for _, f := range []float64{opts.Refuse, opts.Hang, opts.Fail, opts.Drop} {
		if f < 0 || f > 1 {
			return nil, errors.New("sim: fractions must be between 0 and 1")
		}
	}
	if opts.Refuse+opts.Hang+opts.Fail+opts.Drop > 1 {
		return nil, errors.New("sim: the fractions add up to more than 1")
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, err
	}
	lock, err := lockDir(opts.Dir)
	if err != nil {
		return nil, err
	}
	started := false
	defer func() {
		if !started {
			lock.Close()
		}
	}()
	_, hostPriv, _ := ed25519.GenerateKey(rand.Reader)
	hostSigner, err := ssh.NewSignerFromKey(hostPriv)
	if err != nil {
		return nil, err
	}
	clientPub, clientPriv, _ := ed25519.GenerateKey(rand.Reader)
	clientSSHPub, err := ssh.NewPublicKey(clientPub)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &Cluster{Dir: opts.Dir, Addr: opts.Addr, opts: opts, ctx: ctx, cancel: cancel, conns: map[net.Conn]bool{}, lock: lock}
	authorized := string(clientSSHPub.Marshal())
	c.cfg = &ssh.ServerConfig{
		PublicKeyCallback: func(md ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			if string(key.Marshal()) == authorized {
				return nil, nil
			}
			return nil, errors.New("unknown key")
		},
		ServerVersion: "SSH-2.0-smctl-sim",
	}
	if opts.Password != "" {
		c.cfg.PasswordCallback = func(md ssh.ConnMetadata, pw []byte) (*ssh.Permissions, error) {
			if string(pw) == opts.Password {
				return nil, nil
			}
			return nil, errors.New("wrong password")
		}
	}
	c.cfg.AddHostKey(hostSigner)

	// Fix the misbehaving nodes by the seed, in exact numbers.
	behaviours := make([]Behaviour, opts.N)
	for i := range behaviours {
		behaviours[i] = OK
	}
	perm := mrand.New(mrand.NewPCG(opts.Seed, 0x5eed)).Perm(opts.N)
	k := 0
	for _, b := range []struct {
		f float64
		b Behaviour
	}{{opts.Refuse, Refuse}, {opts.Hang, Hang}, {opts.Fail, Fail}, {opts.Drop, Drop}} {
		for j := 0; j < int(b.f*float64(opts.N)+0.5) && k < opts.N; j++ {
			behaviours[perm[k]] = b.b
			k++
		}
	}
	width := max(4, len(fmt.Sprint(opts.N)))
	start := time.Now()
	var refused []net.Listener
	for i := 0; i < opts.N; i++ {
		n := &Node{Name: fmt.Sprintf("%s%0*d", opts.Prefix, width, i+1), Behaviour: behaviours[i]}
		n.state = newNode(n.Name, i, start)
		l, err := net.Listen("tcp", net.JoinHostPort(opts.Addr, "0"))
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("sim: node %s: %w (raise the open file limit for many nodes)", n.Name, err)
		}
		n.Port = l.Addr().(*net.TCPAddr).Port
		if n.Behaviour == Refuse {
			// Nothing will listen there: connections are refused. The port
			// is released only once every node has its own, so that no
			// other node gets it.
			refused = append(refused, l)
		} else {
			c.listeners = append(c.listeners, l)
			c.wg.Add(1)
			go c.serve(l, n)
		}
		c.Nodes = append(c.Nodes, n)
	}
	for _, l := range refused {
		l.Close()
	}
	if err := c.writeFiles(hostSigner.PublicKey(), clientPriv); err != nil {
		c.Close()
		return nil, err
	}
	started = true
	return c, nil
}

// Close stops every node and waits for their goroutines, then lets
// another simulator use Dir.
func (c *Cluster) Close() error {
	c.cancel()
	for _, l := range c.listeners {
		l.Close()
	}
	c.connsMu.Lock()
	for conn := range c.conns {
		conn.Close()
	}
	c.connsMu.Unlock()
	c.wg.Wait()
	if c.lock != nil {
		c.lock.Close()
		c.lock = nil
	}
	return nil
}

// LockName is the file in Dir whose flock a running simulator holds, with
// its PID: a second one on the same Dir would overwrite the first's key,
// known_hosts and ssh_config under its clients.
const LockName = "sim.lock"

// lockDir takes Dir's lock, or says which simulator holds it.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, LockName), os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sim: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		b, _ := io.ReadAll(io.LimitReader(f, 64))
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			who := "another simulator"
			if pid := strings.TrimSpace(string(b)); pid != "" {
				who = "the simulator running as PID " + pid
			}
			return nil, fmt.Errorf("sim: %s is used by %s: stop it, or choose another --dir", dir, who)
		}
		return nil, fmt.Errorf("sim: locking %s: %w", dir, err)
	}
	// The PID is for the message of a second simulator only.
	if f.Truncate(0) == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return f, nil
}

func (c *Cluster) track(conn net.Conn, on bool) bool {
	c.connsMu.Lock()
	defer c.connsMu.Unlock()
	if on {
		if c.ctx.Err() != nil {
			return false
		}
		c.conns[conn] = true
	} else {
		delete(c.conns, conn)
	}
	return true
}

func (c *Cluster) serve(l net.Listener, n *Node) {
	defer c.wg.Done()
	for {
		conn, err := l.Accept()
		if err != nil {
			return
		}
		if n.Behaviour == Drop && !n.dropped.Swap(true) {
			conn.Close() // as sshd past MaxStartups: closed before the banner
			continue
		}
		if !c.track(conn, true) {
			conn.Close()
			return
		}
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			defer c.track(conn, false)
			defer conn.Close()
			c.handle(conn, n)
		}()
	}
}

func (c *Cluster) handle(conn net.Conn, n *Node) {
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	sconn, chans, reqs, err := ssh.NewServerConn(conn, c.cfg)
	if err != nil {
		return
	}
	conn.SetDeadline(time.Time{})
	defer sconn.Close()
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		if nc.ChannelType() == "direct-tcpip" {
			c.forward(nc) // a node can be a ProxyJump host
			continue
		}
		if nc.ChannelType() != "session" {
			nc.Reject(ssh.UnknownChannelType, "only sessions")
			continue
		}
		ch, creqs, err := nc.Accept()
		if err != nil {
			continue
		}
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			c.session(ch, creqs, n)
		}()
	}
}

func (c *Cluster) session(ch ssh.Channel, reqs <-chan *ssh.Request, n *Node) {
	defer ch.Close()
	for req := range reqs {
		switch req.Type {
		case "exec":
			var p struct{ Command string }
			if err := ssh.Unmarshal(req.Payload, &p); err != nil {
				req.Reply(false, nil)
				return
			}
			req.Reply(true, nil)
			ctx, cancel := context.WithCancel(c.ctx)
			go func() { // a closed channel or a signal ends the command
				for r := range reqs {
					if r.Type == "signal" {
						cancel()
					}
					if r.WantReply {
						r.Reply(false, nil)
					}
				}
				cancel()
			}()
			out, errOut, code := c.exec(ctx, n, p.Command)
			cancel()
			if code == -1 { // cut off: the channel just closes
				return
			}
			ch.Write([]byte(out))
			ch.Stderr().Write([]byte(errOut))
			status := make([]byte, 4)
			binary.BigEndian.PutUint32(status, uint32(code))
			ch.SendRequest("exit-status", false, status)
			return
		case "env", "pty-req":
			req.Reply(true, nil)
		default:
			c.request(ch, req, reqs, n) // sftp.go: the sftp subsystem, or refused
		}
	}
}

// forward serves a direct-tcpip channel (ssh -J through this node) to an
// address on loopback; anything else is refused.
func (c *Cluster) forward(nc ssh.NewChannel) {
	var p struct {
		Host       string
		Port       uint32
		OriginHost string
		OriginPort uint32
	}
	if err := ssh.Unmarshal(nc.ExtraData(), &p); err != nil {
		nc.Reject(ssh.ConnectionFailed, "bad request")
		return
	}
	if ip := net.ParseIP(p.Host); ip == nil || !ip.IsLoopback() {
		nc.Reject(ssh.Prohibited, "the simulated cluster forwards to loopback only")
		return
	}
	target, err := net.DialTimeout("tcp", net.JoinHostPort(p.Host, fmt.Sprint(p.Port)), 5*time.Second)
	if err != nil {
		nc.Reject(ssh.ConnectionFailed, err.Error())
		return
	}
	ch, reqs, err := nc.Accept()
	if err != nil {
		target.Close()
		return
	}
	go ssh.DiscardRequests(reqs)
	c.wg.Add(2)
	go func() {
		defer c.wg.Done()
		io.Copy(target, ch)
		target.(*net.TCPConn).CloseWrite()
	}()
	go func() {
		defer c.wg.Done()
		io.Copy(ch, target)
		ch.CloseWrite()
		ch.Close()
		target.Close()
	}()
}

// exec runs a command on n; -1 means it was cut off.
func (c *Cluster) exec(ctx context.Context, n *Node, command string) (string, string, int) {
	if c.opts.Delay > 0 {
		select {
		case <-time.After(c.opts.Delay):
		case <-ctx.Done():
			return "", "", -1
		}
	}
	switch n.Behaviour {
	case Hang:
		<-ctx.Done()
		return "", "", -1
	case Fail:
		return "", fmt.Sprintf("%s: simulated failure\n", n.Name), 1
	}
	return n.state.run(ctx, command)
}
