package libvirt

import (
	"strings"
	"testing"

	"github.com/smctl/smctl/pkg/agent"
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

// TestDestinationURI: how the source's libvirtd reaches the destination's
// (its own URI on this machine, over SSH to its address otherwise), and
// where the migration stream goes.
func TestDestinationURI(t *testing.T) {
	for _, tt := range []struct {
		attrs         map[string]string
		uri, host, er string
	}{
		{attrs: map[string]string{"transport": "local", "uri": "qemu+unix:///session?socket=/tmp/h2/sock"}, uri: "qemu+unix:///session?socket=/tmp/h2/sock", host: "127.0.0.1"},
		{attrs: map[string]string{"transport": "ssh", "address": "10.0.0.2"}, uri: "qemu+ssh://10.0.0.2/system", host: "10.0.0.2"},
		{attrs: map[string]string{"transport": "ssh", "address": "h2.example", "uri": "test+unix:///default?socket=/s"}, uri: "test+ssh://h2.example/default", host: "h2.example"},
		{attrs: map[string]string{"transport": "ssh"}, er: "no address"},
		{attrs: map[string]string{"transport": "ssh", "address": "h2", "uri": "qemu+tcp:///system"}, er: "transport attribute"},
	} {
		p := agent.Peer{Type: "hypervisor", Attrs: tt.attrs}
		uri, err := destinationURI(p)
		if tt.er != "" {
			if err == nil || !strings.Contains(err.Error(), tt.er) {
				t.Errorf("%v: %q, %v; want an error saying %q", tt.attrs, uri, err, tt.er)
			}
			continue
		}
		if err != nil || uri != tt.uri || migrationHost(p) != tt.host {
			t.Errorf("%v: %q, %v, %q; want %q, %q", tt.attrs, uri, err, migrationHost(p), tt.uri, tt.host)
		}
	}
}
