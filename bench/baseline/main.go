// Command baseline is the floor the SSH benchmark measures smctl against:
// the least a Go program must do to run one command on many nodes, with
// golang.org/x/crypto/ssh and an errgroup, keeping every output in memory.
// No configuration, no state, no retries.
//
//	baseline -nodes FILE -key KEY -hostkey KNOWN_HOSTS_LINE_FILE -p 64 vmstat
//
// FILE has one "HOST PORT" per line. It prints "ok N failed M". With
// -warm it connects to every node first, then runs the command over those
// connections and prints "ok N failed M warm SECONDS", the time of the
// second phase alone: the floor of a run through warm connections.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/user"
	"runtime/pprof"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/sync/errgroup"
)

func main() {
	nodes := flag.String("nodes", "", "file of HOST PORT lines")
	keyFile := flag.String("key", "", "private key")
	hostKeyFile := flag.String("hostkey", "", "known_hosts file whose first line's key every node has")
	par := flag.Int("p", 64, "parallelism")
	login := flag.String("user", "", "login name (default: current user)")
	timeout := flag.Duration("timeout", 30*time.Second, "per-node timeout")
	warm := flag.Bool("warm", false, "connect first, then time the command over the open connections")
	flag.Parse()
	// $BASELINE_CPUPROFILE=FILE: a CPU profile of the run, to compare
	// with smctl's ($SMCTL_CPUPROFILE).
	if f := os.Getenv("BASELINE_CPUPROFILE"); f != "" {
		out, err := os.Create(f)
		check(err)
		check(pprof.StartCPUProfile(out))
		defer func() { pprof.StopCPUProfile(); out.Close() }()
	}
	if *nodes == "" || *keyFile == "" || *hostKeyFile == "" || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: baseline -nodes FILE -key KEY -hostkey FILE [-p N] COMMAND")
		os.Exit(2)
	}
	if *login == "" {
		u, _ := user.Current()
		*login = u.Username
	}
	command := strings.Join(flag.Args(), " ")
	kb, err := os.ReadFile(*keyFile)
	check(err)
	signer, err := ssh.ParsePrivateKey(kb)
	check(err)
	hb, err := os.ReadFile(*hostKeyFile)
	check(err)
	_, _, hostKey, _, _, err := ssh.ParseKnownHosts(hb)
	check(err)
	cfg := &ssh.ClientConfig{
		User:            *login,
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: ssh.FixedHostKey(hostKey),
		Timeout:         *timeout,
	}
	f, err := os.Open(*nodes)
	check(err)
	var addrs []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fs := strings.Fields(sc.Text()); len(fs) == 2 {
			addrs = append(addrs, net.JoinHostPort(fs[0], fs[1]))
		}
	}
	outputs := make([][]byte, len(addrs))
	var ok, failed atomic.Int64
	if *warm {
		clients := make([]*ssh.Client, len(addrs))
		var g errgroup.Group
		g.SetLimit(*par)
		for i, a := range addrs {
			g.Go(func() error {
				clients[i], _ = ssh.Dial("tcp", a, cfg)
				return nil
			})
		}
		g.Wait()
		start := time.Now()
		each(len(clients), *par, func(i int) ([]byte, error) {
			if clients[i] == nil {
				return nil, errors.New("not connected")
			}
			return session(clients[i], command)
		}, outputs, &ok, &failed)
		fmt.Printf("ok %d failed %d warm %.4f\n", ok.Load(), failed.Load(), time.Since(start).Seconds())
		return
	}
	each(len(addrs), *par, func(i int) ([]byte, error) { return run(addrs[i], cfg, command) }, outputs, &ok, &failed)
	fmt.Printf("ok %d failed %d\n", ok.Load(), failed.Load())
}

// each runs f on the n items, par at once, keeping each output and
// counting successes and failures.
func each(n, par int, f func(i int) ([]byte, error), outputs [][]byte, ok, failed *atomic.Int64) {
	var g errgroup.Group
	g.SetLimit(par)
	for i := range n {
		g.Go(func() error {
			out, err := f(i)
			if err != nil {
				failed.Add(1)
				return nil
			}
			outputs[i] = out
			ok.Add(1)
			return nil
		})
	}
	g.Wait()
}

func run(addr string, cfg *ssh.ClientConfig, command string) ([]byte, error) {
	c, err := ssh.Dial("tcp", addr, cfg)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return session(c, command)
}

func session(c *ssh.Client, command string) ([]byte, error) {
	s, err := c.NewSession()
	if err != nil {
		return nil, err
	}
	defer s.Close()
	var out bytes.Buffer
	s.Stdout = &out
	if err := s.Run(command); err != nil {
		var ee *ssh.ExitError
		if !errors.As(err, &ee) {
			return nil, err
		}
		return nil, err
	}
	return out.Bytes(), nil
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "baseline:", err)
		os.Exit(1)
	}
}
