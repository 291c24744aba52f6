package command

import (
	"context"
	"errors"
	"fmt"
	"strings"
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
	partial := transport.Output{Stdout: []byte("part\n"), Stderr: []byte("warn\n")}
	tests := []struct {
		name   string
		input  string
		out    transport.Output
		err    error
		rc     int
		msg    string // the status message (prefix), or the error's text
		output string
		stderr string
		failed bool // an *agent.Error: the run did nothing
	}{
		{name: "ok", input: "uptime\n", out: transport.Output{Stdout: []byte("up\n")}, output: "up\n"},
		{name: "exit with stderr", input: "x", out: transport.Output{Stdout: []byte("partial\n"), Stderr: []byte("\n  first  \nsecond\n"), Exit: 3}, rc: 3, msg: "first", output: "partial\n", stderr: "\n  first  \nsecond\n"},
		{name: "exit without stderr", input: "x", out: transport.Output{Exit: 4}, rc: 4, msg: "exit status 4"},
		{name: "empty", input: " \n", rc: 2, msg: "empty command", failed: true},
		// What the command printed before it was stopped is its result.
		{name: "timeout", input: "x", out: partial, err: fmt.Errorf("wait: %w", context.DeadlineExceeded), rc: 124, msg: "command timed out", output: "part\n", stderr: "warn\n"},
		{name: "interrupted", input: "x", out: partial, err: context.Canceled, rc: 130, msg: "interrupted", output: "part\n", stderr: "warn\n"},
		{name: "output limit", input: "x", out: partial, err: fmt.Errorf("%w: printed more than 10 bytes", status.ErrOutputLimit), rc: 1, msg: "command output limit exceeded: printed more than 10 bytes; its first 5 bytes kept", output: "part\n", stderr: "warn\n"},
		{name: "local", input: "x", err: fmt.Errorf("dial: %w", syscall.EMFILE), rc: 71, msg: "dial: too many open files", failed: true},
		{name: "untrusted", input: "x", err: fmt.Errorf("ssh_config: %w", status.ErrUntrusted), rc: 2, msg: "ssh_config: untrusted file", failed: true},
		// An unreachable node printed nothing: the file is emptied.
		{name: "unreachable", input: "x", out: partial, err: errors.New("connection refused"), rc: 255, msg: "connection refused"},
		{name: "marked unreachable", input: "x", err: status.Mark(errors.New("ssh: handshake failed"), status.ErrUnreachable), rc: 255, msg: "ssh: handshake failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got string
			req := &agent.Request{Input: []byte(tt.input), Transport: shell{out: tt.out, err: tt.err, got: &got}}
			res, err := Run(context.Background(), req)
			if tt.failed {
				var ae *agent.Error
				if !errors.As(err, &ae) || ae.RC != tt.rc || status.Of(err) != status.Code(tt.rc) || err.Error() != tt.msg {
					t.Fatalf("err = %v (%T), want rc %d %q", err, err, tt.rc, tt.msg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.RC != tt.rc || !strings.HasPrefix(res.Message, tt.msg) || string(res.Output) != tt.output || string(res.Stderr) != tt.stderr || !res.Keep {
				t.Errorf("result = %+v, want rc %d msg %q output %q stderr %q, kept", res, tt.rc, tt.msg, tt.output, tt.stderr)
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

// files answers ReadFile with fixed content or an error.
type files struct {
	transport.Broken
	b   []byte
	err error
}

func (f files) ReadFile(_ context.Context, name string, _ int64) ([]byte, error) {
	if name != "/proc/loadavg" {
		return nil, fmt.Errorf("read %s", name)
	}
	return f.b, f.err
}

// TestLoadavg: the three load averages of /proc/loadavg, and the status of
// each way of not getting them.
func TestLoadavg(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tr     transport.Transport
		output string
		rc     int
		msg    string
	}{
		{"ok", files{b: []byte("0.15 0.10 0.05 1/123 4567\n")}, "0.15 0.10 0.05\n", 0, ""},
		{"short", files{b: []byte("0.15\n")}, "", 1, `/proc/loadavg: "0.15" is not load averages`},
		{"unreachable", files{err: errors.New("connection refused")}, "", 255, "reading /proc/loadavg: connection refused"},
		{"timeout", files{err: fmt.Errorf("x: %w", context.DeadlineExceeded)}, "", 124, "reading /proc/loadavg"},
		{"interrupted", files{err: context.Canceled}, "", 130, "reading /proc/loadavg"},
		{"local", files{err: syscall.EMFILE}, "", 71, "too many open files"},
		{"no transport", nil, "", 2, "has no transport"},
	} {
		res, err := Loadavg(context.Background(), &agent.Request{Device: "/n1", Transport: tc.tr})
		var ae *agent.Error
		switch {
		case tc.rc == 0 && (err != nil || string(res.Output) != tc.output):
			t.Errorf("%s: %q, %v", tc.name, res.Output, err)
		case tc.rc != 0 && (!errors.As(err, &ae) || ae.RC != tc.rc || !strings.Contains(err.Error(), tc.msg)):
			t.Errorf("%s: %v, want rc %d with %q", tc.name, err, tc.rc, tc.msg)
		}
	}
}
