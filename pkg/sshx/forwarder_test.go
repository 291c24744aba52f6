package sshx

import (
	"bufio"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smctl/smctl/internal/testsshd"
	"github.com/smctl/smctl/pkg/status"
	"github.com/smctl/smctl/pkg/transport"
)

// fakeForwarder is a Remote that records the streams asked of it and
// answers with err, or with one end of a pipe.
type fakeForwarder struct {
	err   error
	calls []string // opts' first config file, target alias, path
}

func (f *fakeForwarder) Exec(context.Context, Options, Target, string, []byte, int64) (transport.Output, error) {
	return transport.Output{}, errors.New("not used")
}

func (f *fakeForwarder) DialUnix(_ context.Context, opts Options, t Target, path string) (net.Conn, error) {
	f.calls = append(f.calls, opts.ConfigFiles[0]+" "+t.Alias+" "+path)
	if f.err != nil {
		return nil, f.err
	}
	a, b := net.Pipe()
	b.Close()
	return a, nil
}

// execOnly is a Remote that cannot forward.
type execOnly struct{}

func (execOnly) Exec(context.Context, Options, Target, string, []byte, int64) (transport.Output, error) {
	return transport.Output{}, errors.New("not used")
}

// TestDialUnixRemote: Transport.DialUnix hands the stream to a Remote that
// can forward, with the pool's options, the target and the path; it dials
// over its own pool only when the Remote opened nothing (ErrNoRemote) or
// cannot forward; a path that is not absolute is refused before either.
// The pool's node is a closed port: a dial there fails as unreachable.
func TestDialUnixRemote(t *testing.T) {
	noRemote := errors.New("no serve")
	tests := []struct {
		name      string
		fwd       *fakeForwarder // nil: execOnly
		path      string
		wantCalls int
		wantErr   func(error) bool
	}{
		{"forwarded", &fakeForwarder{}, "/run/x.sock", 1, func(err error) bool { return err == nil }},
		{"forwarder's failure kept", &fakeForwarder{err: status.Mark(errors.New("refused there"), status.ErrUsage)}, "/run/x.sock", 1,
			func(err error) bool {
				return err != nil && err.Error() == "refused there" && status.Of(err) == status.Usage
			}},
		{"no remote: own pool", &fakeForwarder{err: errors.Join(ErrNoRemote, noRemote)}, "/run/x.sock", 1,
			func(err error) bool { return status.Of(err) == status.Unreachable }},
		{"cannot forward: own pool", nil, "/run/x.sock", 0,
			func(err error) bool { return status.Of(err) == status.Unreachable }},
		{"relative path", &fakeForwarder{}, "run/x.sock", 0,
			func(err error) bool {
				return status.Of(err) == status.Usage && strings.Contains(err.Error(), `"run/x.sock"`) && strings.Contains(err.Error(), "127.0.0.1")
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := NewPool(Options{ConfigFiles: []string{filepath.Join(t.TempDir(), "ssh_config")}, ConnectTimeout: time.Second})
			defer p.Close()
			tr := &Transport{Pool: p, Target: Target{Alias: "127.0.0.1", Port: 1}, Remote: execOnly{}}
			if tt.fwd != nil {
				tr.Remote = tt.fwd
			}
			c, err := tr.DialUnix(context.Background(), tt.path)
			if c != nil {
				c.Close()
			}
			if !tt.wantErr(err) {
				t.Errorf("DialUnix: %v (status %d)", err, status.Of(err))
			}
			if tt.fwd == nil {
				return
			}
			if len(tt.fwd.calls) != tt.wantCalls {
				t.Fatalf("forwarder called %d times, want %d", len(tt.fwd.calls), tt.wantCalls)
			}
			if want := p.Options().ConfigFiles[0] + " 127.0.0.1 " + tt.path; tt.wantCalls == 1 && tt.fwd.calls[0] != want {
				t.Errorf("forwarder asked %q, want %q", tt.fwd.calls[0], want)
			}
		})
	}
}

// TestDialUnixReconnect: a kept client whose connection was lost (a warm
// connection the node dropped) is dialled again for the next stream,
// which opens, as a command would run.
func TestDialUnixReconnect(t *testing.T) {
	if !testsshd.Available() {
		if os.Getenv("SMCTL_TEST_REQUIRE") == "1" {
			t.Fatal("sshd is not installed, which SMCTL_TEST_REQUIRE=1 makes required")
		}
		t.Skip("sshd is not installed")
	}
	srv, err := testsshd.Start([]string{"u1"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	dir, err := os.MkdirTemp("", "smctl-dialunix-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o755)
	sock := filepath.Join(dir, "echo.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	os.Chmod(sock, 0o666) // the test login may be another user
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				line, _ := bufio.NewReader(c).ReadString('\n')
				c.Write([]byte("echo " + line))
			}()
		}
	}()
	p := NewPool(Options{ConfigFiles: []string{srv.ConfigFile}})
	defer p.Close()
	tr := &Transport{Pool: p, Target: Target{Alias: "u1"}}
	echo := func() {
		t.Helper()
		c, err := tr.DialUnix(context.Background(), sock)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.Write([]byte("hi\n"))
		if got, err := bufio.NewReader(c).ReadString('\n'); err != nil || got != "echo hi\n" {
			t.Fatalf("read %q, %v", got, err)
		}
	}
	echo()
	p.mu.Lock()
	old := p.clients[tr.Target.key()].client
	p.mu.Unlock()
	old.Close() // the connection lost
	echo()
	p.mu.Lock()
	now := p.clients[tr.Target.key()].client
	p.mu.Unlock()
	if now == old {
		t.Error("the lost client was kept")
	}
}
