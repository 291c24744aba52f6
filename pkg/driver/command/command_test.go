package command

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"testing"

	"github.com/smctl/smctl/pkg/agent"
	"github.com/smctl/smctl/pkg/status"
	"github.com/smctl/smctl/pkg/transport"
)

// shell answers Exec with a fixed output or error.
type shell struct {
	transport.Broken
	out transport.Output
	err error
	got *string
}

func (s shell) Exec(_ context.Context, cmd string, _ []byte, _ int64) (transport.Output, error) {
	*s.got = cmd
	return s.out, s.err
}

func TestRun(t *testing.T) {
	tests := []struct {
		name   string
		input  string
		out    transport.Output
		err    error
		rc     int
		msg    string // the status message, or the error's text
		output string
	}{
		{name: "ok", input: "uptime\n", out: transport.Output{Stdout: []byte("up\n")}, output: "up\n"},
		{name: "exit with stderr", input: "x", out: transport.Output{Stdout: []byte("partial\n"), Stderr: []byte("\n  first  \nsecond\n"), Exit: 3}, rc: 3, msg: "first", output: "partial\n"},
		{name: "exit without stderr", input: "x", out: transport.Output{Exit: 4}, rc: 4, msg: "exit status 4"},
		{name: "empty", input: " \n", rc: 2, msg: "empty command"},
		{name: "timeout", input: "x", err: fmt.Errorf("wait: %w", context.DeadlineExceeded), rc: 124, msg: "command timed out"},
		{name: "interrupted", input: "x", err: context.Canceled, rc: 130, msg: "command interrupted"},
		{name: "output limit", input: "x", err: fmt.Errorf("%w: printed more than 10 bytes", status.ErrOutputLimit), rc: 1, msg: "command output limit exceeded: printed more than 10 bytes; nothing stored"},
		{name: "local", input: "x", err: fmt.Errorf("dial: %w", syscall.EMFILE), rc: 71, msg: "dial: too many open files"},
		{name: "untrusted", input: "x", err: fmt.Errorf("ssh_config: %w", status.ErrUntrusted), rc: 2, msg: "ssh_config: untrusted file"},
		{name: "unreachable", input: "x", err: errors.New("connection refused"), rc: 255, msg: "connection refused"},
		{name: "marked unreachable", input: "x", err: status.Mark(errors.New("ssh: handshake failed"), status.ErrUnreachable), rc: 255, msg: "ssh: handshake failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got string
			req := &agent.Request{Input: []byte(tt.input), Transport: shell{out: tt.out, err: tt.err, got: &got}}
			res, err := Run(context.Background(), req)
			if tt.err != nil || tt.rc == 2 {
				var ae *agent.Error
				if !errors.As(err, &ae) || ae.RC != tt.rc || status.Of(err) != status.Code(tt.rc) || err.Error() != tt.msg {
					t.Fatalf("err = %v (%T), want rc %d %q", err, err, tt.rc, tt.msg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.RC != tt.rc || res.Message != tt.msg || string(res.Output) != tt.output || !res.Keep {
				t.Errorf("result = %+v, want rc %d msg %q output %q, kept", res, tt.rc, tt.msg, tt.output)
			}
			if got != "uptime" && tt.name == "ok" {
				t.Errorf("ran %q, want the trimmed command", got)
			}
		})
	}
	if _, err := Run(context.Background(), &agent.Request{Input: []byte("x"), Device: "/d"}); err == nil {
		t.Error("no transport: no error")
	}
}
