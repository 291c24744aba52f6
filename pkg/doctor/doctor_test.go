package doctor

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// want is a finding a case expects: its level and subject, and a part of
// its message (ROOT stands for the state root).
type want struct {
	level    Level
	subject  string
	contains string
}

// expect fails t unless every want is among got, and got has exactly
// errs errors and warns warnings.
func expect(t *testing.T, got []Finding, dir string, errs, warns int, wants ...want) {
	t.Helper()
	var lines []string
	ne, nw := 0, 0
	for _, f := range got {
		lines = append(lines, f.String())
		switch f.Level {
		case Error:
			ne++
		case Warn:
			nw++
		}
	}
	all := strings.Join(lines, "\n")
	for _, w := range wants {
		subject := strings.ReplaceAll(w.subject, "ROOT", dir)
		contains := strings.ReplaceAll(w.contains, "ROOT", dir)
		if !slices.ContainsFunc(got, func(f Finding) bool {
			return f.Level == w.level && f.Subject == subject && strings.Contains(f.Msg, contains)
		}) {
			t.Errorf("no finding %q %q containing %q in:\n%s", w.level, subject, contains, all)
		}
	}
	if ne != errs || nw != warns {
		t.Errorf("%d errors and %d warnings, want %d and %d:\n%s", ne, nw, errs, warns, all)
	}
}

func chmod(t *testing.T, p string, m os.FileMode) {
	t.Helper()
	if err := os.Chmod(p, m); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, p, s string, m os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(s), m); err != nil {
		t.Fatal(err)
	}
	chmod(t, p, m) // whatever the umask
}

// TestCheck runs the doctor over a root with one thing wrong per case.
func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name        string
		setup       func(t *testing.T, dir string, o *Options)
		errs, warns int
		wants       []want
	}{
		{"a fresh root", nil, 0, 0, []want{
			{OK, "config", "smctl.yaml parsed (5 types: blade, chassis, hypervisor, server, vm)"},
			{OK, "agents", "3 agents in 2 directories of agents.d, executable and trusted"},
			{OK, "key file ROOT/key", "private (0600), 0 ids files"},
			{OK, "known_hosts", "2 hosts in "},
			{OK, "tree", "1 device, 1 with a command file"},
			{OK, "nodes", "1 of 1 sampled answered (median "},
		}},
		{"an agent that is not executable", func(t *testing.T, dir string, o *Options) {
			chmod(t, filepath.Join(dir, "agents.d/server/uptime.read"), 0o644)
		}, 2, 0, []want{
			{Error, "agents.d/server/uptime.read", "not executable, mode 0644 (chmod +x ROOT/agents.d/server/uptime.read)"},
			{Error, "agents", "1 of 3 agents cannot run"},
		}},
		{"an agent writable by its group", func(t *testing.T, dir string, o *Options) {
			chmod(t, filepath.Join(dir, "agents.d/server/power.write"), 0o775)
		}, 2, 0, []want{
			{Error, "agents.d/server/power.write", "writable by its group, mode 0775 (chmod g-w ROOT/agents.d/server/power.write)"},
		}},
		{"an agent writable by all", func(t *testing.T, dir string, o *Options) {
			chmod(t, filepath.Join(dir, "agents.d/server/power.write"), 0o777)
		}, 2, 0, []want{
			{Error, "agents.d/server/power.write", "mode 0777 (chmod go-w ROOT/agents.d/server/power.write)"},
		}},
		{"an agent writable by others", func(t *testing.T, dir string, o *Options) {
			chmod(t, filepath.Join(dir, "agents.d/server/power.write"), 0o757)
		}, 2, 0, []want{
			{Error, "agents.d/server/power.write", "writable by others, mode 0757 (chmod o-w ROOT/agents.d/server/power.write)"},
		}},
		{"a discovery agent that is not executable", func(t *testing.T, dir string, o *Options) {
			chmod(t, filepath.Join(dir, "agents.d/discover.d/localnet"), 0o600)
		}, 2, 0, []want{
			{Error, "agents.d/discover.d/localnet", "not executable"},
		}},
		{"a type directory writable by its group", func(t *testing.T, dir string, o *Options) {
			chmod(t, filepath.Join(dir, "agents.d/server"), 0o775)
		}, 2, 0, []want{
			{Error, "agents.d/server", "writable by its group, mode 0775 (chmod g-w ROOT/agents.d/server): the agents below it never run"},
			{Error, "agents", "2 of 3 agents cannot run"},
		}},
		{"a state root writable by others", func(t *testing.T, dir string, o *Options) {
			chmod(t, dir, 0o757)
		}, 2, 0, []want{
			{Error, "ROOT", "writable by others, mode 0757 (chmod o-w ROOT)"},
			{Error, "agents", "3 of 3 agents cannot run"},
		}},
		{"a link to nothing", func(t *testing.T, dir string, o *Options) {
			if err := os.Symlink("../reference/gone", filepath.Join(dir, "agents.d/server/temp.read")); err != nil {
				t.Fatal(err)
			}
		}, 2, 0, []want{
			{Error, "agents.d/server/temp.read", "a link to nothing"},
		}},
		{"a FIFO where an agent belongs", func(t *testing.T, dir string, o *Options) {
			if err := syscall.Mkfifo(filepath.Join(dir, "agents.d/server/temp.read"), 0o755); err != nil {
				t.Fatal(err)
			}
		}, 2, 0, []want{
			{Error, "agents.d/server/temp.read", "not a regular file"},
		}},
		{"agents of a type smctl.yaml does not declare", func(t *testing.T, dir string, o *Options) {
			writeFile(t, filepath.Join(dir, "agents.d/switch/ports.read"), markerAgent, 0o755)
		}, 0, 1, []want{
			{Warn, "agents.d/switch", "no type switch in smctl.yaml: its 1 agents never run"},
		}},
		{"no agent directory", func(t *testing.T, dir string, o *Options) {
			if err := os.RemoveAll(filepath.Join(dir, "agents.d")); err != nil {
				t.Fatal(err)
			}
		}, 0, 1, []want{
			{Warn, "agents.d", "missing: only the built-in agents run"},
			{OK, "agents", "none installed"},
		}},
		{"a syntax error in smctl.yaml", func(t *testing.T, dir string, o *Options) {
			writeFile(t, filepath.Join(dir, "smctl.yaml"), "tree: tree\nfanout: [1,\n", 0o644)
		}, 1, 0, []want{
			{Error, "config", "ROOT/smctl.yaml:"},
		}},
		{"an unknown key in smctl.yaml", func(t *testing.T, dir string, o *Options) {
			writeFile(t, filepath.Join(dir, "smctl.yaml"), "tree: tree\nfanuot: 3\n", 0o644)
		}, 1, 0, []want{
			{Error, "config", "ROOT/smctl.yaml:2:1: "},
		}},
		{"smctl.yaml writable by its group", func(t *testing.T, dir string, o *Options) {
			chmod(t, filepath.Join(dir, "smctl.yaml"), 0o664)
		}, 1, 0, []want{
			{Error, "config", "writable by its group, mode 0664 (chmod g-w ROOT/smctl.yaml)"},
		}},
		{"no state root", func(t *testing.T, dir string, o *Options) {
			if err := os.RemoveAll(dir); err != nil {
				t.Fatal(err)
			}
		}, 1, 0, []want{
			{Error, "root", `create one with "smctl init"`},
		}},
		{"no key file and no ids", func(t *testing.T, dir string, o *Options) {
			if err := os.Remove(filepath.Join(dir, "key")); err != nil {
				t.Fatal(err)
			}
		}, 0, 1, []want{
			{Warn, "key file ROOT/key", "missing: ids files cannot be decrypted or written"},
		}},
		{"no key file for the ids files", func(t *testing.T, dir string, o *Options) {
			tr, err := o.Open()
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range []string{"/ids", "/systems/servers/localhost/ids"} {
				if _, err := tr.Write(context.Background(), p, []byte("admin:secret\n")); err != nil {
					t.Fatal(err)
				}
			}
			tr.Close()
			if err := os.Remove(filepath.Join(dir, "key")); err != nil {
				t.Fatal(err)
			}
		}, 3, 0, []want{
			{Error, "key file ROOT/key", "missing: 2 ids files cannot be decrypted (restore the key"},
			// The node's credentials are in an ids file: it cannot be asked.
			{Error, "nodes", "localhost failed: ids /systems/servers/localhost/ids: key file ROOT/key is missing"},
			{Error, "nodes", "0 of 1 sampled answered"},
		}},
		{"a key others may read", func(t *testing.T, dir string, o *Options) {
			chmod(t, filepath.Join(dir, "key"), 0o644)
		}, 1, 0, []want{
			{Error, "key file ROOT/key", "mode 0644: others than its owner may read it, so ids files cannot be decrypted (chmod 600 ROOT/key)"},
		}},
		{"a corrupt key", func(t *testing.T, dir string, o *Options) {
			writeFile(t, filepath.Join(dir, "key"), "not a key\n", 0o600)
		}, 1, 0, []want{
			{Error, "key file ROOT/key", "corrupt"},
		}},
		{"a key file elsewhere ($SMCTL_KEY_FILE)", func(t *testing.T, dir string, o *Options) {
			o.Open = opener(dir, "/nonexistent/key")
		}, 0, 1, []want{
			{Warn, "key file /nonexistent/key", "missing"},
		}},
		{"no known_hosts", func(t *testing.T, dir string, o *Options) {
			o.KnownHosts = []string{filepath.Join(dir, "none"), "/nonexistent/known_hosts"}
		}, 0, 1, []want{
			{Warn, "known_hosts", "no file (ROOT/none or 1 others): SSH nodes whose ssh_config names none of their own are refused"},
		}},
		{"known_hosts writable by its group", func(t *testing.T, dir string, o *Options) {
			chmod(t, o.KnownHosts[0], 0o664)
		}, 1, 0, []want{
			{Error, "known_hosts " + "KH", "writable by its group, mode 0664 (chmod g-w KH): smctl refuses every SSH host key until it is fixed"},
		}},
		{"a line of known_hosts that is not an entry", func(t *testing.T, dir string, o *Options) {
			f, err := os.OpenFile(o.KnownHosts[0], os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintln(f, "n9999 ssh-ed25519 notbase64!")
			f.Close()
		}, 1, 0, []want{
			{Error, "known_hosts KH", "line 5: "},
		}},
		{"no sample", func(t *testing.T, dir string, o *Options) {
			o.Sample = 0
		}, 0, 0, nil},
		{"a node that refuses connections", func(t *testing.T, dir string, o *Options) {
			identity(t)
			discoverIn(t, dir, fmt.Sprintf("server dead address=127.0.0.1 port=%d\n", closedPort(t)))
		}, 2, 0, []want{
			{OK, "tree", "2 devices, 2 with a command file"},
			{Error, "nodes", "dead unreachable: "},
			{Error, "nodes", "1 of 2 sampled answered (median "},
		}},
		{"a node that does not answer", func(t *testing.T, dir string, o *Options) {
			identity(t)
			discoverIn(t, dir, fmt.Sprintf("server hung address=127.0.0.1 port=%d\n", silentPort(t)))
			o.Timeout = 300 * time.Millisecond
		}, 2, 0, []want{
			{Error, "nodes", "hung timed out: no answer within 300ms"},
			{Error, "nodes", "1 of 2 sampled answered"},
		}},
		{"a node with no key to log in with", func(t *testing.T, dir string, o *Options) {
			discoverIn(t, dir, fmt.Sprintf("server nokey address=127.0.0.1 port=%d\n", closedPort(t)))
		}, 2, 0, []want{
			{Error, "nodes", "nokey unreachable: no way to authenticate"},
		}},
		{"no device with a command file", func(t *testing.T, dir string, o *Options) {
			discoverIn(t, dir, "remove server localhost\n")
		}, 0, 1, []want{
			{OK, "tree", "0 devices, 0 with a command file"},
			{Warn, "nodes", "no device has a command file: nothing to sample"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := newRoot(t)
			kh := knownHosts(t, 2)
			o := options(dir, kh)
			if tc.setup != nil {
				tc.setup(t, dir, &o)
			}
			for i := range tc.wants {
				tc.wants[i].subject = strings.ReplaceAll(tc.wants[i].subject, "KH", kh)
				tc.wants[i].contains = strings.ReplaceAll(tc.wants[i].contains, "KH", kh)
			}
			got := collect(t, o)
			expect(t, got, dir, tc.errs, tc.warns, tc.wants...)
			// The doctor runs no agent, trusted or not.
			if ms, _ := filepath.Glob(filepath.Join(filepath.Dir(dir), "ran-*")); len(ms) > 0 {
				t.Errorf("the doctor ran agents: %v", ms)
			}
		})
	}
}
