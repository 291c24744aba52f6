package check

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/smctl/smctl/internal/testpriv"
)

// pluginDir is where Debian's monitoring-plugins-basic installs the
// Monitoring Plugins.
const pluginDir = "/usr/lib/nagios/plugins"

// plugin runs the real plugin name with args, as a caller of Parse does,
// and returns its exit status and standard output.
func plugin(t *testing.T, name string, args ...string) (int, []byte) {
	t.Helper()
	path := filepath.Join(pluginDir, name)
	if _, err := os.Stat(path); err != nil {
		testpriv.Need(t, path+" (Debian package monitoring-plugins-basic)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LC_ALL=C"}
	out, err := cmd.Output()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("%s %q: %v", name, args, err)
	}
	return cmd.ProcessState.ExitCode(), out
}

func TestCheckDummy(t *testing.T) {
	for _, tc := range []struct {
		exit  string
		state State
		msg   string
	}{
		{"0", OK, "OK: all is well"},
		{"1", Warning, "WARNING: all is well"},
		{"2", Critical, "CRITICAL: all is well"},
		{"3", Unknown, "UNKNOWN: all is well"},
	} {
		t.Run(tc.state.String(), func(t *testing.T) {
			exit, out := plugin(t, "check_dummy", tc.exit, "all is well")
			if r := Parse(exit, out); r.State != tc.state || r.Message != tc.msg || r.Long != "" || r.Perf != nil || r.Bad != nil {
				t.Errorf("check_dummy %s: exit %d, %q: Parse = %+v, want %v %q", tc.exit, exit, out, r, tc.state, tc.msg)
			}
		})
	}
}

func TestCheckTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { // accept and close until the listener closes
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	exit, out := plugin(t, "check_tcp", "-H", "127.0.0.1", "-p", port, "-t", "10")
	r := Parse(exit, out)
	// TCP OK - 0.000 second response time on 127.0.0.1 port 38003|time=0.000114s;;;0.000000;10.000000
	okMsg := regexp.MustCompile(`^TCP OK - [0-9.]+ second response time on 127\.0\.0\.1 port ` + port + `$`)
	if r.State != OK || !okMsg.MatchString(r.Message) || len(r.Perf) != 1 || r.Bad != nil {
		t.Fatalf("check_tcp on an open port: exit %d, %q: Parse = %+v", exit, out, r)
	}
	if p := r.Perf[0]; p.Label != "time" || p.Unit != "s" || p.Value < 0 || p.Value > 10 || p.Undetermined ||
		p.Min == nil || *p.Min != 0 || p.Max == nil || *p.Max != 10 || p.Warn != "" || p.Crit != "" {
		t.Errorf("check_tcp perfdata %q: %+v", out, p)
	}
	ln.Close()
	<-done

	// The same port, closed now: CRITICAL, refused.
	exit, out = plugin(t, "check_tcp", "-H", "127.0.0.1", "-p", port, "-t", "10")
	r = Parse(exit, out)
	refused := regexp.MustCompile(`^connect to address 127\.0\.0\.1 and port ` + port + `: Connection refused$`)
	if r.State != Critical || !refused.MatchString(r.Message) || r.Perf != nil || r.Bad != nil {
		t.Errorf("check_tcp on a closed port: exit %d, %q: Parse = %+v", exit, out, r)
	}
}
