package sshx

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/smctl/smctl/pkg/fanout"
	"github.com/smctl/smctl/pkg/sim"
	"github.com/smctl/smctl/pkg/status"
)

func startSim(t *testing.T, o sim.Options) *sim.Cluster {
	t.Helper()
	o.Dir = t.TempDir()
	c, err := sim.Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestExecAndFiles(t *testing.T) {
	c := startSim(t, sim.Options{N: 3})
	p := NewPool(Options{ConfigFiles: []string{c.ConfigFile}})
	defer p.Close()
	ctx := context.Background()
	for _, n := range c.Nodes {
		tr := &Transport{Pool: p, Target: Target{Alias: n.Name}}
		out, err := tr.Exec(ctx, "hostname", nil, 1<<20)
		if err != nil || string(out.Stdout) != n.Name+"\n" || out.Exit != 0 {
			t.Fatalf("%s: hostname = %q %v %d", n.Name, out.Stdout, err, out.Exit)
		}
	}
	tr := &Transport{Pool: p, Target: Target{Alias: c.Nodes[1].Name}}
	out, err := tr.Exec(ctx, "echo 'a b'; exit 3", nil, 1<<20)
	if err != nil || string(out.Stdout) != "a b\n" || out.Exit != 3 {
		t.Errorf("exit 3: %q %v %d", out.Stdout, err, out.Exit)
	}
	b, err := tr.ReadFile(ctx, "/proc/sys/kernel/hostname", 1<<20)
	if err != nil || string(b) != c.Nodes[1].Name+"\n" {
		t.Errorf("ReadFile = %q, %v", b, err)
	}
	if _, err := tr.ReadFile(ctx, "/proc/nope", 1<<20); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadFile(missing) = %v", err)
	}
	es, err := tr.ReadDir(ctx, "/proc/sys")
	if err != nil || len(es) != 1 || es[0].Name != "kernel" || !es[0].Mode.IsDir() {
		t.Errorf("ReadDir(/proc/sys) = %+v, %v", es, err)
	}
	e, err := tr.Stat(ctx, "/proc/loadavg")
	if err != nil || e.Mode.IsDir() {
		t.Errorf("Stat = %+v, %v", e, err)
	}
	if _, err := tr.Exec(ctx, "vmstat", nil, 10); !errors.Is(err, ErrOutputLimit) {
		t.Errorf("output cap: %v", err)
	}
}

func TestHostKeys(t *testing.T) {
	c := startSim(t, sim.Options{N: 1})
	ctx := context.Background()
	n := c.Nodes[0]
	// A known_hosts with another key for the alias: refused, naming the node.
	bad := filepath.Join(t.TempDir(), "known_hosts")
	os.WriteFile(bad, []byte(sim.HostKeyAlias+" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n"), 0o600)
	cfg := filepath.Join(t.TempDir(), "ssh_config")
	os.WriteFile(cfg, []byte(strings.Replace(readFile(t, c.ConfigFile), c.KnownHosts, bad, 1)), 0o600)
	p := NewPool(Options{ConfigFiles: []string{cfg}})
	defer p.Close()
	_, err := (&Transport{Pool: p, Target: Target{Alias: n.Name}}).Exec(ctx, "true", nil, 100)
	if !errors.Is(err, ErrHostKeyChanged) || !strings.Contains(err.Error(), n.Name) {
		t.Fatalf("changed key: %v", err)
	}
	// Unknown host: refused by default, recorded with accept-new.
	empty := filepath.Join(t.TempDir(), "kh")
	os.WriteFile(cfg, []byte(strings.Replace(readFile(t, c.ConfigFile), c.KnownHosts, empty, 1)), 0o600)
	p2 := NewPool(Options{ConfigFiles: []string{cfg}})
	defer p2.Close()
	_, err = (&Transport{Pool: p2, Target: Target{Alias: n.Name}}).Exec(ctx, "true", nil, 100)
	if !errors.Is(err, ErrHostKeyUnknown) {
		t.Fatalf("unknown key: %v", err)
	}
	p3 := NewPool(Options{ConfigFiles: []string{cfg}, StrictHostKey: "accept-new"})
	defer p3.Close()
	if _, err := (&Transport{Pool: p3, Target: Target{Alias: n.Name}}).Exec(ctx, "true", nil, 100); err != nil {
		t.Fatalf("accept-new: %v", err)
	}
	if kh := readFile(t, empty); !strings.HasPrefix(kh, sim.HostKeyAlias+" ssh-ed25519 ") {
		t.Errorf("accept-new recorded %q", kh)
	}
	// A new pool now trusts the recorded key.
	p4 := NewPool(Options{ConfigFiles: []string{cfg}})
	defer p4.Close()
	if _, err := (&Transport{Pool: p4, Target: Target{Alias: n.Name}}).Exec(ctx, "true", nil, 100); err != nil {
		t.Fatalf("after accept-new: %v", err)
	}
}

func readFile(t *testing.T, p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestFailures(t *testing.T) {
	c := startSim(t, sim.Options{N: 20, Refuse: 0.1, Hang: 0.1, Fail: 0.1, Drop: 0.1, Seed: 7})
	p := NewPool(Options{ConfigFiles: []string{c.ConfigFile}, Retries: 2})
	defer p.Close()
	for _, n := range c.Nodes {
		// Long enough for a healthy node on a loaded machine; a hanging
		// node costs exactly this.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		out, err := (&Transport{Pool: p, Target: Target{Alias: n.Name}}).Exec(ctx, "hostname", nil, 1<<20)
		cancel()
		switch n.Behaviour {
		case sim.OK, sim.Drop: // a dropped first connection is retried
			if err != nil || out.Exit != 0 {
				t.Errorf("%s (%s): %v %d", n.Name, n.Behaviour, err, out.Exit)
			}
		case sim.Refuse:
			if err == nil || Transient(err) || !strings.Contains(err.Error(), "refused") || status.Of(err) != status.Unreachable {
				t.Errorf("%s refuse: %v (status %d)", n.Name, err, status.Of(err))
			}
		case sim.Hang:
			if !errors.Is(err, context.DeadlineExceeded) || status.Of(err) != status.Timeout {
				t.Errorf("%s hang: %v (status %d)", n.Name, err, status.Of(err))
			}
		case sim.Fail:
			if err != nil || out.Exit != 1 || !strings.Contains(string(out.Stderr), "simulated failure") {
				t.Errorf("%s fail: %v %d %q", n.Name, err, out.Exit, out.Stderr)
			}
		}
	}
}

func TestPassword(t *testing.T) {
	c := startSim(t, sim.Options{N: 1, Password: "s3cret"})
	cfg := filepath.Join(t.TempDir(), "ssh_config")
	// No key: only the password can work.
	os.WriteFile(cfg, []byte(strings.Replace(readFile(t, c.ConfigFile), "IdentityFile ", "#IdentityFile ", 1)), 0o600)
	p := NewPool(Options{ConfigFiles: []string{cfg}})
	defer p.Close()
	n := c.Nodes[0]
	_, err := (&Transport{Pool: p, Target: Target{Alias: n.Name, Password: "wrong"}}).Exec(context.Background(), "true", nil, 100)
	if err == nil || !strings.Contains(err.Error(), "unable to authenticate") {
		t.Fatalf("wrong password: %v", err)
	}
	out, err := (&Transport{Pool: p, Target: Target{Alias: n.Name, Password: "s3cret"}}).Exec(context.Background(), "hostname", nil, 100)
	if err != nil || strings.TrimSpace(string(out.Stdout)) != n.Name {
		t.Fatalf("password: %q %v", out.Stdout, err)
	}
}

func TestSettings(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config")
	os.WriteFile(cfg, []byte(`
Host web*
  HostName %h.example.test
  Port 2200
  User ops
  IdentityFile ~/.ssh/web_key
  IdentityFile /keys/%r
Match host db1
  ProxyJump bastion:2022
  StrictHostKeyChecking accept-new
  ConnectTimeout 3
Host *
  User fallback
  UserKnownHostsFile /kh/one /kh/two
  HostKeyAlias shared
`), 0o600)
	p := NewPool(Options{ConfigFiles: []string{cfg}})
	s, err := p.Settings(Target{Alias: "web7"})
	if err != nil {
		t.Fatal(err)
	}
	if s.HostName != "web7.example.test" || s.Port != 2200 || s.User != "ops" || len(s.IdentityFiles) != 2 || s.IdentityFiles[1] != "/keys/ops" {
		t.Errorf("web7 = %+v", s)
	}
	if s.KnownHostsFiles[1] != "/kh/two" || s.HostKeyAlias != "shared" || s.StrictHostKey != "yes" {
		t.Errorf("web7 host keys = %+v", s)
	}
	s, err = p.Settings(Target{Alias: "db1", Port: 2022, User: "me"})
	if err != nil {
		t.Fatal(err)
	}
	if s.ProxyJump != "bastion:2022" || s.StrictHostKey != "accept-new" || s.ConnectTimeout != 3*time.Second || s.Port != 2022 || s.User != "me" {
		t.Errorf("db1 = %+v", s)
	}
	if jt, err := parseJump("admin@bastion:2022"); err != nil || jt.User != "admin" || jt.Alias != "bastion" || jt.Port != 2022 {
		t.Errorf("parseJump = %+v, %v", jt, err)
	}
}

// TestCancel: ^C (a cancelled context) ends a running remote command at
// once, closes its channel, and leaves no goroutine behind once the pool
// is closed.
func TestCancel(t *testing.T) {
	c := startSim(t, sim.Options{N: 4})
	before := runtime.NumGoroutine()
	p := NewPool(Options{ConfigFiles: []string{c.ConfigFile}})
	ctx, cancel := context.WithCancel(context.Background())
	errs := make(chan error, len(c.Nodes))
	for _, n := range c.Nodes {
		go func() {
			_, err := (&Transport{Pool: p, Target: Target{Alias: n.Name}}).Exec(ctx, "sleep 30", nil, 100)
			errs <- err
		}()
	}
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	cancel()
	for range c.Nodes {
		if err := <-errs; !errors.Is(err, context.Canceled) {
			t.Errorf("Exec after cancel: %v", err)
		}
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("cancel took %v", d)
	}
	p.Close()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines left after close (was %d):\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}

// TestProxyJump reaches a node through another, as ssh -J does.
func TestProxyJump(t *testing.T) {
	c := startSim(t, sim.Options{N: 2})
	cfg := filepath.Join(t.TempDir(), "ssh_config")
	body := strings.Replace(readFile(t, c.ConfigFile), "Host n0002\n", "Host n0002\n  ProxyJump n0001\n", 1)
	os.WriteFile(cfg, []byte(body), 0o600)
	p := NewPool(Options{ConfigFiles: []string{cfg}})
	defer p.Close()
	out, err := (&Transport{Pool: p, Target: Target{Alias: "n0002"}}).Exec(context.Background(), "hostname", nil, 100)
	if err != nil || string(out.Stdout) != "n0002\n" {
		t.Fatalf("through n0001: %q %v", out.Stdout, err)
	}
	// A jump host that is down: the error names it.
	os.WriteFile(cfg, []byte(strings.Replace(body, "ProxyJump n0001", "ProxyJump 127.0.0.1:1", 1)), 0o600)
	p2 := NewPool(Options{ConfigFiles: []string{cfg}})
	defer p2.Close()
	_, err = (&Transport{Pool: p2, Target: Target{Alias: "n0002"}}).Exec(context.Background(), "hostname", nil, 100)
	if err == nil || !strings.Contains(err.Error(), "ProxyJump 127.0.0.1:1") {
		t.Fatalf("dead jump host: %v", err)
	}
}

// TestAgent authenticates with a key held only by an ssh-agent, over one
// shared agent connection.
func TestAgent(t *testing.T) {
	c := startSim(t, sim.Options{N: 3})
	raw, err := ssh.ParseRawPrivateKey([]byte(readFile(t, filepath.Join(c.Dir, "id_ed25519"))))
	if err != nil {
		t.Fatal(err)
	}
	keyring := agent.NewKeyring()
	if err := keyring.Add(agent.AddedKey{PrivateKey: raw}); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "agent.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var conns atomic.Int32
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			go agent.ServeAgent(keyring, conn)
		}
	}()
	cfg := filepath.Join(t.TempDir(), "ssh_config")
	body := readFile(t, c.ConfigFile)
	body = strings.Replace(body, "IdentityFile ", "#IdentityFile ", 1)
	body = strings.Replace(body, "IdentitiesOnly yes", "IdentitiesOnly no", 1)
	body = strings.Replace(body, "IdentityAgent none", "IdentityAgent "+sock, 1)
	os.WriteFile(cfg, []byte(body), 0o600)
	p := NewPool(Options{ConfigFiles: []string{cfg}})
	defer p.Close()
	for _, n := range c.Nodes {
		out, err := (&Transport{Pool: p, Target: Target{Alias: n.Name}}).Exec(context.Background(), "hostname", nil, 100)
		if err != nil || string(out.Stdout) != n.Name+"\n" {
			t.Fatalf("%s via agent: %q %v", n.Name, out.Stdout, err)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d agent connections, want 1 shared", n)
	}
}

// BenchmarkExec200 runs vmstat on 200 simulated nodes (served in this
// process) through the fan-out, a new connection per node, as a write of
// the command file does. bench/run.sh measures the whole tool against
// others; this isolates the transport.
func BenchmarkExec200(b *testing.B) {
	c, err := sim.Start(sim.Options{N: 200, Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	b.ResetTimer()
	for b.Loop() {
		p := NewPool(Options{ConfigFiles: []string{c.ConfigFile}, MaxIdle: 1})
		rs := fanout.All(context.Background(), len(c.Nodes), 64, func(ctx context.Context, i int) (int, error) {
			out, err := (&Transport{Pool: p, Target: Target{Alias: c.Nodes[i].Name}}).Exec(ctx, "vmstat", nil, 1<<20)
			return out.Exit, err
		})
		p.Close()
		for _, r := range rs {
			if r.Err != nil || r.Value != 0 {
				b.Fatalf("%s: %v %d", c.Nodes[r.Index].Name, r.Err, r.Value)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/200, "µs/node")
}
