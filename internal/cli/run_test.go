package cli

import (
	"bytes"
	"reflect"
	"strings"
	"sync"
	"testing"
)

// TestRunFlags checks that run's flags land in RunOptions through the runF
// hook, and that flags end at the command's first word.
func TestRunFlags(t *testing.T) {
	ios, _, _ := Test("")
	g := &globalOptions{}
	for _, tc := range []struct {
		name string
		args []string
		want *RunOptions
	}{
		{"defaults", []string{"uptime"}, &RunOptions{Args: []string{"uptime"}}},
		{"command flags are its own", []string{"-w", "n1", "uname", "-a"}, &RunOptions{Args: []string{"uname", "-a"}, Nodes: nodeFlags{nodes: []string{"n1"}}}},
		{"all", []string{"-w", "n[1,3]", "-g", "web", "-x", "n3", "-b", "-t", "--stdin", "--password", "-o", "json", "--only", "failed", "--", "ls", "-l"},
			&RunOptions{Args: []string{"ls", "-l"}, Nodes: nodeFlags{nodes: []string{"n[1,3]"}, groups: []string{"web"}, exclude: []string{"n3"}},
				Gather: true, Pty: true, Stdin: true, Password: true, Output: "json", Only: "failed"}},
		{"diff", []string{"--diff", "--tty", "--gather=false", "date"}, &RunOptions{Args: []string{"date"}, Diff: true, Pty: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got *RunOptions
			cmd := newRunCmd(ios, g, func(o *RunOptions) error { got = o; return nil })
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

// TestRunUsage: run without a command, with -b and --diff, or a bad
// --only is a usage error (exit 2).
func TestRunUsage(t *testing.T) {
	root := t.TempDir()
	for _, args := range [][]string{
		{"run"},
		{"run", "-b", "--diff", "true"},
		{"run", "--diff", "-o", "json", "true"},
		{"run", "--only", "sometimes", "true"},
		{"run", "-o", "yaml", "true"},
	} {
		code, _, errOut := run(t, append([]string{"--root", root}, args...)...)
		if code != ExitUsage {
			t.Errorf("smctl %v: exit %d, want %d (stderr %q)", args, code, ExitUsage, errOut)
		}
	}
}

// TestLineWriter: every complete line gets its node's prefix, a partial
// line waits for its end or for flush, and lines of two nodes written at
// once never mix within a line.
func TestLineWriter(t *testing.T) {
	var out bytes.Buffer
	s := &nodeStreams{ios: &IOStreams{Out: &out}, labels: map[string]string{"/d/n1": "n1", "/d/n2": "n2"}, open: map[string]*lineWriter{}}
	w1, _ := s.writers("/d/n1")
	w2, _ := s.writers("/d/n2")
	w1.Write([]byte("a\nb"))
	if out.String() != "n1: a\n" {
		t.Fatalf("after a partial line: %q", out.String())
	}
	w1.Write([]byte("c\n\nd"))
	s.flush("/d/n1")
	if want := "n1: a\nn1: bc\nn1: \nn1: d\n"; out.String() != want {
		t.Fatalf("got %q, want %q", out.String(), want)
	}
	out.Reset()
	var wg sync.WaitGroup
	for _, w := range []interface{ Write([]byte) (int, error) }{w1, w2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				w.Write([]byte("xxxxxxxx"))
				w.Write([]byte("yyyy\n"))
			}
		}()
	}
	wg.Wait()
	for _, l := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
		if l != "n1: xxxxxxxxyyyy" && l != "n2: xxxxxxxxyyyy" {
			t.Fatalf("a mixed line: %q", l)
		}
	}
}
