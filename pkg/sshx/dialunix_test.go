package sshx

import (
	"bufio"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smctl/smctl/internal/testsshd"
	"github.com/smctl/smctl/pkg/transport"
)

// TestDialUnix: a stream to a UNIX socket on the node, forwarded over the
// pool's connection to a real sshd (this machine again): what one side
// writes the other reads; a socket that is not there is an error naming
// it.
func TestDialUnix(t *testing.T) {
	if !testsshd.Available() {
		if os.Getenv("SMCTL_TEST_REQUIRE") == "1" {
			t.Fatal("sshd is not installed, which SMCTL_TEST_REQUIRE=1 makes required")
		}
		t.Skip("sshd is not installed")
	}
	srv, err := testsshd.Start([]string{"u1"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	dir, err := os.MkdirTemp("", "smctl-dialunix-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o755)
	sock := filepath.Join(dir, "echo.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	os.Chmod(sock, 0o666) // the test login may be another user
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		line, _ := bufio.NewReader(c).ReadString('\n')
		c.Write([]byte("echo " + line))
	}()
	p := NewPool(Options{ConfigFiles: []string{srv.ConfigFile}})
	defer p.Close()
	ctx := context.Background()
	tr := &Transport{Pool: p, Target: Target{Alias: "u1"}}
	c, err := transport.DialUnix(ctx, tr, sock)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("hello\n")); err != nil {
		t.Fatal(err)
	}
	got, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || got != "echo hello\n" {
		t.Errorf("read %q, %v", got, err)
	}
	c.Close()
	if _, err := transport.DialUnix(ctx, tr, filepath.Join(dir, "nothere.sock")); err == nil {
		t.Error("a socket that is not there: no error")
	} else if !strings.Contains(err.Error(), "nothere.sock") {
		t.Errorf("error %v does not name the socket", err)
	}
}
