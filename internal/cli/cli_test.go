package cli

import (
	"bytes"
	"context"
	"path"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

// TestFindParse checks find's single-dash tests, which cobra cannot parse.
func TestFindParse(t *testing.T) {
	tests := []struct {
		args []string
		want FindOptions
		err  string
	}{
		{args: nil, want: FindOptions{MaxDepth: -1}},
		{args: []string{"/systems", "-name", "power"}, want: FindOptions{Paths: []string{"/systems"}, Names: []string{"power"}, MaxDepth: -1}},
		{args: []string{"/a", "/b", "-type", "d", "-maxdepth", "2", "-mindepth", "1"}, want: FindOptions{Paths: []string{"/a", "/b"}, Type: "d", MaxDepth: 2, MinDepth: 1}},
		{args: []string{"-path", "*/blades/*", "-iname", "POWER"}, want: FindOptions{PathPats: []string{"*/blades/*"}, INames: []string{"power"}, MaxDepth: -1}},
		{args: []string{"-name"}, err: "-name needs an argument"},
		{args: []string{"-maxdepth", "x"}, err: "want a number"},
		{args: []string{"-type", "l"}, err: "want f or d"},
		{args: []string{"-newer", "x"}, err: "unknown test -newer"},
		{args: []string{"-name", "a", "/late"}, err: "paths must come before tests"},
		{args: []string{"-name", "[x"}, err: "bad pattern"},
	}
	for _, tt := range tests {
		got, err := parseFind(tt.args)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("parseFind(%q) error = %v, want %q", tt.args, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("parseFind(%q): %v", tt.args, err)
			continue
		}
		if got.Type != tt.want.Type || got.MaxDepth != tt.want.MaxDepth || got.MinDepth != tt.want.MinDepth ||
			strings.Join(got.Paths, ",") != strings.Join(tt.want.Paths, ",") ||
			strings.Join(got.Names, ",") != strings.Join(tt.want.Names, ",") ||
			strings.Join(got.INames, ",") != strings.Join(tt.want.INames, ",") ||
			strings.Join(got.PathPats, ",") != strings.Join(tt.want.PathPats, ",") {
			t.Errorf("parseFind(%q) = %+v, want %+v", tt.args, got, tt.want)
		}
	}
}

func TestMatchWhole(t *testing.T) {
	tests := []struct {
		pat, p string
		want   bool
	}{
		{"/systems/*/power", "/systems/servers/n1/power", true},
		{"*/blades/*", "/systems/chassis/mm/blades/3", true},
		{"/systems/servers/n?/power", "/systems/servers/n1/power", true},
		{"/systems/servers/n[12]/power", "/systems/servers/n3/power", false},
		{"/systems/servers/n[!1]/power", "/systems/servers/n3/power", true},
		{"*.status", "/a/b.status", true},
		{"/a", "/a/b", false},
	}
	for _, tt := range tests {
		o := &FindOptions{PathPats: []string{tt.pat}}
		if err := o.compile(); err != nil {
			t.Fatal(err)
		}
		if got := o.match(tt.p, path.Base(tt.p), false, 0); got != tt.want {
			t.Errorf("-path %q on %q = %v", tt.pat, tt.p, got)
		}
	}
}

// TestFindMatch checks -name and -iname, compiled once: literal names
// are compared as strings, patterns as globs; every test must pass.
func TestFindMatch(t *testing.T) {
	tests := []struct {
		args []string
		base string
		want bool
	}{
		{[]string{"-name", "power"}, "power", true},
		{[]string{"-name", "power"}, "power.status", false},
		{[]string{"-name", "power"}, "Power", false},
		{[]string{"-name", "pow*"}, "power", true},
		{[]string{"-name", "p?wer"}, "pawer", true},
		{[]string{"-name", "[pq]ower"}, "qower", true},
		{[]string{"-name", `\*`}, "*", true},
		{[]string{"-name", `\*`}, "x", false},
		{[]string{"-name", "*.status", "-name", "power*"}, "power.status", true},
		{[]string{"-name", "*.status", "-name", "power*"}, "load.status", false},
		{[]string{"-iname", "POWER"}, "Power", true},
		{[]string{"-iname", "P*R"}, "power", true},
		{[]string{"-iname", "power"}, "powers", false},
	}
	for _, tt := range tests {
		o, err := parseFind(tt.args)
		if err != nil {
			t.Fatalf("parseFind(%q): %v", tt.args, err)
		}
		if got := o.match("/d/"+tt.base, tt.base, false, 1); got != tt.want {
			t.Errorf("%q on %q = %v, want %v", tt.args, tt.base, got, tt.want)
		}
	}
}

func TestCompilePattern(t *testing.T) {
	tests := []struct {
		pat        string
		ext, icase bool
		line       string
		want       bool
	}{
		{"on", false, false, "power on", true},
		{"o(n|ff)", false, false, "off", false},
		{"o(n|ff)", false, false, "o(n|ff)", true},
		{`o\(n\|ff\)`, false, false, "off", true},
		{"o(n|ff)", true, false, "off", true},
		{"ON", false, true, "on", true},
		{"a+", false, false, "aa", false},
		{"a+", false, false, "a+", true},
	}
	for _, tt := range tests {
		re, err := compilePattern(tt.pat, tt.ext, tt.icase)
		if err != nil {
			t.Fatal(err)
		}
		if got := re.MatchString(tt.line); got != tt.want {
			t.Errorf("pattern %q (E=%v i=%v) on %q = %v", tt.pat, tt.ext, tt.icase, tt.line, got)
		}
	}
}

// TestFlagsToOptions checks that the verbs' flags land in their options.
// Every flag reaches the options the verb runs with: the runF hook gets
// what the command parsed, so a flag that is not wired fails here.
func TestFlagsToOptions(t *testing.T) {
	ios, _, _ := Test("")
	g := &globalOptions{}
	for _, tc := range []struct {
		name string
		cmd  func(capture func(any) error) *cobra.Command
		args []string
		want any
	}{
		{"cat", func(c func(any) error) *cobra.Command {
			return newCatCmd(ios, g, func(o *CatOptions) error { return c(o) })
		}, []string{"-H", "-h", "--max-age", "5m", "-o", "json", "-b", "--only", "failed", "/a", "/b"},
			&CatOptions{Paths: []string{"/a", "/b"}, Filename: true, NoFilename: true, MaxAge: 5 * time.Minute, HasMaxAge: true, Output: "json", Gather: true, Only: "failed"}},
		{"cat defaults", func(c func(any) error) *cobra.Command {
			return newCatCmd(ios, g, func(o *CatOptions) error { return c(o) })
		}, []string{"/a"}, &CatOptions{Paths: []string{"/a"}}},
		{"grep", func(c func(any) error) *cobra.Command {
			return newGrepCmd(ios, g, func(o *GrepOptions) error { return c(o) })
		}, []string{"-l", "-v", "-i", "-c", "-E", "-H", "-h", "-q", "-o", "json", "-b", "--only", "ok", "--max-age", "1m", "on", "/a"},
			&GrepOptions{Pattern: "on", Paths: []string{"/a"}, List: true, Invert: true, IgnoreCase: true, Count: true, Extended: true, Filename: true, NoFilename: true, Quiet: true, Output: "json", Gather: true, Only: "ok", MaxAge: time.Minute, HasMaxAge: true}},
		{"write", func(c func(any) error) *cobra.Command {
			return newWriteCmd(ios, g, func(o *WriteOptions) error { return c(o) })
		}, []string{"--stdin-paths", "-o", "json", "--only", "failed", "--yes", "--", "uname", "-r"},
			&WriteOptions{Args: []string{"uname", "-r"}, StdinPaths: true, Output: "json", Only: "failed", Yes: true}},
		{"write -f --prompt", func(c func(any) error) *cobra.Command {
			return newWriteCmd(ios, g, func(o *WriteOptions) error { return c(o) })
		}, []string{"-f", "run_this", "--prompt", "/p"},
			&WriteOptions{Args: []string{"/p"}, File: "run_this", Prompt: true}},
		{"ls", func(c func(any) error) *cobra.Command {
			return newLsCmd(ios, g, func(o *LsOptions) error { return c(o) })
		}, []string{"-l", "-R", "-o", "json", "/systems"},
			&LsOptions{Paths: []string{"/systems"}, Long: true, Recursive: true, Output: "json"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got any
			cmd := tc.cmd(func(o any) error { got = o; return nil })
			cmd.SetArgs(tc.args)
			if err := cmd.Execute(); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("options = %+v\nwant      %+v", got, tc.want)
			}
		})
	}
}

func TestExitCodes(t *testing.T) {
	root := t.TempDir() + "/root"
	run := func(args ...string) (int, string) {
		ios, _, errOut := Test("")
		return Run(context.Background(), ios, append([]string{"--root", root}, args...)), errOut.String()
	}
	if code, msg := run("ls"); code != ExitUsage || !strings.Contains(msg, "smctl init") {
		t.Errorf("ls on missing root: %d %q", code, msg)
	}
	if code, _ := run("init"); code != ExitOK {
		t.Errorf("init: %d", code)
	}
	if code, _ := run("cat", "/nope"); code != ExitFailed {
		t.Errorf("cat missing path: %d", code)
	}
	if code, _ := run("nosuchverb"); code != ExitUsage {
		t.Errorf("unknown verb: %d", code)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ios, _, _ := Test("")
	if code := Run(ctx, ios, []string{"--root", root, "ls"}); code != ExitInterrupted {
		t.Errorf("interrupted: %d", code)
	}
}

// syncBuffer is a bytes.Buffer safe for the progress goroutine and the test.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestProgress checks the progress line: drawn on a terminal after a
// second, erased at the end, and never when stderr is not a terminal.
func TestProgress(t *testing.T) {
	buf := &syncBuffer{}
	ios := &IOStreams{ErrOut: buf, errTTY: true}
	p := startProgress(ios, 10, "cat")
	p.add(true)
	p.add(false)
	for i := 0; i < 100 && !strings.Contains(buf.String(), "done"); i++ {
		time.Sleep(50 * time.Millisecond)
	}
	p.finish()
	out := buf.String()
	if !strings.Contains(out, "smctl cat: 2/10 done, 1 failed") || !strings.HasSuffix(out, "\r\x1b[K") {
		t.Errorf("progress on a terminal = %q", out)
	}
	if strings.Contains(out, "\x1b[3") {
		t.Errorf("colour without a colour terminal: %q", out)
	}
	buf = &syncBuffer{}
	ios = &IOStreams{ErrOut: buf}
	p = startProgress(ios, 10, "cat")
	time.Sleep(1100 * time.Millisecond)
	p.finish()
	if out := buf.String(); out != "" {
		t.Errorf("progress when piped: %q", out)
	}
}
