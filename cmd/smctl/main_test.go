package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/smctl/smctl/internal/cli"
	"github.com/smctl/smctl/internal/testbmc"
	"github.com/smctl/smctl/internal/testlibvirt"
	"github.com/smctl/smctl/internal/testsshd"
)

// farms holds each script's BMC simulators, for bmcdown.
var farms sync.Map

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"smctl": func() { os.Exit(cli.Main()) },
	})
}

// TestScripts runs testscripts/*.txtar: each script gets a fresh $WORK, a
// state root path in $SMCTL_ROOT (not yet made: scripts run smctl init),
// and no colour.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 filepath.Join("..", "..", "testscripts"),
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		Setup: func(env *testscript.Env) error {
			env.Setenv("SMCTL_ROOT", filepath.Join(env.WorkDir, "root"))
			env.Setenv("HOME", filepath.Join(env.WorkDir, "home"))
			env.Setenv("NO_COLOR", "1")
			env.Setenv("XDG_DATA_HOME", "")
			return nil
		},
		// [need:root] and [need:NAME] (an executable on $PATH) are true when
		// the script's requirement is there. Scripts skip without it, except
		// where SMCTL_TEST_REQUIRE=1 (CI): there a missing component fails
		// the run instead of silently skipping.
		Condition: func(cond string) (bool, error) {
			if cond == "systemd" { // systemd is the init: /run/systemd/system, as sd_booted(3)
				_, err := os.Stat("/run/systemd/system")
				if err == nil && os.Getenv("SMCTL_TEST_REQUIRE") == "1" {
					return false, fmt.Errorf("systemd is the init here: the init-script tests need a machine whose init is not, which SMCTL_TEST_REQUIRE=1 makes required")
				}
				return err == nil, nil
			}
			what, ok := strings.CutPrefix(cond, "need:")
			if !ok {
				return false, fmt.Errorf("unknown condition %q", cond)
			}
			have := false
			if what == "root" {
				have = os.Geteuid() == 0
			} else if what == "sshd" {
				have = testsshd.Available()
			} else if what == "ipmi_sim" {
				have = testbmc.Available()
			} else if what == "libvirtd" {
				have = testlibvirt.Available()
			} else if what == "qemu" {
				have = testlibvirt.QEMUAvailable()
			} else {
				_, err := exec.LookPath(what)
				have = err == nil
			}
			if !have && os.Getenv("SMCTL_TEST_REQUIRE") == "1" {
				return false, fmt.Errorf("missing %s, which SMCTL_TEST_REQUIRE=1 makes required", what)
			}
			return have, nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			// initscript, loopdev, libvirt and libvirtd: see their files.
			"initscript": cmdInitScript,
			"loopdev":    cmdLoopdev,
			"libvirt":    cmdLibvirt,
			"libvirtd":   cmdLibvirtd,
			"hafarm":     cmdHAFarm,
			"hostcrash":  cmdHostCrash,
			"bmcsilence": cmdBMCSilence,
			"running":    cmdRunning,
			"nevertwice": cmdNeverTwice,
			"hostoff":    cmdHostOff,
			// sshd N: start a private OpenSSH sshd on 127.0.0.1 for this
			// script, with a client ssh_config mapping s0001..sNNNN to it;
			// it stops when the script ends. With "private", sshd runs in
			// UTS and mount namespaces of its own; with "root", the login
			// is root (testsshd.Options).
			// Exports SSHD_DIR, SSHD_PORT,
			// SSHD_USER, SSHD_PASSWORD (empty unless root), SSHD_CONFIG,
			// SSHD_KEY and SSHD_KNOWN_HOSTS.
			"sshd": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) < 1 {
					ts.Fatalf("usage: sshd N [private] [root]")
				}
				var opts testsshd.Options
				for _, a := range args[1:] {
					switch a {
					case "private":
						opts.Private = true
					case "root":
						opts.Root = true
					default:
						ts.Fatalf("usage: sshd N [private] [root]")
					}
				}
				n, err := strconv.Atoi(args[0])
				ts.Check(err)
				var names []string
				for i := 1; i <= n; i++ {
					names = append(names, fmt.Sprintf("s%04d", i))
				}
				srv, err := testsshd.StartWith(names, opts)
				ts.Check(err)
				ts.Defer(func() { ts.Check(srv.Stop()) })
				ts.Setenv("SSHD_DIR", srv.Dir)
				ts.Setenv("SSHD_PORT", strconv.Itoa(srv.Port))
				ts.Setenv("SSHD_USER", srv.User)
				ts.Setenv("SSHD_PASSWORD", srv.Password)
				ts.Setenv("SSHD_CONFIG", srv.ConfigFile)
				ts.Setenv("SSHD_KEY", srv.KeyFile)
				ts.Setenv("SSHD_KNOWN_HOSTS", srv.KnownHosts)
			},
			// pwsink LOG: start a hostile SSH server on 127.0.0.1 that
			// records every password and key offered to it in LOG and lets
			// nobody in; it stops when the script ends. Exports
			// PWSINK_PORT.
			"pwsink": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 1 {
					ts.Fatalf("usage: pwsink LOG")
				}
				sink, err := testsshd.StartSink(ts.MkAbs(args[0]))
				ts.Check(err)
				ts.Defer(func() { ts.Check(sink.Stop()) })
				ts.Setenv("PWSINK_PORT", strconv.Itoa(sink.Port))
			},
			// bmc N: start N ipmi_sim BMCs on 127.0.0.1 for this script (user
			// admin, password secret), stopped when it ends. Exports for each
			// I: BMC_I (HOST:PORT), BMC_PORT_I and BMC_DIR_I (its power, boot,
			// temp_cpu ... files), and BMCS (all addresses, comma-separated).
			"bmc": func(ts *testscript.TestScript, neg bool, args []string) {
				n, err := strconv.Atoi(args[0])
				ts.Check(err)
				farm, err := testbmc.Start(n)
				ts.Check(err)
				ts.Defer(func() { ts.Check(farm.Stop()) })
				var all []string
				for i, b := range farm.BMCs {
					ts.Setenv(fmt.Sprintf("BMC_%d", i+1), b.Addr)
					ts.Setenv(fmt.Sprintf("BMC_PORT_%d", i+1), strconv.Itoa(b.Port))
					ts.Setenv(fmt.Sprintf("BMC_DIR_%d", i+1), b.Dir)
					all = append(all, b.Addr)
				}
				ts.Setenv("BMCS", strings.Join(all, ","))
				farms.Store(ts, farm)
			},
			// bmcdown I: BMC I stops answering (its port stays bound and
			// silent, as a BMC dead on the network).
			"bmcdown": func(ts *testscript.TestScript, neg bool, args []string) {
				i, err := strconv.Atoi(args[0])
				ts.Check(err)
				f, ok := farms.Load(ts)
				if !ok || i < 1 || i > len(f.(*testbmc.Farm).BMCs) {
					ts.Fatalf("bmcdown %d: no such BMC", i)
				}
				ts.Check(f.(*testbmc.Farm).BMCs[i-1].Blackhole())
			},
			// httpsink LOG: start an HTTP server on 127.0.0.1 that appends
			// each request's body, on one line, to LOG and answers 200, or
			// 503 (appending nothing) while LOG.down exists; it stops when
			// the script ends. Exports HTTPSINK_URL.
			"httpsink": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 1 {
					ts.Fatalf("usage: httpsink LOG")
				}
				log := ts.MkAbs(args[0])
				var mu sync.Mutex
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				ts.Check(err)
				srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					body, _ := io.ReadAll(r.Body)
					if _, err := os.Stat(log + ".down"); err == nil {
						http.Error(w, "down", http.StatusServiceUnavailable)
						return
					}
					mu.Lock()
					defer mu.Unlock()
					f, err := os.OpenFile(log, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
					if err != nil {
						http.Error(w, err.Error(), http.StatusInternalServerError)
						return
					}
					fmt.Fprintf(f, "%s\n", strings.ReplaceAll(string(body), "\n", " "))
					f.Close()
				})}
				go srv.Serve(ln)
				ts.Defer(func() { srv.Close() })
				ts.Setenv("HTTPSINK_URL", "http://"+ln.Addr().String()+"/hook")
			},
			// lines FILE N: FILE has exactly N lines.
			"lines": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 2 {
					ts.Fatalf("usage: lines FILE N")
				}
				want, err := strconv.Atoi(args[1])
				ts.Check(err)
				got := strings.Count(ts.ReadFile(args[0]), "\n")
				if (got == want) == neg {
					ts.Fatalf("%s has %d lines, want %d", args[0], got, want)
				}
			},
			// sleep D: wait for a duration (for cache ages).
			"sleep": func(ts *testscript.TestScript, neg bool, args []string) {
				d, err := time.ParseDuration(args[0])
				ts.Check(err)
				time.Sleep(d)
			},
			// waitfile FILE: wait (at most 10 s) until FILE exists.
			"waitfile": func(ts *testscript.TestScript, neg bool, args []string) {
				p := ts.MkAbs(args[0])
				for i := 0; i < 1000; i++ {
					if _, err := os.Stat(p); err == nil {
						return
					}
					time.Sleep(10 * time.Millisecond)
				}
				ts.Fatalf("%s did not appear", args[0])
			},
			// writefile FILE TEXT: write TEXT with escapes (\n, \x00) to FILE.
			"writefile": func(ts *testscript.TestScript, neg bool, args []string) {
				s, err := strconv.Unquote(`"` + args[1] + `"`)
				ts.Check(err)
				ts.Check(os.WriteFile(ts.MkAbs(args[0]), []byte(s), 0o644))
			},
		},
	})
}
