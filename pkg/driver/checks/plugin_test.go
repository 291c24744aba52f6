package checks

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/smctl/smctl/internal/testpriv"
	"github.com/smctl/smctl/pkg/check"
	"github.com/smctl/smctl/pkg/driver"
	"github.com/smctl/smctl/pkg/transport"
	"github.com/smctl/smctl/pkg/trust"
)

// needPlugins skips (or, under SMCTL_TEST_REQUIRE=1, fails) t without
// the Monitoring Plugins.
func needPlugins(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(SystemDirs[0], "check_dummy")); err != nil {
		testpriv.Need(t, SystemDirs[0]+" (Debian package monitoring-plugins-basic)")
	}
}

// writePlugin writes an executable script plugin name into dir.
func writePlugin(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

var server = driver.Device{Path: "/systems/servers/n1", Type: "server", Attrs: map[string]string{"address": "127.0.0.1", "port": "22"}}

func run(t *testing.T, d *Driver, s Spec, dev driver.Device, tr transport.Transport) (check.Result, error) {
	t.Helper()
	if s.Timeout == 0 {
		s.Timeout = 10 * time.Second
	}
	return d.Run(context.Background(), s, dev, tr)
}

// TestRunPlugins: real plugins of the Monitoring Plugins, found in the
// system directory, the device's address expanded.
func TestRunPlugins(t *testing.T) {
	needPlugins(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	d := New(t.TempDir())
	r, err := run(t, d, Spec{Name: "dummy", Command: `check_dummy 2 "down: $SMCTL_HOST"`}, server, nil)
	if err != nil || r.State != check.Critical || r.Message != "CRITICAL: down: 127.0.0.1" {
		t.Errorf("check_dummy: %+v, %v", r, err)
	}
	r, perf, err := d.run(context.Background(), Spec{Name: "tcp", Command: "check_tcp -H $SMCTL_HOST -p " + port, Timeout: 10 * time.Second}, server, nil)
	if err != nil || r.State != check.OK || !strings.HasPrefix(r.Message, "TCP OK") || len(r.Perf) != 1 || r.Perf[0].Label != "time" {
		t.Fatalf("check_tcp on an open port: %+v, %v", r, err)
	}
	if c, ok := ParseContent(Content(r, perf)); !ok || !strings.HasPrefix(string(Content(r, perf)), "OK TCP OK - ") || len(c.Perf) != 1 {
		t.Errorf("content %q read back as %+v", Content(r, perf), c)
	}
	ln.Close()
	r, err = run(t, d, Spec{Name: "tcp", Command: "check_tcp -H $SMCTL_HOST -p " + port}, server, nil)
	if err != nil || r.State != check.Critical || r.Message != "connect to address 127.0.0.1 and port "+port+": Connection refused" {
		t.Errorf("check_tcp on a closed port: %+v, %v", r, err)
	}
	// A remote check: on the node (here through the local transport's
	// shell), found in the node's plugin directory.
	r, err = run(t, d, Spec{Name: "dummy", Command: `check_dummy 1 "$SMCTL_DEVICE"`, Remote: true}, server, transport.Local{})
	if err != nil || r.State != check.Warning || r.Message != "WARNING: /systems/servers/n1" {
		t.Errorf("remote check_dummy: %+v, %v", r, err)
	}
	r, err = run(t, d, Spec{Name: "load", Command: "check_load -r -w 1000,1000,1000 -c 2000,2000,2000", Remote: true}, server, transport.Local{})
	if err != nil || r.State != check.OK || len(r.Perf) == 0 {
		t.Errorf("remote check_load: %+v, %v", r, err)
	}
}

// TestRunEnv: a plugin gets a clean environment and the SMCTL_*
// variables of an agent, nothing of smctl's own.
func TestRunEnv(t *testing.T) {
	root := t.TempDir()
	t.Setenv("SECRET_TOKEN", "leak")
	writePlugin(t, filepath.Join(root, PluginsDir), "check_env", `echo "OK env"; env`)
	dev := server
	dev.User, dev.Password = "admin", "hunter2"
	r, err := run(t, New(root), Spec{Name: "env", Command: "check_env"}, dev, nil)
	if err != nil || r.State != check.OK {
		t.Fatalf("%+v, %v", r, err)
	}
	got := map[string]string{}
	for _, l := range strings.Split(r.Long, "\n") {
		k, v, _ := strings.Cut(l, "=")
		got[k] = v
	}
	for k, v := range map[string]string{"PATH": cleanPath, "LC_ALL": "C", "SMCTL_HOST": "127.0.0.1", "SMCTL_DEVICE": "/systems/servers/n1",
		"SMCTL_TYPE": "server", "SMCTL_PATH": "/systems/servers/n1/checks/env", "SMCTL_OP": "read", "SMCTL_ROOT": root,
		"SMCTL_CHECK": "env", "SMCTL_USER": "admin", "SMCTL_PASSWORD": "hunter2", "SMCTL_ATTR_PORT": "22", "SMCTL_ATTR_ADDRESS": "127.0.0.1"} {
		if got[k] != v {
			t.Errorf("$%s = %q, want %q", k, got[k], v)
		}
		delete(got, k)
	}
	delete(got, "PWD") // the shell's own
	if len(got) != 0 {
		t.Errorf("more in the environment: %q", got)
	}
}

// TestRunBounds: a plugin that outlives its timeout, or prints too much,
// is killed and UNKNOWN; one found nowhere, or on a device that may not
// act, is an error.
func TestRunBounds(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, PluginsDir)
	writePlugin(t, dir, "check_slow", "sleep 30; echo OK")
	writePlugin(t, dir, "check_loud", "echo 'OK loud'; exec yes")
	d := New(root)
	start := time.Now()
	r, err := run(t, d, Spec{Name: "slow", Command: "check_slow", Timeout: 200 * time.Millisecond}, server, nil)
	if err != nil || r.State != check.Unknown || r.Message != "plugin check_slow timed out after 200ms" || time.Since(start) > 10*time.Second {
		t.Errorf("slow plugin: %+v, %v after %s", r, err, time.Since(start))
	}
	r, err = run(t, d, Spec{Name: "slow", Command: "sleep 30", Timeout: 200 * time.Millisecond, Remote: true}, server, transport.Local{})
	if err != nil || r.State != check.Unknown || r.Message != "plugin sleep timed out after 200ms" {
		t.Errorf("slow remote plugin: %+v, %v", r, err)
	}
	r, err = run(t, d, Spec{Name: "loud", Command: "check_loud"}, server, nil)
	if err != nil || r.State != check.Unknown || r.Message != "plugin check_loud printed more than 64 KiB: OK loud" {
		t.Errorf("loud plugin: %+v, %v", r, err)
	}
	_, err = run(t, d, Spec{Name: "nope", Command: "check_nope -H x"}, server, nil)
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "check_nope in "+dir+", /usr/lib/nagios/plugins") {
		t.Errorf("no plugin: %v", err)
	}
	_, err = run(t, d, Spec{Name: "nope", Command: "check_nope -H x", Remote: true}, server, transport.Local{})
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "check_nope on the node") {
		t.Errorf("no plugin on the node: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := d.Run(ctx, Spec{Name: "slow", Command: "check_slow", Timeout: time.Minute}, server, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	bad := server
	bad.Err = errors.New("untrusted file /systems/servers/n1/address")
	if _, err := run(t, d, Spec{Name: "slow", Command: "check_slow"}, bad, nil); err == nil || !strings.Contains(err.Error(), "untrusted file") {
		t.Errorf("untrusted device: %v", err)
	}
}

// TestPluginTrust: a plugin runs only from a directory, and as a file,
// nobody less trusted can change (run as root, giving files to nobody);
// an untrusted directory refuses the search even where a trusted one
// later has the plugin.
func TestPluginTrust(t *testing.T) {
	if os.Geteuid() != 0 {
		testpriv.Need(t, "root (to give plugins and directories to another user)")
	}
	root := t.TempDir()
	marker := filepath.Join(root, "ran")
	body := "touch " + marker + "; echo 'OK ran'"
	chown := func(p string) {
		if err := os.Chown(p, testpriv.Nobody, testpriv.Nobody); err != nil {
			t.Fatal(err)
		}
	}
	chmod := func(p string, m os.FileMode) {
		if err := os.Chmod(p, m); err != nil {
			t.Fatal(err)
		}
	}
	good := filepath.Join(root, "good")
	writePlugin(t, good, "check_x", body)
	for _, tc := range []struct {
		name  string
		setup func(dir string) (pluginDirs []string, cmd string)
		why   string
	}{
		{"dir writable by others", func(dir string) ([]string, string) {
			writePlugin(t, dir, "check_x", body)
			chmod(dir, 0o777)
			return []string{dir}, "check_x"
		}, "writable by group or others without the sticky bit"},
		{"dir writable by others, plugin elsewhere", func(dir string) ([]string, string) {
			os.MkdirAll(dir, 0o755)
			chmod(dir, 0o777)
			return []string{dir, good}, "check_x"
		}, "writable by group or others"},
		{"dir of another user", func(dir string) ([]string, string) {
			writePlugin(t, dir, "check_x", body)
			chown(dir)
			return []string{dir}, "check_x"
		}, "a directory owned by another user"},
		{"plugin of another user", func(dir string) ([]string, string) {
			chown(writePlugin(t, dir, "check_x", body))
			return []string{dir}, "check_x"
		}, "owned by another user"},
		{"plugin of another user in a sticky dir", func(dir string) ([]string, string) {
			chown(writePlugin(t, dir, "check_x", body))
			chmod(dir, os.ModeSticky|0o777)
			return []string{dir, good}, "check_x"
		}, "owned by another user"},
		{"plugin writable by its group", func(dir string) ([]string, string) {
			chmod(writePlugin(t, dir, "check_x", body), 0o775)
			return []string{dir}, "check_x"
		}, "writable by its group"},
		{"absolute plugin in a dir writable by others", func(dir string) ([]string, string) {
			p := writePlugin(t, dir, "check_x", body)
			chmod(dir, 0o777)
			return nil, p + " -H $SMCTL_HOST"
		}, "writable by group or others"},
		{"absolute plugin of another user", func(dir string) ([]string, string) {
			p := writePlugin(t, dir, "check_x", body)
			chown(p)
			return nil, p
		}, "owned by another user"},
		{"relative plugin dir under an open parent", func(dir string) ([]string, string) {
			writePlugin(t, filepath.Join(dir, "sub"), "check_x", body)
			chmod(dir, 0o777)
			rel, _ := filepath.Rel(root, filepath.Join(dir, "sub"))
			return []string{rel}, "check_x"
		}, "writable by group or others"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(root, strings.ReplaceAll(tc.name, " ", "-"))
			dirs, cmd := tc.setup(dir)
			d := New(root)
			d.plugins = dirs
			r, err := run(t, d, Spec{Name: "x", Command: cmd}, server, nil)
			if !errors.Is(err, trust.ErrUntrusted) || !strings.Contains(err.Error(), tc.why) {
				t.Errorf("ran: %+v, %v; want an untrusted error: ...%s...", r, err, tc.why)
			}
			if _, err := os.Stat(marker); err == nil {
				t.Fatalf("the plugin ran")
			}
		})
	}
	// Control: the same plugin from a trusted directory runs.
	d := New(root)
	d.plugins = []string{good}
	if r, err := run(t, d, Spec{Name: "x", Command: "check_x"}, server, nil); err != nil || r.Message != "OK ran" {
		t.Fatalf("trusted plugin: %+v, %v", r, err)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Errorf("the trusted plugin did not run: %v", err)
	}
}

// TestFind: the search order, and a plugin the first directory has wins.
func TestFind(t *testing.T) {
	needPlugins(t)
	root := t.TempDir()
	a, b := filepath.Join(root, "a"), filepath.Join(root, "b")
	writePlugin(t, b, "check_dummy", "echo OK b")
	writePlugin(t, filepath.Join(root, PluginsDir), "check_dummy", "echo OK agents")
	writePlugin(t, filepath.Join(root, PluginsDir), "check_mine", "echo OK mine")
	d := New(root)
	d.plugins = []string{a, b}
	for _, tc := range []struct{ name, want string }{
		{"check_dummy", filepath.Join(b, "check_dummy")},
		{"check_mine", filepath.Join(root, PluginsDir, "check_mine")},
		{"check_tcp", "/usr/lib/nagios/plugins/check_tcp"},
		{"check_host", "/usr/lib/nagios/plugins/check_host"}, // a symlink to check_icmp
	} {
		if got, err := d.find(tc.name); got != tc.want || err != nil {
			t.Errorf("find(%s) = %s, %v; want %s", tc.name, got, err, tc.want)
		}
	}
	d.plugins = nil
	if got, _ := d.find("check_dummy"); got != filepath.Join(root, PluginsDir, "check_dummy") {
		t.Errorf("without plugin_dirs: %s", got)
	}
	if got, _ := New("").find("check_dummy"); got != "/usr/lib/nagios/plugins/check_dummy" {
		t.Errorf("without a state root: %s", got)
	}
	if !slices.Equal(New("").searchDirs(), SystemDirs) {
		t.Errorf("searchDirs without a root: %q", New("").searchDirs())
	}
}
