package sshx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/smctl/smctl/pkg/sim"
	"github.com/smctl/smctl/pkg/status"
)

func TestIsLocal(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"EMFILE", syscall.EMFILE, true},
		{"ENFILE", syscall.ENFILE, true},
		{"ENOMEM", syscall.ENOMEM, true},
		{"ENOBUFS", syscall.ENOBUFS, true},
		{"socket EMFILE as net.Dial returns it", &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("socket", syscall.EMFILE)}, true},
		{"wrapped twice", fmt.Errorf("ProxyJump j: %w", fmt.Errorf("dial: %w", os.NewSyscallError("socket", syscall.ENFILE))), true},
		{"with the hint", reachErr(syscall.EMFILE), true},
		{"connection refused", &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, false},
		{"host unreachable", syscall.EHOSTUNREACH, false},
		{"EAGAIN", syscall.EAGAIN, false},
		{"EOF", io.EOF, false},
		{"timeout", context.DeadlineExceeded, false},
		{"the message without the errno", errors.New("socket: too many open files"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsLocal(tt.err); got != tt.want {
				t.Errorf("IsLocal(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

// TestReachErr checks the errors of failing to reach a node: their
// message, and their code in the status vocabulary.
func TestReachErr(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
		code status.Code
	}{
		{"EMFILE", os.NewSyscallError("socket", syscall.EMFILE), "local error, not the node: socket: too many open files (raise the open-file limit, ulimit -n)", status.Local},
		{"ENOMEM", syscall.ENOMEM, "local error, not the node: cannot allocate memory", status.Local},
		{"refused", &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, "dial tcp: connect: connection refused", status.Unreachable},
		{"authentication", errors.New("ssh: handshake failed: ssh: unable to authenticate"), "ssh: handshake failed: ssh: unable to authenticate", status.Unreachable},
		{"host key", fmt.Errorf("n1: %w", ErrHostKeyChanged), "n1: host key has changed", status.Unreachable},
		{"already unreachable", fmt.Errorf("x: %w", status.ErrUnreachable), "x: unreachable", status.Unreachable},
		{"timed out", context.DeadlineExceeded, "context deadline exceeded", status.Timeout},
		{"cancelled", fmt.Errorf("dial: %w", context.Canceled), "dial: context canceled", status.Interrupted},
		{"untrusted", fmt.Errorf("IdentityFile: %w", status.ErrUntrusted), "IdentityFile: untrusted file", status.Usage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := reachErr(tt.err)
			if got := err.Error(); got != tt.want {
				t.Errorf("reachErr = %q, want %q", got, tt.want)
			}
			if got := status.Of(err); got != tt.code {
				t.Errorf("status.Of(reachErr) = %d, want %d", got, tt.code)
			}
			if !errors.Is(err, tt.err) {
				t.Errorf("reachErr lost its cause")
			}
		})
	}
}

// TestExecOutOfDescriptors runs Exec in a child process whose descriptors
// are all used: the error must be local, not the node's.
func TestExecOutOfDescriptors(t *testing.T) {
	if os.Getenv("SSHX_TEST_EMFILE") == "1" {
		execOutOfDescriptors()
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestExecOutOfDescriptors$")
	cmd.Env = append(os.Environ(), "SSHX_TEST_EMFILE=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "LOCAL true") || !strings.Contains(string(out), "too many open files") {
		t.Errorf("child did not see a local error:\n%s", out)
	}
}

func execOutOfDescriptors() {
	dir, err := os.MkdirTemp("", "sshx-emfile-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	c, err := sim.Start(sim.Options{N: 1, Dir: dir})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	p := NewPool(Options{ConfigFiles: []string{c.ConfigFile}})
	defer p.Close()
	tr := &Transport{Pool: p, Target: Target{Alias: c.Nodes[0].Name}}
	// Load the key and known_hosts now, then use up every descriptor.
	s, err := p.Settings(tr.Target)
	if err != nil {
		panic(err)
	}
	if _, err := p.clientConfig(s, tr.Target); err != nil {
		panic(err)
	}
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		panic(err)
	}
	saved := l
	l.Cur = 256
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		panic(err)
	}
	var fill []*os.File
	for {
		f, err := os.Open(os.DevNull)
		if err != nil {
			break
		}
		fill = append(fill, f)
	}
	_, err = tr.Exec(context.Background(), "hostname", nil, 1<<20)
	for _, f := range fill {
		f.Close()
	}
	syscall.Setrlimit(syscall.RLIMIT_NOFILE, &saved)
	fmt.Printf("LOCAL %v %v\n", IsLocal(err), err)
}
