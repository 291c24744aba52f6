package vtree

import (
	"context"
	"strings"

	"github.com/smctl/smctl/pkg/agent"
)

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

func oneLine(err error) string {
	return strings.ReplaceAll(err.Error(), "\n", "; ")
}
