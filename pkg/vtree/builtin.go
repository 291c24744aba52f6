package vtree

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/smctl/smctl/pkg/agent"
	"github.com/smctl/smctl/pkg/nodeset"
	"github.com/smctl/smctl/pkg/proc"
)

// registerBuiltins installs smctl's own agents.
func (t *Tree) registerBuiltins() {
	t.reg.Register("", DiscoverMaster, agent.Write, agent.Func(t.discoverMaster))
	t.reg.Register("server", "command", agent.Write, agent.Func(t.command))
	t.reg.Register("chassis", DiscoverAgent, agent.Write, agent.Func(chassisDiscover))
}

// discoverMaster is /discover_master's write agent: "1" runs prompted
// discovery, anything else is discovery statements.
func (t *Tree) discoverMaster(ctx context.Context, req *agent.Request) (agent.Result, error) {
	in := strings.TrimSpace(string(req.Input))
	var lines []string
	var err error
	if in == "1" {
		lines, err = t.promptedDiscovery(ctx, req)
	} else {
		lines, err = t.Discover(ctx, in, "")
	}
	out := strings.Join(lines, "\n")
	if out != "" {
		out += "\n"
	}
	if err != nil {
		// What was applied stays applied and is reported with the error.
		return agent.Result{Output: []byte(out), RC: 1, Message: oneLine(err), Keep: out != ""}, nil
	}
	return agent.Result{Output: []byte(out)}, nil
}

// connectRC is the status of a failure to reach a node or start a command
// on it: local errors (EMFILE, ...) and untrusted inputs have codes of
// their own; anything else is the node's, as ssh's 255.
func connectRC(err error) int {
	switch {
	case agent.IsLocal(err):
		return agent.RCLocal
	case RC(err) == agent.RCUntrusted:
		return agent.RCUntrusted
	}
	return agent.RCUnreachable
}

func oneLine(err error) string {
	return strings.ReplaceAll(err.Error(), "\n", "; ")
}

// command is a server's command file: the value written runs through the
// node's shell; its output becomes the file's content whatever its exit
// status, which goes to command.status with stderr's first line.
func (t *Tree) command(ctx context.Context, req *agent.Request) (agent.Result, error) {
	cmd := strings.TrimSpace(string(req.Input))
	if cmd == "" {
		return agent.Result{}, &agent.Error{RC: 2, Err: errors.New("empty command")}
	}
	tr, err := t.transport(ctx, req.Device)
	if err != nil {
		return agent.Result{}, &agent.Error{RC: connectRC(err), Err: err}
	}
	out, err := tr.Exec(ctx, cmd, nil, req.MaxOutput)
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return agent.Result{}, &agent.Error{RC: agent.RCTimeout, Err: errors.New("command timed out")}
	case errors.Is(err, context.Canceled):
		return agent.Result{}, &agent.Error{RC: agent.RCInterrupted, Err: errors.New("command interrupted")}
	case errors.Is(err, proc.ErrOutputLimit):
		return agent.Result{}, &agent.Error{RC: agent.RCFailed, Err: fmt.Errorf("command %w; nothing stored", err)}
	case err != nil:
		// Could not reach the node or start the command: ssh's own code,
		// unless the cause is local or an untrusted input.
		return agent.Result{}, &agent.Error{RC: connectRC(err), Err: err}
	}
	msg := proc.FirstLine(out.Stderr)
	if out.Exit != 0 && msg == "" {
		msg = "exit status " + strconv.Itoa(out.Exit)
	}
	return agent.Result{Output: out.Stdout, RC: out.Exit, Message: msg, Keep: true}, nil
}

// chassisDiscover finds the blades of a chassis. Given blades=SPEC (a node
// set of BMC addresses, e.g. 127.0.0.1:[16231-16244]) it adds blades 1..N
// with those BMC addresses.
func chassisDiscover(ctx context.Context, req *agent.Request) (agent.Result, error) {
	var spec string
	for _, kv := range strings.Fields(string(req.Input)) {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "blades":
			spec = v
		default:
			return agent.Result{}, &agent.Error{RC: 2, Err: fmt.Errorf("chassis discovery: unknown option %q (want blades=BMC-ADDRESSES)", kv)}
		}
	}
	if spec == "" {
		return agent.Result{Message: "no blades= given: no blades added"}, nil
	}
	bmcs, err := nodeset.Expand(spec)
	if err != nil {
		return agent.Result{}, &agent.Error{RC: 2, Err: err}
	}
	if len(bmcs) > 14 {
		return agent.Result{}, &agent.Error{RC: 2, Err: fmt.Errorf("chassis discovery: %d blades given, a chassis holds at most 14", len(bmcs))}
	}
	var b strings.Builder
	for i, a := range bmcs {
		fmt.Fprintf(&b, "blade %d bmc=%s\n", i+1, a)
	}
	return agent.Result{Output: []byte(b.String())}, nil
}
