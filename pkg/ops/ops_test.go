package ops

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"testing"

	"github.com/smctl/smctl/pkg/status"
	"github.com/smctl/smctl/pkg/vtree"
)

// hangTree is a Tree whose every operation blocks until its context is
// cancelled and then fails as the tree does: "read P: context canceled".
type hangTree struct {
	started chan string
}

func (h *hangTree) block(ctx context.Context, op, p string) (*vtree.Result, error) {
	h.started <- p
	<-ctx.Done()
	return nil, &fs.PathError{Op: op, Path: p, Err: ctx.Err()}
}

func (h *hangTree) Read(ctx context.Context, p string, _ vtree.ReadOptions) (*vtree.Result, error) {
	return h.block(ctx, "read", p)
}

func (h *hangTree) Write(ctx context.Context, p string, _ []byte) (*vtree.Result, error) {
	return h.block(ctx, "write", p)
}

func (h *hangTree) Status(context.Context, string) (int, string, bool) { return 0, "", false }
func (h *hangTree) Last(context.Context, string) (vtree.Last, bool)    { return vtree.Last{}, false }

// TestRunInterrupted: ^C (the context cancelled) while one path runs and
// others wait. Every path is reported interrupted, by name, never as the
// bare "context canceled"; its code is 130 and a summary counts it
// "interrupted", not "failed". Errors still wrap context.Canceled.
func TestRunInterrupted(t *testing.T) {
	for _, op := range []Op{Read, Write, Grep} {
		t.Run(string(op), func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			tr := &hangTree{started: make(chan string, 3)}
			go func() { <-tr.started; cancel() }()
			paths := []string{"/systems/servers/n1/command", "/systems/servers/n2/command", "/systems/servers/n3/command"}
			var outs []Outcome
			failed := Run(ctx, tr, op, paths, Options{Width: 1}, func(o Outcome) { outs = append(outs, o) })
			if failed != 3 || len(outs) != 3 {
				t.Fatalf("failed %d, %d outcomes; want 3, 3", failed, len(outs))
			}
			verb := "read"
			if op == Write {
				verb = "write"
			}
			var tally Tally
			for i, o := range outs {
				want := fmt.Sprintf("%s %s: interrupted", verb, paths[i])
				if i > 0 {
					want += " before it started"
				}
				if o.Err == nil || o.Err.Error() != want {
					t.Errorf("outcome %d: error %v, want %q", i, o.Err, want)
				}
				if o.RC != status.Interrupted || o.Class != status.ClassInterrupted {
					t.Errorf("outcome %d: rc %d class %q, want 130 interrupted", i, o.RC, o.Class)
				}
				if !errors.Is(o.Err, context.Canceled) || !errors.Is(o.Err, status.ErrInterrupted) {
					t.Errorf("outcome %d: %v does not wrap context.Canceled and status.ErrInterrupted", i, o.Err)
				}
				tally.Add(o.Class, o.Label)
			}
			if got := tally.String(); got != "0 ok, 3 interrupted: n[1-3]" {
				t.Errorf("summary %q", got)
			}
		})
	}
}

// errTree fails every operation with err.
type errTree struct{ err error }

func (e errTree) Read(context.Context, string, vtree.ReadOptions) (*vtree.Result, error) {
	return nil, e.err
}
func (e errTree) Write(context.Context, string, []byte) (*vtree.Result, error) { return nil, e.err }
func (errTree) Status(context.Context, string) (int, string, bool)             { return 0, "", false }
func (errTree) Last(context.Context, string) (vtree.Last, bool)                { return vtree.Last{}, false }

// TestRunNotInterrupted: errors are left as they are while the run is not
// interrupted, even one that wraps context.Canceled (an operation's own
// context), and an agent's report of its own interruption is kept.
func TestRunNotInterrupted(t *testing.T) {
	own := &fs.PathError{Op: "read", Path: "/a", Err: context.Canceled}
	var got []Outcome
	Run(context.Background(), errTree{own}, Read, []string{"/a"}, Options{}, func(o Outcome) { got = append(got, o) })
	if got[0].Err != own {
		t.Errorf("not interrupted: %v rewritten", got[0].Err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	agentErr := &fs.PathError{Op: "write", Path: "/a", Err: &vtree.AgentError{Agent: "command.write", RC: 130, Msg: "interrupted"}}
	if err := interrupted(ctx, Write, "/a", agentErr, false); err != agentErr {
		t.Errorf("agent's error rewritten: %v", err)
	}
	other := errors.New("disk full")
	if err := interrupted(ctx, Write, "/a", other, false); err != other {
		t.Errorf("other error rewritten: %v", err)
	}
}

// TestLabels: many paths are named by what differs between them; one path
// (or paths that do not differ) by its device, not its whole path.
func TestLabels(t *testing.T) {
	tests := []struct {
		paths []string
		want  []string
	}{
		{nil, []string{}},
		{[]string{"/systems/servers/n1/command"}, []string{"n1"}},
		{[]string{"/systems/servers/n1/command.status"}, []string{"n1"}},
		{[]string{"/systems/servers/n1/proc/loadavg"}, []string{"n1"}},
		{[]string{"/systems/servers/n1/sys/class/net/eth0/address"}, []string{"n1"}},
		{[]string{"/systems/servers/n1"}, []string{"n1"}},
		{[]string{"/systems/chassis/mm1/power"}, []string{"mm1"}},
		{[]string{"/systems/chassis/mm1/blades/3/power"}, []string{"3"}},
		{[]string{"/systems/chassis/mm1/blades/3/proc/loadavg"}, []string{"3"}},
		{[]string{"/notes/a/file"}, []string{"a"}},
		{[]string{"/discover_master"}, []string{"/discover_master"}},
		{[]string{"/"}, []string{"/"}},
		{[]string{"/systems/servers/n1/command", "/systems/servers/n2/command"}, []string{"n1", "n2"}},
		{[]string{"/systems/servers/n1/proc/loadavg", "/systems/servers/n1/proc/uptime"}, []string{"loadavg", "uptime"}},
		{[]string{"/systems/servers/n1/command", "/systems/servers/n1/command"}, []string{"n1", "n1"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.paths, " "), func(t *testing.T) {
			if got := Labels(tt.paths); !slices.Equal(got, tt.want) {
				t.Errorf("Labels(%q) = %q, want %q", tt.paths, got, tt.want)
			}
		})
	}
}
