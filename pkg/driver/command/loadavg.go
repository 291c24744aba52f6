package command

import (
	"context"
	"errors"
	"fmt"

	"github.com/smctl/smctl/pkg/agent"
	"github.com/smctl/smctl/pkg/driver/linux"
	"github.com/smctl/smctl/pkg/status"
)

// Loadavg is the loadavg file's read agent: the node's 1, 5 and 15 minute
// load averages, "0.12 0.08 0.01", from its /proc/loadavg, read in one
// round trip by the device's transport (no process on the managing
// machine: smctl serve refreshes it on 2000 nodes every period).
func Loadavg(ctx context.Context, req *agent.Request) (agent.Result, error) {
	if req.Transport == nil {
		return agent.Result{}, agent.Fail(status.Usage, fmt.Errorf("device %s has no transport", req.Device))
	}
	b, err := req.Transport.ReadFile(ctx, "/proc/loadavg", 4096)
	if err != nil {
		code := ConnectCode(err)
		switch {
		case errors.Is(err, context.DeadlineExceeded):
			code = status.Timeout
		case errors.Is(err, context.Canceled):
			code = status.Interrupted
		}
		return agent.Result{}, agent.Fail(code, fmt.Errorf("reading /proc/loadavg: %w", err))
	}
	v, err := linux.LoadAverages(b, 3)
	if err != nil {
		return agent.Result{}, agent.Fail(status.Failed, err)
	}
	return agent.Result{Output: []byte(v + "\n")}, nil
}
