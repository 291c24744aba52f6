package doctor

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/smctl/smctl/pkg/discover"
	"github.com/smctl/smctl/pkg/driver"
	"github.com/smctl/smctl/pkg/driver/all"
	"github.com/smctl/smctl/pkg/stateroot"
	"github.com/smctl/smctl/pkg/vtree"
)

// markerAgent is a script agent that leaves a file beside the state root
// when it runs: the doctor must never run one.
const markerAgent = "#!/bin/sh\ntouch \"$SMCTL_ROOT/../ran-$(basename \"$0\")\"\necho x\n"

// testAgents are the agents of a test root: a read agent of servers, a
// discovery agent, both leaving a marker when run.
var testAgents = fstest.MapFS{
	"server/uptime.read":  {Data: []byte(markerAgent), Mode: 0o755},
	"server/power.write":  {Data: []byte(markerAgent), Mode: 0o755},
	"discover.d/localnet": {Data: []byte(markerAgent), Mode: 0o755},
	"README":              {Data: []byte("not an agent\n"), Mode: 0o644},
}

// newRoot makes a state root in a new directory with testAgents and the
// localhost server (reached with no SSH), and returns its path. HOME is
// a new empty directory, so that the user's own SSH files play no part.
func newRoot(t *testing.T) string {
	t.Helper()
	t.Setenv("HOME", t.TempDir())
	t.Setenv("SSH_AUTH_SOCK", "")
	dir := filepath.Join(t.TempDir(), "root")
	err := stateroot.Init(context.Background(), dir, stateroot.Options{
		Agents:     testAgents,
		Drivers:    all.Registry().New(driver.Env{}),
		Extensions: []vtree.Extension{discover.New()},
		Discover:   "server localhost transport=local\n",
	})
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// options checks the root dir with a sample of 10, a short timeout and
// the known_hosts file kh.
func options(dir string, kh ...string) Options {
	return Options{
		Root:       dir,
		Open:       opener(dir, ""),
		Sample:     10,
		Timeout:    2 * time.Second,
		KnownHosts: kh,
	}
}

// opener opens the tree at dir as smctl does, with smctl's drivers and
// discovery, and key as its key file unless empty.
func opener(dir, key string) func() (*vtree.Tree, error) {
	return func() (*vtree.Tree, error) {
		return vtree.Open(dir, vtree.Options{
			KeyFile:    key,
			Timeout:    2 * time.Second,
			Drivers:    all.Registry().New(driver.Env{ConnectTimeout: 2 * time.Second}),
			Extensions: []vtree.Extension{discover.New()},
		})
	}
}

// collect runs Check and returns its findings.
func collect(t *testing.T, o Options) []Finding {
	t.Helper()
	var out []Finding
	for f := range Check(context.Background(), o) {
		out = append(out, f)
	}
	return out
}

// discoverIn writes discovery statements to the root at dir.
func discoverIn(t *testing.T, dir, stmts string) {
	t.Helper()
	tr, err := options(dir).Open()
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if _, err := tr.Write(context.Background(), "/discover_master", []byte(stmts)); err != nil {
		t.Fatalf("discovery %q: %v", stmts, err)
	}
}

// knownHosts writes a known_hosts file of n hosts and returns its path.
func knownHosts(t *testing.T, n int) string {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("# known hosts\n\n")
	for i := range n {
		fmt.Fprintf(&b, "n%04d %s", i, ssh.MarshalAuthorizedKey(k))
	}
	f := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(f, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// identity gives the running test an SSH key in $HOME/.ssh, so that a
// connection to a node is tried (with no key, smctl's client refuses to
// dial at all).
func identity(t *testing.T) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	blk, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(os.Getenv("HOME"), ".ssh")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "id_ed25519"), pem.EncodeToMemory(blk), 0o600); err != nil {
		t.Fatal(err)
	}
}

// closedPort is a port of 127.0.0.1 nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

// silentPort is a port of 127.0.0.1 that accepts connections and never
// says anything, as a hung node; it closes when the test ends.
func silentPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().(*net.TCPAddr).Port
}
