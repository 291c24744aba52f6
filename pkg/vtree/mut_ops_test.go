package vtree

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/smctl/smctl/internal/testpriv"
)

// TestMutAgentErrorText: the text of an AgentError names the agent unless
// its message already does; without an agent it is the message alone.
func TestMutAgentErrorText(t *testing.T) {
	for _, tc := range []struct {
		e    AgentError
		want string
	}{
		{AgentError{RC: 124, Msg: "the node did not answer within 1s"}, "the node did not answer within 1s"},
		{AgentError{RC: 2}, ""},
		{AgentError{Agent: "power.read", RC: 3}, "agent power.read: exit 3"},
		{AgentError{Agent: "power.read", RC: 3, Msg: "boom"}, "agent power.read: exit 3: boom"},
		{AgentError{Agent: "power.read", RC: 124, Msg: "agent power.read timed out"}, "agent power.read timed out"},
	} {
		if got := tc.e.Error(); got != tc.want {
			t.Errorf("%+v: %q; want %q", tc.e, got, tc.want)
		}
	}
}

// TestMutStatusArgs: Status reports nothing for the root and for a path
// that is not valid, whatever the backing tree holds.
func TestMutStatusArgs(t *testing.T) {
	tr := newTree(t, nil, "")
	// What vpath.Rel("/")+".status" would name.
	if err := os.WriteFile(filepath.Join(tr.store.Dir(), "..status"), []byte("0 ok\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/", "/..", "/a\x00b"} {
		if rc, msg, ok := tr.Status(context.Background(), p); ok || rc != 0 || msg != "" {
			t.Errorf("Status(%q) = %d %q %v; want none", p, rc, msg, ok)
		}
	}
}

// TestMutRunStatus: a failed run's error carries the agent's message, and
// nothing about storing its status when that worked; a timed-out agent
// is named with the timeout.
func TestMutRunStatus(t *testing.T) {
	tr := newTree(t, map[string]string{
		"server/fail.read": "echo boom >&2; exit 3",
		"server/slow.read": "exec sleep 10",
	}, "server n1 transport=local", [2]string{"timeout: 30s", "timeout: 300ms"})
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		rc   int
		msg  string
	}{
		{"fail", 3, "boom"},
		{"slow", 124, "agent slow.read timed out after 300ms"},
	} {
		p := "/systems/servers/n1/" + tc.name
		_, err := tr.Read(ctx, p, ReadOptions{})
		var ae *AgentError
		if !errors.As(err, &ae) || ae.RC != tc.rc || ae.Msg != tc.msg {
			t.Errorf("read %s: %v; want rc %d, message %q", tc.name, err, tc.rc, tc.msg)
		}
		if rc, msg, ok := tr.Status(ctx, p); !ok || rc != tc.rc || msg != tc.msg {
			t.Errorf("status of %s = %d %q %v; want %d %q", tc.name, rc, msg, ok, tc.rc, tc.msg)
		}
	}
}

// TestMutStatusKept: a run whose status is that of the previous run
// replaces the content only; a new status is written.
func TestMutStatusKept(t *testing.T) {
	tr := newTree(t, map[string]string{
		"server/c.read": `n=$(cat "$SMCTL_ROOT/count" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "$SMCTL_ROOT/count"; echo run$n; [ $n -lt 3 ] || { echo third >&2; exit 4; }`,
	}, "server n1 transport=local")
	ctx := context.Background()
	const p = "/systems/servers/n1/c"
	status := filepath.Join(tr.store.Dir(), "systems/servers/n1/c.status")
	old := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	// The third run fails: the last value is returned with the error,
	// marked stale.
	for i, want := range []string{"run1\n", "run2\n", "run2\n"} {
		res, _ := tr.Read(ctx, p, ReadOptions{})
		if res == nil || string(res.Content) != want || res.Stale != (i == 2) {
			t.Fatalf("read %d: %+v", i+1, res)
		}
		st, err := os.Stat(status)
		if err != nil {
			t.Fatal(err)
		}
		switch i {
		case 1: // same status "0": not rewritten
			if !st.ModTime().Equal(old) {
				t.Errorf("unchanged status rewritten (mtime %v)", st.ModTime())
			}
		case 2: // new status
			if st.ModTime().Equal(old) {
				t.Errorf("new status not written")
			}
			if rc, msg, ok := tr.Status(ctx, p); !ok || rc != 4 || msg != "third" {
				t.Errorf("status = %d %q %v", rc, msg, ok)
			}
		}
		if err := os.Chtimes(status, old, old); err != nil {
			t.Fatal(err)
		}
	}
	if b, err := os.ReadFile(filepath.Join(tr.store.Dir(), "systems/servers/n1/c")); err != nil || string(b) != "run2\n" {
		t.Errorf("content = %q, %v; want that of the last successful run", b, err)
	}
}

// TestMutAttrRefresh: writing an attribute of a device takes effect for
// the next run of the same tree.
func TestMutAttrRefresh(t *testing.T) {
	tr := newTree(t, map[string]string{"server/addr.read": `echo "$SMCTL_ATTR_ADDRESS"`}, "server n1 transport=local")
	ctx := context.Background()
	const dev = "/systems/servers/n1"
	for _, addr := range []string{"n1", "10.0.0.9"} {
		if addr != "n1" {
			if _, err := tr.Write(ctx, dev+"/address", []byte(addr+"\n")); err != nil {
				t.Fatal(err)
			}
		}
		res, err := tr.Read(ctx, dev+"/addr", ReadOptions{})
		if err != nil || string(res.Content) != addr+"\n" {
			t.Errorf("address seen by the agent = %q, %v; want %q", res.Content, err, addr)
		}
	}
}

// TestMutCheckAccess: a write agent does not run when its file cannot be
// written: a dangling symlink, or (as root) an immutable file.
func TestMutCheckAccess(t *testing.T) {
	tr := newTree(t, map[string]string{"server/reset.write": `echo ran > "$SMCTL_ROOT/ran"`}, "server n1 transport=local")
	ctx := context.Background()
	bdir := filepath.Join(tr.store.Dir(), "systems/servers/n1")
	ran := filepath.Join(tr.Root, "ran")
	t.Run("dangling", func(t *testing.T) {
		os.Remove(ran)
		link := filepath.Join(bdir, "reset")
		if err := os.Symlink("nowhere", link); err != nil {
			t.Fatal(err)
		}
		defer os.Remove(link)
		_, err := tr.Write(ctx, "/systems/servers/n1/reset", []byte("1"))
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("write through a dangling symlink: %v", err)
		}
		if _, err := os.Stat(ran); err == nil {
			t.Errorf("the agent ran")
		}
		if st, err := os.Lstat(link); err != nil || st.Mode().Type() != fs.ModeSymlink {
			t.Errorf("symlink replaced or gone (%v)", err)
		}
	})
	t.Run("immutable", func(t *testing.T) {
		chattr, err := exec.LookPath("chattr")
		if err != nil {
			testpriv.Need(t, "chattr (e2fsprogs)")
		}
		os.Remove(ran)
		f := filepath.Join(bdir, "reset")
		if err := os.WriteFile(f, []byte("0\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(chattr, "+i", f).CombinedOutput(); err != nil {
			t.Skipf("chattr +i: %v: %s", err, out)
		}
		defer exec.Command(chattr, "-i", f).Run()
		_, err = tr.Write(ctx, "/systems/servers/n1/reset", []byte("1"))
		if !errors.Is(err, fs.ErrPermission) {
			t.Errorf("write of an immutable file: %v", err)
		}
		if _, err := os.Stat(ran); err == nil {
			t.Errorf("the agent ran")
		}
	})
}

// TestMutMaxAge: --max-age 0 always runs the read agent, even when the
// stored content's time is ahead of the clock; a max age runs it when the
// content is older, not before.
func TestMutMaxAge(t *testing.T) {
	tr := newTree(t, map[string]string{
		"server/c.read": `n=$(cat "$SMCTL_ROOT/count" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "$SMCTL_ROOT/count"; echo run$n`,
	}, "server n1 transport=local")
	ctx := context.Background()
	const p = "/systems/servers/n1/c"
	file := filepath.Join(tr.store.Dir(), "systems/servers/n1/c")
	if _, err := tr.Read(ctx, p, ReadOptions{}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for i, tc := range []struct {
		mtime  time.Time
		maxAge time.Duration
		want   string
	}{
		{now.Add(time.Hour), 0, "run2\n"},
		{now.Add(-time.Minute), time.Hour, "run2\n"},
		{now.Add(-2 * time.Hour), time.Hour, "run3\n"},
		{now.Add(-time.Second), 0, "run4\n"},
	} {
		if err := os.Chtimes(file, tc.mtime, tc.mtime); err != nil {
			t.Fatal(err)
		}
		res, err := tr.Read(ctx, p, ReadOptions{HasMaxAge: true, MaxAge: tc.maxAge})
		if err != nil || string(res.Content) != tc.want {
			t.Errorf("#%d: max-age %v, content %v old: %+v, %v; want %q", i+1, tc.maxAge, now.Sub(tc.mtime), res, err, tc.want)
		}
	}
}
