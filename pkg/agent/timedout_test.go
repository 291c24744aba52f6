package agent

import (
	"testing"
	"time"
)

func TestTimedOut(t *testing.T) {
	for _, c := range []struct{ msg, want string }{
		{"context deadline exceeded", "agent state.read timed out after 2s"},
		{"", "agent state.read timed out after 2s"},
		{"agent state.read timed out", "agent state.read timed out after 2s"},
		{"/systems/vms/v1: its host /systems/hypervisors/h4: libvirtd at /s: opening test:///default: no answer within 1.5s: context deadline exceeded",
			"agent state.read timed out after 2s: /systems/vms/v1: its host /systems/hypervisors/h4: libvirtd at /s: opening test:///default: no answer within 1.5s"},
		{"h1: libvirtd did not answer", "agent state.read timed out after 2s: h1: libvirtd did not answer"},
	} {
		if got := TimedOut("state.read", 2*time.Second, c.msg); got != c.want {
			t.Errorf("%q: %q, want %q", c.msg, got, c.want)
		}
	}
}
