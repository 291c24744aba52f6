package libvirt

import (
	"context"
	"fmt"

	golibvirt "github.com/digitalocean/go-libvirt"

	"github.com/smctl/smctl/pkg/agent"
)

// reasons are virsh's words for a state's reasons.
var reasons = map[int32][]string{
	int32(golibvirt.DomainRunning): {"unknown", "booted", "migrated", "restored", "from snapshot", "unpaused",
		"migration canceled", "save canceled", "event wakeup", "crashed", "post-copy", "post-copy failed"},
	int32(golibvirt.DomainPaused): {"unknown", "user", "migrating", "saving", "dumping", "I/O error", "watchdog",
		"from snapshot", "shutting down", "creating snapshot", "crashed", "starting up", "post-copy", "post-copy failed", "api error"},
	int32(golibvirt.DomainShutdown): {"unknown", "user"},
	int32(golibvirt.DomainShutoff): {"unknown", "shutdown", "destroyed", "crashed", "migrated", "saved", "failed",
		"from snapshot", "daemon"},
	int32(golibvirt.DomainCrashed): {"unknown", "panicked"},
}

// readState is state: the state and its reason (asked with the other
// reads in flight on c: batch.go).
func readState(_ context.Context, c *conn, dom golibvirt.Domain, _ *agent.Request) (string, error) {
	st, why, err := domainState(c, dom)
	if err != nil {
		return "", err
	}
	if rs := reasons[st]; why >= 0 && int(why) < len(rs) {
		return fmt.Sprintf("%s (%s)", stateName(st), rs[why]), nil
	}
	return stateName(st), nil
}

// isOn says whether a domain in state st is on: anything but shut off
// and crashed.
func isOn(st int32) bool {
	return st != int32(golibvirt.DomainShutoff) && st != int32(golibvirt.DomainCrashed) && st != int32(golibvirt.DomainNostate)
}

// readPower is power: on or off.
func readPower(_ context.Context, c *conn, dom golibvirt.Domain, _ *agent.Request) (string, error) {
	st, _, err := domainState(c, dom)
	if err != nil {
		return "", err
	}
	if isOn(st) {
		return "on", nil
	}
	return "off", nil
}
