package serve

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smctl/smctl/internal/testpriv"
	"github.com/smctl/smctl/pkg/sshx"
)

// serveUnprivEnv marks the copy of TestServeOtherUser run as nobody; its
// value is the shared directory holding the serve's root ("root").
const serveUnprivEnv = "SMCTL_SERVE_UNPRIV_CHILD"

// TestServeOtherUser: serve acts with its owner's credentials, so no other
// user may use it. Run as root, a serve listens on a root whose socket is
// then opened to everyone (chmod 0666: what a mistake or an attack would
// do); run again as nobody, the test finds that serve answers nobody's
// connection with a refusal and runs nothing, and that smctl's client
// does not send a command to a socket of another user's at all.
func TestServeOtherUser(t *testing.T) {
	if shared, ok := testpriv.Child(t, serveUnprivEnv); ok {
		sock := filepath.Join(shared, "root", SocketName)
		c, err := net.Dial("unix", sock)
		if err != nil {
			t.Fatalf("connect to the socket opened to everyone: %v", err)
		}
		defer c.Close()
		json.NewEncoder(c).Encode(request{Op: "exec", Target: sshx.Target{Alias: "n1"}, Command: "id"})
		var resp response
		if err := json.NewDecoder(c).Decode(&resp); err != nil || resp.Kind != "refused" || !strings.Contains(resp.Msg, "answers only its own user") {
			t.Errorf("serve's answer to another user: %+v, %v; want a refusal", resp, err)
		}
		cl := &Client{Socket: sock}
		if _, err := cl.Exec(context.Background(), sshx.Options{}, sshx.Target{Alias: "n1"}, "id", nil, 10); err == nil || !strings.Contains(err.Error(), "belongs to uid 0") {
			t.Errorf("client on another user's socket: %v, want it not used", err)
		}
		return
	}
	if os.Geteuid() != 0 {
		testpriv.Need(t, "root, to run part of the test as nobody")
	}
	shared := testpriv.SharedDir(t)
	root := filepath.Join(shared, "root")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	srv, cancel, done := serveOn(t, root, Config{IdleTimeout: time.Minute})
	defer func() {
		cancel()
		<-done
	}()
	if err := os.Chmod(filepath.Join(root, SocketName), 0o666); err != nil {
		t.Fatal(err)
	}
	testpriv.AsNobody(t, serveUnprivEnv, shared)
	if st := srv.Status(); st.Refused != 1 || st.Served != 0 {
		t.Errorf("after nobody's attempt: %+v, want 1 refused, nothing run", st)
	}
}
