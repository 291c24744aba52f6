package ops

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/smctl/smctl/pkg/vtree"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/smctl/smctl/pkg/status"
)

func TestTally(t *testing.T) {
	tests := []struct {
		name   string
		adds   [][2]string // class, label
		want   string
		failed bool
	}{
		{"all ok", [][2]string{{status.ClassOK, "n1"}, {status.ClassOK, "n2"}}, "2 ok", false},
		{"local errors are failures, named apart",
			[][2]string{{status.ClassOK, "n1"}, {status.ClassLocal, "n2"}, {status.ClassLocal, "n3"}, {status.ClassUnreachable, "n4"}},
			"1 ok, 1 unreachable: n4, 2 local error: n[2-3]", true},
		{"every class",
			[][2]string{{status.ClassLocal, "n5"}, {status.ClassTimedOut, "n4"}, {status.ClassFailed, "n3"}, {status.ClassUnreachable, "n2"}, {status.ClassOK, "n1"}},
			"1 ok, 1 failed: n3, 1 timed out: n4, 1 unreachable: n2, 1 local error: n5", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tl Tally
			for _, a := range tt.adds {
				tl.Add(a[0], a[1])
			}
			if got := tl.String(); got != tt.want {
				t.Errorf("tally = %q, want %q", got, tt.want)
			}
			if tl.Failed() != tt.failed {
				t.Errorf("Failed() = %v, want %v", tl.Failed(), tt.failed)
			}
		})
	}
}

// TestGather checks that spilling to a file changes nothing in the
// output, and that the budget bounds the contents held in memory.
func TestGather(t *testing.T) {
	big := func(seed, n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte('a' + (i*7+seed)%26)
		}
		b[n-1] = '\n'
		return b
	}
	adds := []struct {
		content []byte
		label   string
	}{
		{[]byte("same\n"), "n01"},
		{big(1, 5000), "n02"},
		{[]byte("same\n"), "n03"},
		{[]byte("no newline"), "n04"},
		{big(2, 3000), "n05"},
		{nil, "n06"},
		{big(1, 5000), "n07"},
		{[]byte("no newline"), "n08"},
		{big(3, 100), "n09"},
		{[]byte(""), "n10"},
		{[]byte("same\n"), "n11"},
	}
	var want bytes.Buffer
	for _, g := range []struct {
		labels  string
		content string
	}{
		{"n[01,03,11] (3)", "same\n"},
		{"n[02,07] (2)", string(big(1, 5000))},
		{"n[04,08] (2)", "no newline\n"},
		{"n05 (1)", string(big(2, 3000))},
		{"n[06,10] (2)", ""},
		{"n09 (1)", string(big(3, 100))},
	} {
		fmt.Fprintf(&want, "---------------\n%s\n---------------\n%s", g.labels, g.content)
	}
	tests := []struct {
		name    string
		budget  int64
		spilled bool
		maxHeld int64 // most bytes of content held in memory after any add
	}{
		{"default budget: all in memory", 0, false, 8200},
		{"budget 1: everything spilled", 1, true, 5000},
		{"budget 6000: spilled from the second big one", 6000, true, 8200},
		{"budget 100000: all in memory", 100000, false, 8200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := &Gather{Budget: tt.budget}
			defer g.Close()
			for _, a := range adds {
				g.Add(a.content, a.label)
				if g.held > tt.maxHeld {
					t.Fatalf("after %s: %d bytes held, want at most %d", a.label, g.held, tt.maxHeld)
				}
				if tt.spilled && g.spill != nil && g.held > tt.budget {
					t.Fatalf("after %s: %d bytes held over a budget of %d with a spill file", a.label, g.held, tt.budget)
				}
			}
			if (g.spill != nil) != tt.spilled {
				t.Errorf("spilled = %v, want %v", g.spill != nil, tt.spilled)
			}
			if g.spillErr != nil {
				t.Fatalf("spill: %v", g.spillErr)
			}
			var out bytes.Buffer
			if err := g.Each(func(gr Group) error {
				fmt.Fprintf(&out, "---------------\n%s (%d)\n---------------\n", gr.Nodes, gr.Count)
				if _, err := io.Copy(&out, gr.Content); err != nil {
					return err
				}
				if gr.Unterminated {
					out.WriteString("\n")
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if out.String() != want.String() {
				t.Errorf("output differs:\n%.400s\nwant\n%.400s", &out, &want)
			}
		})
	}
}

// TestGatherSpillUnlinked checks that the spill file leaves no name
// behind in $TMPDIR.
func TestGatherSpillUnlinked(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("TMPDIR", dir)
	g := &Gather{Budget: 10}
	defer g.Close()
	for i := range 5 {
		g.Add([]byte(strings.Repeat(fmt.Sprint(i), 100)), fmt.Sprintf("n%d", i))
	}
	if g.spill == nil {
		t.Fatal("no spill file over a budget of 10 bytes")
	}
	if es, _ := os.ReadDir(dir); len(es) != 0 {
		t.Errorf("spill file left a name in TMPDIR: %v", es)
	}
}

// statuses is a StatusReader over a map: path -> status line as stored.
type statuses map[string]string

func (s statuses) Status(ctx context.Context, p string) (int, string, bool) {
	line, ok := s[p]
	if !ok {
		return 0, "", false
	}
	code, msg, _ := strings.Cut(line, " ")
	rc, err := strconv.Atoi(code)
	if err != nil {
		return 0, "", false
	}
	return rc, msg, true
}

func (s statuses) Last(ctx context.Context, p string) (vtree.Last, bool) {
	rc, msg, ok := s.Status(ctx, p)
	var l vtree.Last
	l.RC, l.Message = rc, msg
	return l, ok
}

// TestOnly checks --only over statuses left by earlier runs: a path with
// no status is "failed" (its last run did not succeed), never "ok".
func TestOnly(t *testing.T) {
	st := statuses{
		"/a": "0",
		"/b": "1 exit status 1",
		"/c": "255 connection refused",
		"/d": "71 local error, not the node",
		"/e": "124 command timed out",
		// f: no status at all
		"/g": "garbage",
	}
	paths := []string{"/a", "/b", "/c", "/d", "/e", "/f", "/g"}
	tests := []struct {
		which string
		want  string
		err   bool
	}{
		{which: "", want: "/a /b /c /d /e /f /g"},
		{which: "ok", want: "/a"},
		{which: "failed", want: "/b /c /d /e /f /g"},
		{which: "bad", err: true},
	}
	for _, tt := range tests {
		t.Run(tt.which, func(t *testing.T) {
			got, err := Only(context.Background(), st, paths, tt.which)
			if (err != nil) != tt.err {
				t.Fatalf("only %q: error %v, want error %v", tt.which, err, tt.err)
			}
			if tt.err && (!errors.Is(err, status.ErrUsage) || status.Of(err) != status.Usage || err.Error() != `--only "bad": want failed or ok`) {
				t.Errorf("only %q: error %q does not wrap status.ErrUsage", tt.which, err)
			}
			if cerr := CheckOnly(tt.which); (cerr != nil) != tt.err {
				t.Errorf("CheckOnly(%q) = %v", tt.which, cerr)
			}
			if s := strings.Join(got, " "); s != tt.want {
				t.Errorf("only %q = %s, want %s", tt.which, s, tt.want)
			}
		})
	}
}
