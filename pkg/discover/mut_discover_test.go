package discover

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/smctl/smctl/pkg/agent"
	"github.com/smctl/smctl/pkg/vtree"
)

// TestMutParseStatement: the shape of a statement and of its key=value
// words. Discover skips blank lines; parseStatement itself refuses them.
func TestMutParseStatement(t *testing.T) {
	_, d := newTree(t, "")
	tests := []struct {
		line string
		err  string // "" for none
	}{
		{"", `want "TYPE NAMES [key=value ...]"`},
		{"remove", `want "TYPE NAMES [key=value ...]"`},
		{"remove server", `want "TYPE NAMES [key=value ...]"`},
		// chassis has a discovery agent: unknown keys are its options, but
		// a word that is not key=value, or has no key, is no option.
		{"chassis c1 =x", `"=x": want key=value`},
		{"chassis c1 blades", `"blades": want key=value`},
		{"server n1 =x", `"=x": want key=value`},
		{"chassis c1 blades=b[1-2]", ""},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			st, err := d.parseStatement(tt.line)
			switch {
			case tt.err == "" && err != nil:
				t.Fatalf("parseStatement(%q): %v", tt.line, err)
			case tt.err == "":
				if !slices.Equal(st.opts, []string{"blades=b[1-2]"}) {
					t.Errorf("opts = %q", st.opts)
				}
			case err == nil || !strings.Contains(err.Error(), tt.err):
				t.Errorf("parseStatement(%q) = %v, want error %q", tt.line, err, tt.err)
			}
		})
	}
}

// TestMutDiscoverAttrs: attribute values written into new devices. A value
// with a range pairs with several names, one each; for a single name it is
// written as given. Keys after a paired range still count.
func TestMutDiscoverAttrs(t *testing.T) {
	tests := []struct {
		name  string
		stmt  string
		lines []string
		files map[string]string // virtual path -> backing content
	}{
		{
			name:  "range pairs with names",
			stmt:  "server n[1-2] bmc=10.0.0.[1-2] user=admin",
			lines: []string{"added 2 servers: n[1-2]"},
			files: map[string]string{
				"/systems/servers/n1/bmc":  "10.0.0.1\n",
				"/systems/servers/n2/bmc":  "10.0.0.2\n",
				"/systems/servers/n1/user": "admin\n",
				"/systems/servers/n2/user": "admin\n",
			},
		},
		{
			name:  "comma value for one name",
			stmt:  "server n1 bmc=a,b",
			lines: []string{"added 1 server: n1"},
			files: map[string]string{"/systems/servers/n1/bmc": "a,b\n"},
		},
		{
			name:  "bracket value for one name",
			stmt:  "server n1 address=10.0.0.[7]",
			lines: []string{"added 1 server: n1"},
			files: map[string]string{"/systems/servers/n1/address": "10.0.0.[7]\n"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, d := newTree(t, "")
			lines, err := d.Discover(context.Background(), tt.stmt, "")
			if err != nil || !slices.Equal(lines, tt.lines) {
				t.Fatalf("Discover(%q) = %q, %v; want %q", tt.stmt, lines, err, tt.lines)
			}
			for p, want := range tt.files {
				if got := readBacking(t, tr, p); got != want {
					t.Errorf("%s = %q, want %q", p, got, want)
				}
			}
		})
	}

	// A range that does not expand to one value per name is refused.
	_, d := newTree(t, "")
	_, err := d.Discover(context.Background(), "server n[1-3] bmc=10.0.0.[1-2]", "")
	if err == nil || !strings.Contains(err.Error(), "2 values for 3 devices") {
		t.Errorf("range of 2 values for 3 names: %v", err)
	}
}

// TestMutDiscoverText: comments and blank lines are skipped, not the end of
// the text; "import" lines expand to statements.
func TestMutDiscoverText(t *testing.T) {
	hosts := filepath.Join(t.TempDir(), "hosts")
	if err := os.WriteFile(hosts, []byte("10.0.0.5 h5\n10.0.0.6 h6\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		text  string
		lines []string
		err   string
	}{
		{"comment first", "# servers\n\nserver n1\n", []string{"added 1 server: n1"}, ""},
		{"blank between", "server n1\n\n  \nserver n2", []string{"added 2 servers: n[1-2]"}, ""},
		{"import hosts", "import hosts " + hosts, []string{"added 2 servers: h[5-6]"}, ""},
		{"import alone", "import", nil, `line 1: want "import ssh_config|hosts|ansible [FILE]"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, d := newTree(t, "")
			lines, err := d.Discover(context.Background(), tt.text, "")
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Discover(%q) = %q, %v; want error %q", tt.text, lines, err, tt.err)
				}
				return
			}
			if err != nil || !slices.Equal(lines, tt.lines) {
				t.Fatalf("Discover(%q) = %q, %v; want %q", tt.text, lines, err, tt.lines)
			}
		})
	}
}

// TestMutDiscoverReport: what one discovery reports, and that a name that
// is missing or of another type does not stop the others.
func TestMutDiscoverReport(t *testing.T) {
	ctx := context.Background()
	tr, d := newTree(t, "server n[1-3] transport=local")
	// A device of another type where a server would go.
	other := filepath.Join(tr.BackingDir(), "systems", "servers", "c9")
	if err := os.Mkdir(other, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(other, vtree.TypeFile), []byte("chassis\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		stmt  string
		lines []string
		err   string
	}{
		{"server n1", []string{"kept 1 server already present: n1"}, ""},
		{"server n[1-2],n4", []string{"added 1 server: n4", "kept 2 servers already present: n[1-2]"}, ""},
		{"server c9", nil, "exists as a chassis"},
		{"remove server x,n1", []string{"removed 1 server: n1"}, "no server x in /systems/servers"},
		{"remove server x", nil, "no server x in /systems/servers"},
		{"remove server n[2-3]", []string{"removed 2 servers: n[2-3]"}, ""},
	}
	for _, tt := range tests {
		lines, err := d.Discover(ctx, tt.stmt, "")
		if !slices.Equal(lines, tt.lines) {
			t.Errorf("Discover(%q) = %q, want %q", tt.stmt, lines, tt.lines)
		}
		if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("Discover(%q): err %v, want %q", tt.stmt, err, tt.err)
		}
	}
	for p, want := range map[string]string{
		"/systems/servers/n1/.type":     "<missing>",
		"/systems/servers/n3/.type":     "<missing>",
		"/systems/servers/n4/.type":     "server\n",
		"/systems/servers/n4/address":   "n4\n",
		"/systems/servers/n4/transport": "ssh\n",
		"/systems/servers/c9/.type":     "chassis\n",
		"/systems/servers/c9/address":   "<missing>",
	} {
		if got := readBacking(t, tr, p); got != want {
			t.Errorf("%s = %q, want %q", p, got, want)
		}
	}
}

// TestMutContainerDiscoveryError: a new container whose discovery fails is
// still added, and the failure is reported.
func TestMutContainerDiscoveryError(t *testing.T) {
	tr, d := newTree(t, "")
	lines, err := d.Discover(context.Background(), "chassis c1 slots=3", "")
	if err == nil || !strings.Contains(err.Error(), `unknown option "slots=3"`) {
		t.Errorf("chassis discovery with a bad option: err %v", err)
	}
	if want := []string{"added 1 chassis: c1"}; !slices.Equal(lines, want) {
		t.Errorf("lines = %q, want %q", lines, want)
	}
	if got := readBacking(t, tr, "/systems/chassis/c1/.type"); got != "chassis\n" {
		t.Errorf("c1/.type = %q", got)
	}
}

// TestMutDiscoveryDepth: containers found inside containers are discovered
// down to maxDiscoveryDepth levels, then refused, naming the limit. The
// agent of "inner" would go on for 9 levels.
func TestMutDiscoveryDepth(t *testing.T) {
	tr, _ := newTree(t, "", [2]string{"types:\n", "types:\n  box:\n    dir: /systems/boxes\n  inner:\n    dir: in\n"})
	nested := agent.Func(func(_ context.Context, req *agent.Request) (agent.Result, error) {
		if strings.Count(req.Device, "/in/") >= 9 {
			return agent.Result{}, nil
		}
		return agent.Result{Output: []byte("inner x\n")}, nil
	})
	tr2, d2 := openTree(t, tr.Root, func(r *agent.Registry) {
		r.Register("box", vtree.DiscoverAgent, agent.Write, nested)
		r.Register("inner", vtree.DiscoverAgent, agent.Write, nested)
	})
	_, err := d2.Discover(context.Background(), "box b", "")
	deepest := "/systems/boxes/b" + strings.Repeat("/in/x", maxDiscoveryDepth)
	if want := fmt.Sprintf("%s: containers nested deeper than %d", deepest, maxDiscoveryDepth); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v, want %q", err, want)
	}
	if got := readBacking(t, tr2, deepest+"/.type"); got != "inner\n" {
		t.Errorf("level %d: .type = %q, want inner", maxDiscoveryDepth, got)
	}
	if _, err := os.Lstat(filepath.Join(backing(tr2, deepest), "in")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("level %d discovered: %v", maxDiscoveryDepth+1, err)
	}
}

// TestMutDiscoverMaster: /discover_master's write agent gives the summary
// lines, each ending in a newline; with nothing applied there is nothing
// to keep, and a failed run leaves the file as it was.
func TestMutDiscoverMaster(t *testing.T) {
	ctx := context.Background()
	tr, _ := newTree(t, "")
	res, err := tr.Write(ctx, "/discover_master", []byte("server n[1-2]\n"))
	if err != nil || string(res.Content) != "added 2 servers: n[1-2]\n" {
		t.Fatalf("write = %q, %v", res.Content, err)
	}
	if got := readBacking(t, tr, "/discover_master"); got != "added 2 servers: n[1-2]\n" {
		t.Errorf("discover_master = %q", got)
	}
	// Nothing applied, an error: not stored.
	_, err = tr.Write(ctx, "/discover_master", []byte("server bad..name/x\n"))
	if err == nil {
		t.Fatal("bad statement: no error")
	}
	if got := readBacking(t, tr, "/discover_master"); got != "added 2 servers: n[1-2]\n" {
		t.Errorf("after a failed discovery discover_master = %q, want the last run's", got)
	}
	// Applied in part, an error: what was applied is kept and reported.
	res, err = tr.Write(ctx, "/discover_master", []byte("server n3\nchassis c1 slots=1\n"))
	if err == nil || res == nil || string(res.Content) != "added 1 server: n3\nadded 1 chassis: c1\n" {
		t.Fatalf("partly applied: %v, %v", res, err)
	}
	// Comments only: nothing to report, the statements written stay.
	res, err = tr.Write(ctx, "/discover_master", []byte("# none\n"))
	if err != nil || string(res.Content) != "# none\n" {
		t.Errorf("comment only: %q, %v", res.Content, err)
	}
}
