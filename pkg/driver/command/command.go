// Package command is the driver of a server's command file: the value
// written runs through the node's shell, reached by whichever transport
// the device names (local, ssh); its output becomes the file's content
// whatever its exit status, which goes to command.status with stderr's
// first line, and its whole stderr to command.stderr. A run that timed
// out, printed too much or could not reach the node stores what it got
// (nothing for an unreachable node) with the status saying why, so the
// file never shows an earlier run's output as the last one's.
//
// It provides the role "command" and the default type "server", a node
// reached over SSH with the live directories and the command and BMC
// files.
package command

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/smctl/smctl/pkg/agent"
	"github.com/smctl/smctl/pkg/config"
	"github.com/smctl/smctl/pkg/driver"
	"github.com/smctl/smctl/pkg/proc"
	"github.com/smctl/smctl/pkg/status"
	"github.com/smctl/smctl/pkg/transport"
)

// Name is the driver's name, and the role of its agent.
const Name = "command"

// Factory registers the driver.
var Factory = driver.Factory{Name: Name, New: func(driver.Env) driver.Driver { return Driver{} }}

// Driver provides the command file.
type Driver struct{}

var (
	_ driver.Builtins = Driver{}
	_ driver.Typer    = Driver{}
)

// Name implements driver.Driver.
func (Driver) Name() string { return Name }

// Builtins implements driver.Builtins: command.write and loadavg.read for
// the role "command".
func (Driver) Builtins() map[string][]driver.Builtin {
	return map[string][]driver.Builtin{
		Name: {
			{File: "command", Op: agent.Write, Agent: agent.Func(Run)},
			{File: "loadavg", Op: agent.Read, Agent: agent.Func(Loadavg)},
		},
	}
}

// Types implements driver.Typer: the server type.
func (Driver) Types() map[string]config.Type {
	return map[string]config.Type{
		"server": {Dir: "/systems/servers", Attrs: map[string]string{"transport": "ssh"}, Live: true, Builtins: []string{Name, "bmc"}},
	}
}

// Run is the command file's write agent.
func Run(ctx context.Context, req *agent.Request) (agent.Result, error) {
	cmd := strings.TrimSpace(string(req.Input))
	if cmd == "" {
		return agent.Result{}, agent.Fail(status.Usage, errors.New("empty command"))
	}
	if req.Transport == nil {
		return agent.Result{}, agent.Fail(status.Usage, fmt.Errorf("device %s has no transport", req.Device))
	}
	// A caller that streams (smctl run) gives each device its writers,
	// standard input and pty request.
	var stdin []byte
	if s, ok := transport.StreamFor(ctx, req.Device); ok {
		ctx, stdin = transport.WithStream(ctx, s), s.Stdin
	}
	out, err := req.Transport.Exec(ctx, cmd, stdin, req.MaxOutput)
	// Whatever happened, the file holds this run's stdout (what the
	// command printed before it was stopped; nothing when the node could
	// not be reached) and its status says why: never the last run's.
	res := agent.Result{Output: out.Stdout, Stderr: out.Stderr, RC: out.Exit, Keep: true}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		res.RC, res.Message = int(status.Timeout), "command timed out"
		if req.Timeout > 0 {
			res.Message += " after " + req.Timeout.String()
		}
	case errors.Is(err, context.Canceled):
		res.RC, res.Message = int(status.Interrupted), "interrupted"
	case errors.Is(err, status.ErrOutputLimit):
		res.RC, res.Message = int(status.Failed), fmt.Sprintf("command %v; its first %d bytes kept", err, len(out.Stdout))
	case err != nil:
		// Could not reach the node or start the command: ssh's own code,
		// unless the cause is local or an untrusted input, which ran
		// nothing on the node and leave the last result as it was.
		code := ConnectCode(err)
		if code == status.Local || code == status.Usage {
			return agent.Result{}, agent.Fail(code, err)
		}
		res.Output, res.Stderr = nil, nil
		res.RC, res.Message = int(code), err.Error()
	default:
		res.Message = proc.FirstLine(out.Stderr)
		if out.Exit != 0 && res.Message == "" {
			res.Message = "exit status " + strconv.Itoa(out.Exit)
		}
	}
	return res, nil
}

// ConnectCode is the status of a failure to reach a node or start a
// command on it: local errors (EMFILE, ...) and untrusted inputs have
// codes of their own; anything else is the node's, as ssh's 255, whether
// the transport wrapped status.ErrUnreachable (sshx does) or could not be
// had at all (an unknown transport, a bad port attribute).
func ConnectCode(err error) status.Code {
	switch c := status.Of(err); c {
	case status.Local, status.Usage:
		return c
	}
	return status.Unreachable
}
