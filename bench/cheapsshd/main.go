// Command cheapsshd is the benchmark's cheap SSH server: one process
// answering N loopback ports with golang.org/x/crypto/ssh, so that the
// server side of a 2000-node run costs less CPU than its client (real
// nodes cost the managing machine nothing; on one machine the server's
// share of the CPUs dilutes the client's cost in wall-time ratios). It
// does what the protocol requires and nothing more:
//
//   - one host key (ed25519) for every port, one authorized client key
//     (public-key authentication, as smctl and bench/baseline use);
//   - "vmstat" answered with a fixed output per node, computed at start
//     (the same lines smctl sim prints, different per node), exit 0, and
//     "cat -- '/proc/loadavg'" (smctl's loadavg file) with one line; any
//     other command or request is refused (exit 127), and no other channel
//     type is accepted;
//   - per connection one goroutine of its own (x/crypto/ssh adds its
//     three), serving the connection's global requests, channels and
//     session requests in one loop: no deadlines, no tracking of
//     connections, no contexts, no formatting;
//   - the garbage collector runs only when the heap reaches -gc-limit
//     (GOGC off under a memory limit): what a handshake allocates is
//     garbage at once, and the live heap is small, so collections are
//     rare and short.
//
// The cryptography of a session is the floor, and most of what remains:
// the key exchange (mlkem768x25519-sha256, x/crypto's first choice, as
// OpenSSH 10's: two X25519 multiplications and an ML-KEM encapsulation
// here, two multiplications, an ML-KEM key generation and decapsulation
// in the client), the host key's signature (the client verifies it) and
// the check of the client's signature (the client makes it). The
// algorithms are x/crypto's defaults, as a client meets them on real
// nodes: a cheaper exchange would lower the client's floor too. The
// realistic simulator (smctl sim, pkg/sim) answers many commands from a
// plausible /proc, with misbehaving nodes; this server is for measuring
// the client alone.
//
// It writes into -dir what smctl sim writes (pkg/sim's formats): the
// client key id_ed25519, known_hosts (one line under sim.HostKeyAlias),
// ssh_config.common, ssh_config (a Host block per node), hosts.txt,
// discover.txt, and last "ready" (its PID) once every port listens. It
// serves until SIGINT or SIGTERM.
//
//	cheapsshd -n 2000 -dir DIR [-prefix n] [-user sim] [-gc-limit 256] [-cpuprofile FILE]
package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"syscall"

	"golang.org/x/crypto/ssh"

	"github.com/smctl/smctl/pkg/sim"
)

// node is one port and what it answers.
type node struct {
	name   string
	port   int
	vmstat []byte
}

func main() {
	n := flag.Int("n", 100, "number of nodes (ports)")
	dir := flag.String("dir", "", "directory for the client files (required)")
	prefix := flag.String("prefix", "n", "node name prefix (names are zero-padded: n0001)")
	login := flag.String("user", "sim", "login name written to ssh_config")
	gcLimit := flag.Int64("gc-limit", 256, "heap size in MiB at which the garbage collector runs")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	flag.Parse()
	if *dir == "" || *n < 1 || *n > 30000 || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: cheapsshd -n 1..30000 -dir DIR [-prefix n] [-user sim] [-gc-limit MiB]")
		os.Exit(2)
	}
	debug.SetGCPercent(-1)
	debug.SetMemoryLimit(*gcLimit << 20)
	d, err := filepath.Abs(*dir)
	check(err)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		check(err)
		check(pprof.StartCPUProfile(f))
		defer f.Close()
		defer pprof.StopCPUProfile()
	}
	stop, err := serve(d, *n, *prefix, *login)
	check(err)
	<-sig
	stop()
	os.Remove(filepath.Join(d, "ready"))
}

// serve listens on n loopback ports, answers them in goroutines of their
// own and writes the client files into dir. stop closes the ports.
func serve(dir string, n int, prefix, login string) (stop func(), err error) {
	var listeners []net.Listener
	stop = func() {
		for _, l := range listeners {
			l.Close()
		}
	}
	defer func() {
		if err != nil {
			stop()
		}
	}()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	os.Remove(filepath.Join(dir, "ready"))
	_, hostPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	hostSigner, err := ssh.NewSignerFromKey(hostPriv)
	if err != nil {
		return nil, err
	}
	clientPub, clientPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	clientSSHPub, err := ssh.NewPublicKey(clientPub)
	if err != nil {
		return nil, err
	}
	authorized := string(clientSSHPub.Marshal())
	cfg := &ssh.ServerConfig{
		PublicKeyCallback: func(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			if string(key.Marshal()) == authorized {
				return nil, nil
			}
			return nil, errors.New("unknown key")
		},
		ServerVersion: "SSH-2.0-smctl-cheapsshd",
	}
	cfg.AddHostKey(hostSigner)
	width := max(4, len(fmt.Sprint(n)))
	nodes := make([]*node, n)
	for i := range nodes {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("node %d: %w (raise the open file limit for many nodes)", i+1, err)
		}
		listeners = append(listeners, l)
		nd := &node{name: fmt.Sprintf("%s%0*d", prefix, width, i+1), port: l.Addr().(*net.TCPAddr).Port, vmstat: vmstat(i)}
		nodes[i] = nd
		go accept(l, cfg, nd)
	}
	if err := writeFiles(dir, login, nodes, hostSigner.PublicKey(), clientPriv); err != nil {
		return nil, err
	}
	return stop, nil
}

// loadavg is every node's /proc/loadavg.
var loadavg = []byte("0.15 0.10 0.05 1/123 4567\n")

// vmstat is the output smctl sim's node of index i prints for "vmstat".
func vmstat(i int) []byte {
	us, sy := (i*7)%60+1, (i*3)%10+1
	return fmt.Appendf(nil, "procs -----------memory---------- ---swap-- -----io---- -system-- ------cpu-----\n"+
		" r  b   swpd   free   buff  cache   si   so    bi    bo   in   cs us sy id wa st\n"+
		"%2d %2d %6d %6d %6d %6d %4d %4d %5d %5d %4d %4d %2d %2d %2d %2d %2d\n",
		1+i%4, i%2, 0, 4000000+(i*7919)%8000000, 1000+i%900, 800000+i%90000, 0, 0, i%50, i%80, 300+i%200, 500+i%400, us, sy, 100-us-sy, 0, 0)
}

func accept(l net.Listener, cfg *ssh.ServerConfig, nd *node) {
	for {
		conn, err := l.Accept()
		if err != nil {
			return
		}
		go handle(conn, cfg, nd)
	}
}

// exit-status payloads.
var (
	exitOK       = []byte{0, 0, 0, 0}
	exitNotFound = binary.BigEndian.AppendUint32(nil, 127)
)

// handle serves one connection in one loop: global requests are refused,
// sessions are served in turn, anything else is rejected.
func handle(conn net.Conn, cfg *ssh.ServerConfig, nd *node) {
	defer conn.Close()
	sc, chans, reqs, err := ssh.NewServerConn(conn, cfg)
	if err != nil {
		return
	}
	defer sc.Close()
	for {
		select {
		case r, ok := <-reqs:
			if !ok {
				reqs = nil // the connection is closing; chans closes too
				continue
			}
			if r.WantReply {
				r.Reply(false, nil)
			}
		case nc, ok := <-chans:
			if !ok {
				return
			}
			if nc.ChannelType() != "session" {
				nc.Reject(ssh.UnknownChannelType, "only sessions")
				continue
			}
			ch, creqs, err := nc.Accept()
			if err != nil {
				continue
			}
			session(ch, creqs, nd)
		}
	}
}

// session answers the first exec request and closes the channel; other
// requests before it (env, pty-req, subsystem) are refused.
func session(ch ssh.Channel, reqs <-chan *ssh.Request, nd *node) {
	defer ch.Close()
	for r := range reqs {
		if r.Type != "exec" {
			if r.WantReply {
				r.Reply(false, nil)
			}
			continue
		}
		var p struct{ Command string }
		if ssh.Unmarshal(r.Payload, &p) != nil {
			r.Reply(false, nil)
			return
		}
		r.Reply(true, nil)
		switch p.Command {
		case "vmstat":
			ch.Write(nd.vmstat)
			ch.SendRequest("exit-status", false, exitOK)
		case "cat -- '/proc/loadavg'": // smctl's loadavg file
			ch.Write(loadavg)
			ch.SendRequest("exit-status", false, exitOK)
		default:
			fmt.Fprintf(ch.Stderr(), "cheapsshd: %s: only vmstat and cat of /proc/loadavg are answered\n", firstWord(p.Command))
			ch.SendRequest("exit-status", false, exitNotFound)
		}
		return
	}
}

func firstWord(s string) string {
	if f := strings.Fields(s); len(f) > 0 {
		return f[0]
	}
	return s
}

// writeFiles writes what smctl sim writes into its directory, in the same
// formats, then the ready file.
func writeFiles(dir, login string, nodes []*node, hostKey ssh.PublicKey, clientPriv ed25519.PrivateKey) error {
	block, err := ssh.MarshalPrivateKey(clientPriv, "smctl cheapsshd client")
	if err != nil {
		return err
	}
	key := filepath.Join(dir, "id_ed25519")
	knownHosts := filepath.Join(dir, "known_hosts")
	commonFile := filepath.Join(dir, "ssh_config.common")
	common := sim.TrustBlock(login, key, sim.HostKeyAlias, knownHosts)
	var full, hosts, disc strings.Builder
	fmt.Fprintf(&full, "# generated by cheapsshd: %d nodes on 127.0.0.1\n", len(nodes))
	for _, nd := range nodes {
		fmt.Fprintf(&full, "Host %s\n  HostName 127.0.0.1\n  Port %d\n", nd.name, nd.port)
		fmt.Fprintln(&hosts, nd.name)
		fmt.Fprintf(&disc, "server %s address=127.0.0.1 port=%d ssh_config=%s\n", nd.name, nd.port, commonFile)
	}
	full.WriteString(common)
	files := []struct{ name, body string }{
		{"id_ed25519", string(pem.EncodeToMemory(block))},
		{"known_hosts", sim.HostKeyAlias + " " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(hostKey))) + "\n"},
		{"ssh_config.common", "# generated by cheapsshd: settings every node shares\n" + common},
		{"ssh_config", full.String()},
		{"hosts.txt", hosts.String()},
		{"discover.txt", disc.String()},
		{"ready", fmt.Sprintln(os.Getpid())},
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f.name), []byte(f.body), 0o600); err != nil {
			return err
		}
	}
	return nil
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "cheapsshd:", err)
		os.Exit(1)
	}
}
