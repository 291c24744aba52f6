package sshx

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/iotest"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/smctl/smctl/pkg/sim"
)

// idleAliases returns the aliases of the pool's idle clients, oldest first.
func idleAliases(p *Pool) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, k := range p.idle {
		a, _, _ := strings.Cut(k, "|")
		out = append(out, a)
	}
	return out
}

// TestPoolIdle follows the clients of a pool through uses and releases: a
// client is idle only once its last user has released it, a reused client
// leaves the idle list, and past MaxIdle the oldest idle client is closed
// and the next use of its node dials anew.
func TestPoolIdle(t *testing.T) {
	c := startSim(t, sim.Options{N: 3})
	n1, n2, n3 := c.Nodes[0].Name, c.Nodes[1].Name, c.Nodes[2].Name
	ctx := context.Background()
	get := func(p *Pool, alias string) (*ssh.Client, func()) {
		t.Helper()
		cl, release, err := p.Client(ctx, Target{Alias: alias})
		if err != nil {
			t.Fatalf("%s: %v", alias, err)
		}
		return cl, release
	}
	checkIdle := func(p *Pool, step string, want ...string) {
		t.Helper()
		if got := idleAliases(p); !slices.Equal(got, want) {
			t.Fatalf("%s: idle %q, want %q", step, got, want)
		}
	}

	t.Run("MaxIdle 2", func(t *testing.T) {
		p := NewPool(Options{ConfigFiles: []string{c.ConfigFile}, MaxIdle: 2})
		defer p.Close()
		c1, r1a := get(p, n1)
		c1b, r1b := get(p, n1)
		if c1b != c1 {
			t.Fatal("two uses of a node got two clients")
		}
		checkIdle(p, "n1 used twice", []string{}...)
		r1a()
		checkIdle(p, "n1 released once of twice")
		r1b()
		checkIdle(p, "n1 released", n1)
		c2, r2 := get(p, n2)
		r2()
		checkIdle(p, "n2 released", n1, n2)
		again, r := get(p, n1)
		if again != c1 {
			t.Fatal("idle client of n1 not reused")
		}
		checkIdle(p, "n1 in use again", n2)
		r()
		checkIdle(p, "n1 released again", n2, n1)
		_, r3 := get(p, n3)
		r3()
		checkIdle(p, "n3 released: n2 closed", n1, n3)
		c2b, r := get(p, n2)
		defer r()
		if c2b == c2 {
			t.Error("n2's client past MaxIdle was reused, not closed")
		}
		if err := c2.Wait(); err == nil {
			t.Error("n2's client past MaxIdle still open")
		}
	})

	t.Run("MaxIdle default", func(t *testing.T) {
		p := NewPool(Options{ConfigFiles: []string{c.ConfigFile}})
		defer p.Close()
		var first []*ssh.Client
		for _, a := range []string{n1, n2, n3} {
			cl, r := get(p, a)
			r()
			first = append(first, cl)
		}
		checkIdle(p, "three released", n1, n2, n3)
		for i, a := range []string{n1, n2, n3} {
			cl, r := get(p, a)
			r()
			if cl != first[i] {
				t.Errorf("%s: idle client not reused", a)
			}
		}
	})

	t.Run("release after Close", func(t *testing.T) {
		p := NewPool(Options{ConfigFiles: []string{c.ConfigFile}})
		_, r := get(p, n1)
		p.Close()
		r()
		checkIdle(p, "released after Close")
		if _, _, err := p.Client(ctx, Target{Alias: n1}); err == nil {
			t.Error("Client after Close: no error")
		}
	})
}

// writeHostConfig writes an ssh_config for alias h at addr with no key.
func writeHostConfig(t *testing.T, addr string, extra string) string {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "ssh_config")
	body := fmt.Sprintf("Host h\n  HostName %s\n  Port %s\n  IdentityFile %s\n  IdentityAgent none\n%s", host, port,
		filepath.Join(t.TempDir(), "no_key"), extra)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// countingServer accepts connections, counting them, and hands each to
// serve. Once more than max have come, it cancels cancel (to end a dial
// that would go on retrying).
func countingServer(t *testing.T, max int32, cancel func(), serve func(net.Conn)) (string, *atomic.Int32) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	var n atomic.Int32
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			if n.Add(1) > max {
				cancel()
			}
			go serve(conn)
		}
	}()
	return l.Addr().String(), &n
}

// TestRetries: a connection closed during the handshake (transient) is
// tried Retries+1 times in all; an authentication failure once.
func TestRetries(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	_, hostKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(hostKey)
	if err != nil {
		t.Fatal(err)
	}
	refuseAuth := &ssh.ServerConfig{
		PasswordCallback: func(ssh.ConnMetadata, []byte) (*ssh.Permissions, error) { return nil, errors.New("no") },
	}
	refuseAuth.AddHostKey(signer)
	closeAtOnce := func(c net.Conn) { c.Close() }
	authFails := func(c net.Conn) {
		defer c.Close()
		if sc, _, _, err := ssh.NewServerConn(c, refuseAuth); err == nil {
			sc.Close()
		}
	}
	tests := []struct {
		name      string
		serve     func(net.Conn)
		retries   int
		want      int32
		transient bool
	}{
		{"dropped, no retry", closeAtOnce, 0, 1, true},
		{"dropped, 1 retry", closeAtOnce, 1, 2, true},
		{"dropped, 3 retries", closeAtOnce, 3, 4, true},
		{"auth fails, not retried", authFails, 3, 1, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			addr, n := countingServer(t, tc.want, cancel, tc.serve)
			p := NewPool(Options{ConfigFiles: []string{writeHostConfig(t, addr, "")}, Retries: tc.retries, StrictHostKey: "no"})
			defer p.Close()
			_, _, err := p.Client(ctx, Target{Alias: "h", Password: "pw"})
			if err == nil {
				t.Fatal("Client: no error")
			}
			if got := n.Load(); got != tc.want {
				t.Errorf("%d connections, want %d (err %v)", got, tc.want, err)
			}
			if Transient(err) != tc.transient {
				t.Errorf("Transient(%v) = %v", err, !tc.transient)
			}
		})
	}
}

// quietErr wraps an error under a message that names nothing.
type quietErr struct{ err error }

func (e quietErr) Error() string { return "quiet" }
func (e quietErr) Unwrap() error { return e.err }

func TestTransientKinds(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"ECONNRESET under another message", quietErr{syscall.ECONNRESET}, true},
		{"EOF", io.EOF, true},
		{"EOF under another message", quietErr{io.EOF}, true},
		{"unexpected EOF", io.ErrUnexpectedEOF, true},
		{"EPIPE under another message", quietErr{syscall.EPIPE}, true},
		{"EPIPE", syscall.EPIPE, true},
		{"reset message", errors.New("read tcp: connection reset by peer"), true},
		{"handshake EOF message", errors.New("ssh: handshake failed: EOF"), true},
		{"kex_exchange_identification message", errors.New("kex_exchange_identification: read: Connection reset"), true},
		{"handshake EOF not at the end", errors.New("ssh: handshake failed: EOF and more"), false},
		{"ECONNREFUSED", quietErr{syscall.ECONNREFUSED}, false},
		{"authentication", errors.New("ssh: unable to authenticate"), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Transient(tc.err); got != tc.want {
				t.Errorf("Transient(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

func writeKey(t *testing.T, path string) ssh.PublicKey {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	blk, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(blk), 0o600); err != nil {
		t.Fatal(err)
	}
	pk, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pk
}

// TestAuthMethods: which keys and which password a connection offers.
func TestAuthMethods(t *testing.T) {
	keys := t.TempDir()
	k1, k2 := filepath.Join(keys, "k1"), filepath.Join(keys, "k2")
	pk1, pk2 := writeKey(t, k1), writeKey(t, k2)
	homeWithKey := t.TempDir()
	pkHome := writeKey(t, filepath.Join(homeWithKey, ".ssh", "id_ecdsa"))

	// An agent holding its own key, reached through $SSH_AUTH_SOCK.
	_, apriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	keyring := agent.NewKeyring()
	if err := keyring.Add(agent.AddedKey{PrivateKey: apriv}); err != nil {
		t.Fatal(err)
	}
	pkAgent, _ := ssh.NewPublicKey(apriv.Public())
	encBlk, err := ssh.MarshalPrivateKeyWithPassphrase(apriv, "", []byte("secret"))
	if err != nil {
		t.Fatal(err)
	}
	enc := filepath.Join(keys, "enc")
	if err := os.WriteFile(enc, pem.EncodeToMemory(encBlk), 0o600); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "agent.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go agent.ServeAgent(keyring, conn)
		}
	}()

	tests := []struct {
		name     string
		home     string
		authSock string
		config   string
		target   Target
		keys     []ssh.PublicKey
		wantErr  bool // no way to authenticate
		methods  int
	}{
		{name: "nothing", config: "IdentityAgent none", wantErr: true},
		{name: "password", config: "IdentityAgent none", target: Target{Password: "pw"}, methods: 2},
		{name: "password for this user", config: "IdentityAgent none\n  User u", target: Target{Password: "pw", PasswordUser: "u"}, methods: 2},
		{name: "password for another user", config: "IdentityAgent none\n  User u", target: Target{Password: "pw", PasswordUser: "v"}, wantErr: true},
		{name: "password off", config: "IdentityAgent none\n  PasswordAuthentication no", target: Target{Password: "pw"}, wantErr: true},
		{name: "two identity files", config: "IdentityAgent none\n  IdentityFile " + k1 + "\n  IdentityFile " + k2, keys: []ssh.PublicKey{pk1, pk2}, methods: 1},
		{name: "identity file and password", config: "IdentityAgent none\n  IdentityFile " + k2, target: Target{Password: "pw"}, keys: []ssh.PublicKey{pk2}, methods: 3},
		{name: "identity file, not home's", home: homeWithKey, config: "IdentityAgent none\n  IdentityFile " + k1, keys: []ssh.PublicKey{pk1}, methods: 1},
		{name: "home's default key", home: homeWithKey, config: "IdentityAgent none", keys: []ssh.PublicKey{pkHome}, methods: 1},
		{name: "agent of SSH_AUTH_SOCK", authSock: sock, config: "IdentityFile " + k1, keys: []ssh.PublicKey{pk1, pkAgent}, methods: 1},
		{name: "agent of IdentityAgent", authSock: "", config: "IdentityAgent " + sock, keys: []ssh.PublicKey{pkAgent}, methods: 1},
		{name: "encrypted identity file through the agent", authSock: sock, config: "IdentitiesOnly yes\n  IdentityFile " + enc, keys: []ssh.PublicKey{pkAgent}, methods: 1},
		{name: "encrypted identity file, no agent", config: "IdentityAgent none\n  IdentityFile " + enc, target: Target{Password: "pw"}, methods: 2},
		{name: "IdentitiesOnly", authSock: sock, config: "IdentitiesOnly yes\n  IdentityFile " + k1, keys: []ssh.PublicKey{pk1}, methods: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			home := tc.home
			if home == "" {
				home = t.TempDir()
			}
			t.Setenv("HOME", home)
			t.Setenv("SSH_AUTH_SOCK", tc.authSock)
			cfg := filepath.Join(t.TempDir(), "ssh_config")
			if err := os.WriteFile(cfg, []byte("Host h\n  "+tc.config+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			p := NewPool(Options{ConfigFiles: []string{cfg}, StrictHostKey: "no"})
			defer p.Close()
			tc.target.Alias = "h"
			s, err := p.Settings(tc.target)
			if err != nil {
				t.Fatal(err)
			}
			signers, err := p.signers(s)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, sg := range signers {
				got = append(got, ssh.FingerprintSHA256(sg.PublicKey()))
			}
			var want []string
			for _, k := range tc.keys {
				want = append(want, ssh.FingerprintSHA256(k))
			}
			if !slices.Equal(got, want) {
				t.Errorf("keys %q, want %q", got, want)
			}
			cc, err := p.clientConfig(s, tc.target)
			if tc.wantErr {
				if err == nil || !strings.Contains(err.Error(), "no way to authenticate") {
					t.Fatalf("clientConfig: %v, want no way to authenticate", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(cc.Auth) != tc.methods {
				t.Errorf("%d auth methods, want %d", len(cc.Auth), tc.methods)
			}
		})
	}
}

// TestCapBuffer: the output cap lets through exactly max bytes, keeping
// what fits of the write that crosses it; 0 is no cap.
func TestCapBuffer(t *testing.T) {
	tests := []struct {
		name   string
		max    int64
		writes []string
		want   string
		over   bool
	}{
		{"no cap", 0, []string{"abc", "def"}, "abcdef", false},
		{"exactly max", 3, []string{"abc"}, "abc", false},
		{"exactly max in two", 3, []string{"ab", "c"}, "abc", false},
		{"one past max", 3, []string{"ab", "cd"}, "abc", true},
		{"over stays over", 3, []string{"abcd", "a"}, "abc", true},
		{"full then more", 3, []string{"abc", "d"}, "abc", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			overs := make(chan struct{}, 1)
			w := &capBuffer{max: tc.max, onOver: func() { overs <- struct{}{} }}
			var err error
			for _, s := range tc.writes {
				if _, e := w.Write([]byte(s)); e != nil {
					err = e
				}
			}
			if got := string(w.bytes()); got != tc.want {
				t.Errorf("kept %q, want %q", got, tc.want)
			}
			if (err != nil) != tc.over || (err != nil && !errors.Is(err, ErrOutputLimit)) {
				t.Errorf("error %v, want over=%v", err, tc.over)
			}
			if tc.over {
				<-overs // onOver runs once the cap is passed
			}
		})
	}
}

// TestExistingKnownHosts: a missing known_hosts file is skipped, not the
// end of the list.
func TestExistingKnownHosts(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	for _, f := range []string{a, b} {
		if err := os.WriteFile(f, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	missing := filepath.Join(dir, "missing")
	got, err := existing([]string{missing, a, filepath.Join(dir, "also-missing"), b, dir})
	if err != nil || !slices.Equal(got, []string{a, b}) {
		t.Errorf("existing = %q, %v; want %q", got, err, []string{a, b})
	}
}

// TestCapBufferReadFrom: a session's output copied into the cap (io.Copy,
// as x/crypto/ssh copies it) keeps what the writes would, stops with
// ErrOutputLimit past the cap, and allocates no 32 KiB buffer per copy;
// stderr's dropAfter takes it all without an error.
func TestCapBufferReadFrom(t *testing.T) {
	src := strings.Repeat("0123456789", 10000) // 100 kB, read in pieces
	for _, max := range []int64{0, 5, 50000, 100000} {
		w := &capBuffer{max: max, onOver: func() {}}
		n, err := io.Copy(w, iotest.HalfReader(strings.NewReader(src)))
		want := src
		if max > 0 && int64(len(src)) > max {
			want = src[:max]
		}
		if string(w.bytes()) != want || (err != nil) != (max > 0 && max < int64(len(src))) || err != nil && !errors.Is(err, ErrOutputLimit) {
			t.Errorf("max %d: kept %d bytes (want %d), copied %d, %v", max, len(w.bytes()), len(want), n, err)
		}
		d := &dropAfter{w: &capBuffer{max: max, onOver: func() {}}}
		if n, err := io.Copy(d, struct{ io.Reader }{strings.NewReader(src)}); err != nil || n != int64(len(src)) {
			t.Errorf("max %d: dropAfter copied %d, %v; want all, no error", max, n, err)
		}
	}
	// A buffer reused as a session's is: io.Copy through ReadFrom allocates
	// nothing once it has grown; without, a 32 KiB buffer each time.
	w := &capBuffer{onOver: func() {}}
	d := &dropAfter{w: &capBuffer{onOver: func() {}}}
	r := &struct{ io.Reader }{} // no WriteTo, as an SSH channel
	sr := strings.NewReader("")
	allocs := testing.AllocsPerRun(100, func() {
		w.buf.Reset()
		sr.Reset("ok\n")
		r.Reader = sr
		io.Copy(w, r)
		io.Copy(d, r)
	})
	if allocs >= 1 && !raceOn { // the race detector allocates by itself
		t.Errorf("a copy allocated %.1f times: a buffer per copy", allocs)
	}
}

// TestReconnectLost: a kept client whose connection was lost is dropped
// and dialled again by the next command, which runs; Tend closes clients
// idle past its bound and keeps the others.
func TestReconnectLost(t *testing.T) {
	c := startSim(t, sim.Options{N: 2})
	p := NewPool(Options{ConfigFiles: []string{c.ConfigFile}})
	defer p.Close()
	ctx := context.Background()
	tr := &Transport{Pool: p, Target: Target{Alias: c.Nodes[0].Name}}
	if _, err := tr.Exec(ctx, "true", nil, 10); err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	old := p.clients[tr.Target.key()].client
	p.mu.Unlock()
	old.Close() // the connection lost
	out, err := tr.Exec(ctx, "hostname", nil, 100)
	if err != nil || strings.TrimSpace(string(out.Stdout)) != c.Nodes[0].Name {
		t.Fatalf("after the connection was lost: %q %v", out.Stdout, err)
	}
	p.mu.Lock()
	now := p.clients[tr.Target.key()].client
	p.mu.Unlock()
	if now == old {
		t.Error("the lost client was kept")
	}
	other := &Transport{Pool: p, Target: Target{Alias: c.Nodes[1].Name}}
	if _, err := other.Exec(ctx, "true", nil, 10); err != nil {
		t.Fatal(err)
	}
	if n := p.Tend(time.Hour); n != 0 {
		t.Errorf("Tend(1h) closed %d of 2 fresh clients", n)
	}
	if open, idle := p.Stats(); open != 2 || idle != 2 {
		t.Errorf("Stats = %d open, %d idle; want 2, 2", open, idle)
	}
	// A connection lost while idle fails its keepalive and is dropped.
	p.mu.Lock()
	p.clients[other.Target.key()].client.Close()
	p.mu.Unlock()
	if n := p.Tend(time.Hour); n != 1 {
		t.Errorf("Tend after a connection was lost closed %d, want 1", n)
	}
	if _, err := other.Exec(ctx, "true", nil, 10); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	if n := p.Tend(10 * time.Millisecond); n != 2 {
		t.Errorf("Tend(10ms) closed %d, want 2", n)
	}
	if open, idle := p.Stats(); open != 0 || idle != 0 {
		t.Errorf("Stats after Tend = %d open, %d idle; want none", open, idle)
	}
}
