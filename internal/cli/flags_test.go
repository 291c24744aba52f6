package cli

import (
	"context"
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

// run runs smctl with args over fresh streams and returns its exit code,
// standard output and standard error.
func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	ios, out, errOut := Test("")
	code := Run(context.Background(), ios, args)
	return code, out.String(), errOut.String()
}

// TestVersionFlag checks that smctl --version prints what smctl version
// prints, and exits 0.
func TestVersionFlag(t *testing.T) {
	code, want, errOut := run(t, "version")
	if code != ExitOK || errOut != "" || !strings.HasPrefix(want, "smctl ") {
		t.Fatalf("smctl version: exit %d, stdout %q, stderr %q", code, want, errOut)
	}
	for _, args := range [][]string{{"--version"}, {"--root", t.TempDir(), "--version"}} {
		code, got, errOut := run(t, args...)
		if code != ExitOK || got != want || errOut != "" {
			t.Errorf("smctl %s: exit %d, stdout %q, stderr %q; want exit 0, stdout %q",
				strings.Join(args, " "), code, got, errOut, want)
		}
	}
	// --version is the root's: no -v, and the verbs do not take it.
	if code, _, _ := run(t, "-v"); code != ExitUsage {
		t.Errorf("smctl -v: exit %d, want %d", code, ExitUsage)
	}
	if code, _, _ := run(t, "cat", "--version"); code != ExitUsage {
		t.Errorf("smctl cat --version: exit %d, want %d", code, ExitUsage)
	}
}

// TestVersionLineNoBuildInfo checks the version line of a binary with no
// build information at all, through versionLine.
func TestVersionLineNoBuildInfo(t *testing.T) {
	saved := readBuildInfo
	defer func() { readBuildInfo = saved }()
	readBuildInfo = func() (*debug.BuildInfo, bool) { return nil, false }
	got := versionLine()
	if !strings.HasPrefix(got, "smctl devel (go") || !strings.HasSuffix(got, "; no VCS information)") {
		t.Errorf("versionLine() = %q, want smctl devel (GO, OS/ARCH; no VCS information)", got)
	}
	code, out, _ := run(t, "--version")
	if code != ExitOK || out != got+"\n" {
		t.Errorf("smctl --version: exit %d, stdout %q, want %q", code, out, got+"\n")
	}
}

func TestFormatVersion(t *testing.T) {
	stamped := []debug.BuildSetting{
		{Key: "vcs", Value: "git"},
		{Key: "vcs.revision", Value: "e4a48022174a8213db5aea51617c07c6ba0f5237"},
		{Key: "vcs.time", Value: "2026-11-22T06:42:11Z"},
		{Key: "vcs.modified", Value: "false"},
	}
	modified := append(stamped[:3:3], debug.BuildSetting{Key: "vcs.modified", Value: "true"})
	bi := func(version string, settings []debug.BuildSetting) *debug.BuildInfo {
		b := &debug.BuildInfo{Settings: settings}
		b.Main.Path = "github.com/smctl/smctl"
		b.Main.Version = version
		return b
	}
	tests := []struct {
		name string
		ld   string
		bi   *debug.BuildInfo
		want string
	}{
		{"no build information", "", nil,
			"smctl devel (go1.26.0, linux/amd64; no VCS information)"},
		{"go test, go run, -buildvcs=false", "", bi("(devel)", nil),
			"smctl devel (go1.26.0, linux/amd64; no VCS information)"},
		{"empty module version", "", bi("", nil),
			"smctl devel (go1.26.0, linux/amd64; no VCS information)"},
		{"go build in a clean work tree", "", bi("v0.0.0-20261122064211-e4a48022174a", stamped),
			"smctl v0.0.0-20261122064211-e4a48022174a (go1.26.0, linux/amd64; revision e4a48022174a, 2026-11-22T06:42:11Z)"},
		{"go build with local changes", "", bi("v0.0.0-20261122064211-e4a48022174a+dirty", modified),
			"smctl v0.0.0-20261122064211-e4a48022174a+dirty (go1.26.0, linux/amd64; revision e4a48022174a, 2026-11-22T06:42:11Z, modified)"},
		{"VCS information and no module version", "", bi("(devel)", stamped),
			"smctl devel (go1.26.0, linux/amd64; revision e4a48022174a, 2026-11-22T06:42:11Z)"},
		{"a revision without a time", "", bi("(devel)", []debug.BuildSetting{{Key: "vcs.revision", Value: "abc123"}}),
			"smctl devel (go1.26.0, linux/amd64; revision abc123)"},
		{"go install @version", "", bi("v1.2.0", nil),
			"smctl v1.2.0 (go1.26.0, linux/amd64)"},
		{"-ldflags -X Version", "1.3.0-rc1", bi("(devel)", modified),
			"smctl 1.3.0-rc1 (go1.26.0, linux/amd64; revision e4a48022174a, 2026-11-22T06:42:11Z, modified)"},
		{"-ldflags -X Version without build information", "1.3.0", nil,
			"smctl 1.3.0 (go1.26.0, linux/amd64)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := formatVersion(tt.ld, tt.bi, "go1.26.0", "linux/amd64"); got != tt.want {
				t.Errorf("formatVersion = %q\nwant            %q", got, tt.want)
			}
		})
	}
}

// TestCobraErrorsOnePrefix checks that cobra's errors are printed after a
// single "smctl: ", naming the verb, if any, once.
func TestCobraErrorsOnePrefix(t *testing.T) {
	root := t.TempDir() + "/root"
	tests := []struct {
		args []string
		want string // stderr's first line
	}{
		{[]string{"--bogus"}, "smctl: unknown flag: --bogus"},
		{[]string{"--bogus", "cat"}, "smctl: unknown flag: --bogus"},
		{[]string{"cat", "--bogus"}, "smctl: cat: unknown flag: --bogus"},
		{[]string{"ls", "--timeout", "soon"}, `smctl: ls: invalid argument "soon" for "--timeout" flag: time: invalid duration "soon"`},
		{[]string{"completion", "bash", "--bogus"}, "smctl: completion bash: unknown flag: --bogus"},
		{[]string{"grep", "-o"}, "smctl: grep: flag needs an argument: 'o' in -o"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, _, errOut := run(t, append([]string{"--root", root}, tt.args...)...)
			first, _, _ := strings.Cut(errOut, "\n")
			if code != ExitUsage || first != tt.want {
				t.Errorf("exit %d, stderr %q; want exit 2, first line %q", code, errOut, tt.want)
			}
			if strings.Count(errOut, "smctl: ") != 1 {
				t.Errorf("stderr %q has not one smctl: prefix", errOut)
			}
		})
	}
}

// TestWriteFlagHint checks the hint of a write whose VALUE has a word that
// starts with -, taken for a flag: given when the flag comes after the
// PATH, not for write's own flags before it.
func TestWriteFlagHint(t *testing.T) {
	root := t.TempDir() + "/root"
	tests := []struct {
		args []string
		want string // stderr's first line
	}{
		{[]string{"write", "/systems/servers/localhost/command", "uname", "-a"},
			"smctl: write: unknown shorthand flag: 'a' in -a " + writeDashHint},
		{[]string{"write", "/p", "ls", "--all"},
			"smctl: write: unknown flag: --all " + writeDashHint},
		{[]string{"write", "--stdin-paths", "uname", "-a"},
			"smctl: write: unknown shorthand flag: 'a' in -a " + writeDashHint},
		{[]string{"write", "/p", "tail", "-f"},
			"smctl: write: flag needs an argument: 'f' in -f " + writeDashHint},
		{[]string{"write", "-a", "/p", "x"}, "smctl: write: unknown shorthand flag: 'a' in -a"},
		{[]string{"write", "--bogus"}, "smctl: write: unknown flag: --bogus"},
		// other verbs get no hint
		{[]string{"cat", "/p", "-a"}, "smctl: cat: unknown shorthand flag: 'a' in -a"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, _, errOut := run(t, append([]string{"--root", root}, tt.args...)...)
			if want := tt.want + "\n" + helpHint; code != ExitUsage || errOut != want {
				t.Errorf("exit %d, stderr %q\nwant exit 2, stderr %q", code, errOut, want)
			}
		})
	}
	if !strings.Contains(writeDashHint, "smctl write PATH -- uname -a") {
		t.Errorf("the hint %q does not show --", writeDashHint)
	}
}

// TestMissingArguments checks that an argument count cobra refuses names
// the verb and its usage line.
func TestMissingArguments(t *testing.T) {
	root := t.TempDir() + "/root"
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"grep"}, "smctl: grep: requires at least 1 arg(s), only received 0 (usage: smctl grep [-l] [-v] [-i] [-c] [-E] PATTERN [PATH...] [flags])"},
		{[]string{"grep", "-l"}, "smctl: grep: requires at least 1 arg(s), only received 0 (usage: smctl grep [-l] [-v] [-i] [-c] [-E] PATTERN [PATH...] [flags])"},
		{[]string{"delegate"}, "smctl: delegate: requires at least 2 arg(s), only received 0 (usage: smctl delegate [--revoke] GROUP PATH... [flags])"},
		{[]string{"delegate", "wheel"}, "smctl: delegate: requires at least 2 arg(s), only received 1 (usage: smctl delegate [--revoke] GROUP PATH... [flags])"},
		// NoArgs's error names the command already: left as it was.
		{[]string{"version", "x"}, `smctl: unknown command "x" for "smctl version"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, _, errOut := run(t, append([]string{"--root", root}, tt.args...)...)
			if want := tt.want + "\n" + helpHint; code != ExitUsage || errOut != want {
				t.Errorf("exit %d, stderr %q\nwant exit 2, stderr %q", code, errOut, want)
			}
		})
	}
}

// TestGlobalFlagValues checks that an explicit --timeout or
// --connect-timeout of 0 or less, or a --fanout below 1, is a usage error
// naming the flag, before or after the verb, for the verbs cobra parses
// and for find, which parses them itself.
func TestGlobalFlagValues(t *testing.T) {
	root := t.TempDir() + "/root" // never created: the flags are refused first
	const (
		timeout = "--timeout %s: want a positive duration; the default is smctl.yaml's timeout"
		connect = "--connect-timeout %s: want a positive duration; the default is smctl.yaml's ssh connect_timeout"
		fanout  = "--fanout %s: want at least 1; the default is smctl.yaml's fanout"
	)
	flags := []struct {
		flag []string
		msg  string
	}{
		{[]string{"--timeout", "0"}, strings.Replace(timeout, "%s", "0", 1)},
		{[]string{"--timeout=0s"}, strings.Replace(timeout, "%s", "0", 1)},
		{[]string{"--timeout", "-5s"}, strings.Replace(timeout, "%s", "-5s", 1)},
		{[]string{"--connect-timeout", "0"}, strings.Replace(connect, "%s", "0", 1)},
		{[]string{"--connect-timeout=-1m"}, strings.Replace(connect, "%s", "-1m0s", 1)},
		{[]string{"--fanout", "0"}, strings.Replace(fanout, "%s", "0", 1)},
		{[]string{"--fanout", "-3"}, strings.Replace(fanout, "%s", "-3", 1)},
		{[]string{"--fanout=-3"}, strings.Replace(fanout, "%s", "-3", 1)},
	}
	verbs := [][]string{
		{"cat", "/x"},
		{"ls", "/"},
		{"grep", "x", "/x"},
		{"write", "/x", "v"},
		{"delegate", "wheel", "/x"},
		{"find", "/", "-name", "x"},
	}
	for _, f := range flags {
		for _, v := range verbs {
			for _, before := range []bool{true, false} {
				args := []string{"--root", root}
				if before {
					args = append(append(args, f.flag...), v...)
				} else {
					args = append(append(args, v...), f.flag...)
				}
				t.Run(strings.Join(args[2:], " "), func(t *testing.T) {
					code, out, errOut := run(t, args...)
					want := "smctl: " + v[0] + ": " + f.msg + "\n"
					if code != ExitUsage || errOut != want || out != "" {
						t.Errorf("exit %d, stdout %q, stderr %q\nwant exit 2, stderr %q", code, out, errOut, want)
					}
				})
			}
		}
	}
}

// TestGlobalFlagDefaults checks that positive values are taken and that
// flags not given keep smctl.yaml's settings, for cobra's verbs and find.
func TestGlobalFlagDefaults(t *testing.T) {
	root := t.TempDir() + "/root"
	if code, _, errOut := run(t, "--root", root, "init"); code != ExitOK {
		t.Fatalf("init: exit %d: %s", code, errOut)
	}
	for _, args := range [][]string{
		{"ls", "/"},
		{"--timeout", "5s", "--connect-timeout", "2s", "--fanout", "1", "ls", "/"},
		{"ls", "--timeout=1ms", "--fanout=1", "/"},
		{"find", "/", "-maxdepth", "1"},
		{"--timeout", "5s", "--fanout", "1", "find", "/", "-maxdepth", "1"},
		{"find", "/", "--connect-timeout=2s", "--fanout", "2", "-maxdepth", "1"},
		{"cat", "/discover_master"},
		{"--fanout", "1", "cat", "/discover_master"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			code, out, errOut := run(t, append([]string{"--root", root}, args...)...)
			if code != ExitOK || errOut != "" {
				t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
			}
		})
	}
}

// TestParseGlobalFlagsValues checks find's own parsing of the global
// flags: what it takes into g, what it leaves, what it refuses.
func TestParseGlobalFlagsValues(t *testing.T) {
	tests := []struct {
		args []string
		rest []string
		want globalOptions
		err  string
	}{
		{args: []string{"/", "-name", "x"}, rest: []string{"/", "-name", "x"}},
		{args: []string{"--timeout", "2s", "/", "--fanout=3", "--connect-timeout=1s", "--root", "R"},
			rest: []string{"/"}, want: globalOptions{Root: "R", Timeout: 2 * time.Second, Fanout: 3, ConnectTimeout: time.Second}},
		{args: []string{"--timeout", "0"}, err: "find: --timeout 0: want a positive duration; the default is smctl.yaml's timeout"},
		{args: []string{"--timeout=-1s", "/"}, err: "find: --timeout -1s: want a positive duration; the default is smctl.yaml's timeout"},
		{args: []string{"--connect-timeout", "0s"}, err: "find: --connect-timeout 0: want a positive duration; the default is smctl.yaml's ssh connect_timeout"},
		{args: []string{"--fanout", "0"}, err: "find: --fanout 0: want at least 1; the default is smctl.yaml's fanout"},
		{args: []string{"--fanout=-3"}, err: "find: --fanout -3: want at least 1; the default is smctl.yaml's fanout"},
		{args: []string{"--fanout", "many"}, err: "find: --fanout many: want a number"},
		{args: []string{"--timeout", "soon"}, err: "find: --timeout soon: want a duration such as 5s"},
		{args: []string{"--timeout"}, err: "find: --timeout needs an argument"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var g globalOptions
			rest, err := parseGlobalFlags(&g, tt.args)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				if code := exitCode(context.Background(), &IOStreams{ErrOut: new(strings.Builder)}, err); code != ExitUsage {
					t.Errorf("exit %d, want %d", code, ExitUsage)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(rest, " ") != strings.Join(tt.rest, " ") || g != tt.want {
				t.Errorf("rest %q, g %+v; want %q, %+v", rest, g, tt.rest, tt.want)
			}
		})
	}
}
