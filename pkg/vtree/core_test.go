package vtree

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/smctl/smctl/pkg/agent"
	"github.com/smctl/smctl/pkg/trust"
)

// Writing ids never gives the password back: not in the result, not in
// the stored file, not in an error.
func TestWriteIDsMasked(t *testing.T) {
	tr := newTree(t, nil, "server n1 transport=local")
	ctx := context.Background()
	res, err := tr.Write(ctx, "/systems/servers/n1/ids", []byte("admin:hunter2\nroot:s3cret\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := string(res.Content); got != "admin:********\nroot:********\n" {
		t.Errorf("write of ids returned %q", got)
	}
	res, err = tr.Read(ctx, "/systems/servers/n1/ids", ReadOptions{})
	if err != nil || string(res.Content) != "admin:********\nroot:********\n" {
		t.Errorf("read of ids = %q, %v", res.Content, err)
	}
	b, _ := os.ReadFile(filepath.Join(tr.store.Dir(), "systems/servers/n1/ids"))
	if strings.Contains(string(b), "hunter2") || strings.Contains(string(b), "admin") {
		t.Errorf("stored ids in clear: %q", b)
	}
	_, err = tr.Write(ctx, "/systems/servers/n1/ids", []byte("admin hunter2\n"))
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("bad ids: %v", err)
	}
}

// Agents get the first pair of the nearest ids at or above their file.
func TestIDsInheritance(t *testing.T) {
	tr := newTree(t, map[string]string{"blade/whoami.read": `echo "$SMCTL_USER $SMCTL_PASSWORD"`}, "chassis mm1 blades=b[1-3]")
	ctx := context.Background()
	for p, v := range map[string]string{
		"/ids":                              "root:top\n",
		"/systems/chassis/mm1/ids":          "mm:mmpw\nsecond:x\n",
		"/systems/chassis/mm1/blades/3/ids": "b3:b3pw\n",
	} {
		if _, err := tr.Write(ctx, p, []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct{ path, want string }{
		{"/systems/chassis/mm1/blades/1/whoami", "mm mmpw\n"},
		{"/systems/chassis/mm1/blades/3/whoami", "b3 b3pw\n"},
	} {
		res, err := tr.Read(ctx, tc.path, ReadOptions{})
		if err != nil || string(res.Content) != tc.want {
			t.Errorf("%s = %q, %v; want %q", tc.path, res.Content, err, tc.want)
		}
	}
	// Without the chassis' ids, the root's.
	if err := os.Remove(filepath.Join(tr.store.Dir(), "systems/chassis/mm1/ids")); err != nil {
		t.Fatal(err)
	}
	tr2, err := Open(tr.Root, testOptions(Options{}))
	if err != nil {
		t.Fatal(err)
	}
	defer tr2.Close()
	res, err := tr2.Read(ctx, "/systems/chassis/mm1/blades/2/whoami", ReadOptions{})
	if err != nil || string(res.Content) != "root top\n" {
		t.Errorf("inherited from /ids: %q, %v", res.Content, err)
	}
}

// Stored content larger than max_output is refused, not served.
func TestStoredOverMaxOutput(t *testing.T) {
	tr := newTree(t, nil, "server n1 transport=local", [2]string{"max_output: 16777216", "max_output: 10"})
	ctx := context.Background()
	p := filepath.Join(tr.store.Dir(), "systems/servers/n1/notes")
	for _, tc := range []struct {
		content string
		ok      bool
	}{{"0123456789", true}, {"0123456789a", false}} {
		os.WriteFile(p, []byte(tc.content), 0o644)
		res, err := tr.Read(ctx, "/systems/servers/n1/notes", ReadOptions{})
		if tc.ok {
			if err != nil || string(res.Content) != tc.content {
				t.Errorf("%d bytes: %q, %v", len(tc.content), res.Content, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), "larger than max_output (10 bytes)") {
			t.Errorf("%d bytes over max_output 10: %v", len(tc.content), err)
		}
	}
}

// A run records its status code and the first line of its stderr.
func TestStatusRecorded(t *testing.T) {
	tr := newTree(t, map[string]string{
		"server/fail.read": "echo partial; echo 'boom: disk on fire' >&2; echo second >&2; exit 3",
		"server/ok.read":   "echo fine",
	}, "server n1 transport=local")
	ctx := context.Background()
	_, err := tr.Read(ctx, "/systems/servers/n1/fail", ReadOptions{})
	var ae *AgentError
	if !errors.As(err, &ae) || ae.RC != 3 || RC(err) != 3 {
		t.Fatalf("failed agent: %v", err)
	}
	rc, msg, ok := tr.Status(ctx, "/systems/servers/n1/fail")
	if !ok || rc != 3 || msg != "boom: disk on fire" {
		t.Errorf("status = %d %q %v", rc, msg, ok)
	}
	b, _ := os.ReadFile(filepath.Join(tr.store.Dir(), "systems/servers/n1/fail.status"))
	if string(b) != "3 boom: disk on fire\n" {
		t.Errorf("fail.status = %q", b)
	}
	if _, err := tr.Read(ctx, "/systems/servers/n1/ok", ReadOptions{}); err != nil {
		t.Fatal(err)
	}
	if rc, msg, ok := tr.Status(ctx, "/systems/servers/n1/ok"); !ok || rc != 0 || msg != "" {
		t.Errorf("ok status = %d %q %v", rc, msg, ok)
	}
	if _, _, ok := tr.Status(ctx, "/systems/servers/n1/address"); ok {
		t.Error("a file no agent ran on has a status")
	}
}

// The cached model runs the read agent only while the file has no
// content; ttl when the content is older than its ttl; refresh always.
func TestCachingModels(t *testing.T) {
	tr := newTree(t, map[string]string{
		"server/c.read": `n=$(cat "$SMCTL_ROOT/count" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "$SMCTL_ROOT/count"; echo run$n`,
	}, "server n1 transport=local", [2]string{"cache:\n", "cache:\n  - match: c\n    model: cached\n"})
	ctx := context.Background()
	read := func() string {
		res, err := tr.Read(ctx, "/systems/servers/n1/c", ReadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return string(res.Content)
	}
	if got := read(); got != "run1\n" {
		t.Fatalf("first read = %q", got)
	}
	if got := read(); got != "run1\n" {
		t.Errorf("cached read ran the agent again: %q", got)
	}
	os.WriteFile(filepath.Join(tr.store.Dir(), "systems/servers/n1/c"), nil, 0o644)
	if got := read(); got != "run2\n" {
		t.Errorf("empty cached file not refreshed: %q", got)
	}
	// --max-age overrides the model: 0 always runs, an hour does not.
	res, _ := tr.Read(ctx, "/systems/servers/n1/c", ReadOptions{HasMaxAge: true, MaxAge: 0})
	if string(res.Content) != "run3\n" {
		t.Errorf("max-age 0: %q", res.Content)
	}
	res, _ = tr.Read(ctx, "/systems/servers/n1/c", ReadOptions{HasMaxAge: true, MaxAge: time.Hour})
	if string(res.Content) != "run3\n" {
		t.Errorf("max-age 1h: %q", res.Content)
	}
}

// A lock serialises agent runs below it across trees (processes): while
// one holds it, another's run waits and gives up at its timeout, naming
// the lock; once released, it runs.
func TestLockSerialises(t *testing.T) {
	tr := newTree(t, nil, "chassis mm1 blades=b[1-2]", [2]string{"timeout: 30s", "timeout: 300ms"})
	ctx := context.Background()
	n, err := tr.resolve(ctx, "/systems/chassis/mm1/blades/1/x", true)
	if err != nil {
		t.Fatal(err)
	}
	unlock, err := tr.acquireLocks(ctx, n, false)
	if err != nil {
		t.Fatal(err)
	}
	tr2, err := Open(tr.Root, testOptions(Options{}))
	if err != nil {
		t.Fatal(err)
	}
	defer tr2.Close()
	run := agent.Func(func(context.Context, *agent.Request) (agent.Result, error) {
		return agent.Result{Output: []byte("ran\n")}, nil
	})
	n2, _ := tr2.resolve(ctx, "/systems/chassis/mm1/blades/2/x", true)
	_, err = tr2.runAgent(ctx, n2, agent.Read, run, nil, false)
	if RC(err) != agent.RCTimeout || !strings.Contains(err.Error(), "lock /systems/chassis/mm1/lock") {
		t.Fatalf("run under a held lock: %v", err)
	}
	unlock()
	res, err := tr2.runAgent(ctx, n2, agent.Read, run, nil, false)
	if err != nil || string(res.Output) != "ran\n" {
		t.Fatalf("run after release: %q, %v", res.Output, err)
	}
}

// RC maps errors to the status vocabulary: local shortages and untrusted
// inputs have codes of their own.
func TestRC(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{nil, 0},
		{errors.New("x"), 1},
		{&AgentError{RC: 3}, 3},
		{fmt.Errorf("lookup: %w", syscall.EMFILE), agent.RCLocal},
		{fmt.Errorf("dial: %w", syscall.ENFILE), agent.RCLocal},
		{&trust.Error{Name: "/x", Why: "w"}, agent.RCUntrusted},
		{fmt.Errorf("t: %w", ErrBadType), agent.RCUntrusted},
		{context.DeadlineExceeded, agent.RCTimeout},
	} {
		if got := RC(tc.err); got != tc.want {
			t.Errorf("RC(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}
