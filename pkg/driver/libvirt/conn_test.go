package libvirt

import (
	"strings"
	"testing"
)

// TestParseURI: the URI libvirtd opens and its socket; a URI naming
// another way to reach the hypervisor than its transport is refused.
func TestParseURI(t *testing.T) {
	for _, tt := range []struct{ in, open, socket, err string }{
		{in: "qemu:///system", open: "qemu:///system", socket: "/run/libvirt/libvirt-sock"},
		{in: "test+unix:///default?socket=/tmp/h1/libvirt-sock", open: "test:///default", socket: "/tmp/h1/libvirt-sock"},
		{in: "qemu+unix:///session?socket=/tmp/h1/run/libvirt/libvirt-sock", open: "qemu:///session", socket: "/tmp/h1/run/libvirt/libvirt-sock"},
		{in: "qemu:///system?socket=/var/run/x.sock&mode=legacy", open: "qemu:///system?mode=legacy", socket: "/var/run/x.sock"},
		{in: "qemu:///session", err: "give the socket"},
		{in: "qemu+ssh://root@h1/system", err: "transport attribute reaches"},
		{in: "qemu+tcp:///system", err: "transport attribute reaches"},
		{in: "qemu://h1/system", err: "names a host"},
		{in: "test+unix:///default?socket=relative.sock", err: "not an absolute path"},
		{in: "nonsense", err: "not a libvirt URI"},
		{in: "mailto:x@y", err: "not a libvirt URI"},
	} {
		h, err := parseURI(tt.in)
		switch {
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("parseURI(%q) = %+v, %v; want an error saying %q", tt.in, h, err, tt.err)
		case tt.err == "" && (err != nil || h.open != tt.open || h.socket != tt.socket):
			t.Errorf("parseURI(%q) = %+v, %v; want %q on %q", tt.in, h, err, tt.open, tt.socket)
		}
	}
	if version(9000000) != "9.0.0" || version(8002001) != "8.2.1" {
		t.Errorf("version: %s, %s", version(9000000), version(8002001))
	}
}
