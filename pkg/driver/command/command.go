// Package command is the driver of a server's command file: the value
// written runs through the node's shell, reached by whichever transport
// the device names (local, ssh); its output becomes the file's content
// whatever its exit status, which goes to command.status with stderr's
// first line.
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

// Builtins implements driver.Builtins: command.write for the role
// "command".
func (Driver) Builtins() map[string][]driver.Builtin {
	return map[string][]driver.Builtin{
		Name: {{File: "command", Op: agent.Write, Agent: agent.Func(Run)}},
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
	out, err := req.Transport.Exec(ctx, cmd, nil, req.MaxOutput)
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return agent.Result{}, agent.Fail(status.Timeout, errors.New("command timed out"))
	case errors.Is(err, context.Canceled):
		return agent.Result{}, agent.Fail(status.Interrupted, errors.New("command interrupted"))
	case errors.Is(err, status.ErrOutputLimit):
		return agent.Result{}, agent.Fail(status.Failed, fmt.Errorf("command %w; nothing stored", err))
	case err != nil:
		// Could not reach the node or start the command: ssh's own code,
		// unless the cause is local or an untrusted input.
		return agent.Result{}, agent.Fail(ConnectCode(err), err)
	}
	msg := proc.FirstLine(out.Stderr)
	if out.Exit != 0 && msg == "" {
		msg = "exit status " + strconv.Itoa(out.Exit)
	}
	return agent.Result{Output: out.Stdout, RC: out.Exit, Message: msg, Keep: true}, nil
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
