package vtree

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
	"testing/fstest"

	"github.com/smctl/smctl/pkg/agent"
	"github.com/smctl/smctl/pkg/config"
	"github.com/smctl/smctl/pkg/creds"
	"github.com/smctl/smctl/pkg/nodeset"
)

// newTree makes a state root with the given agents (name -> shell script
// body) and discovery statements.
func newTree(t testing.TB, agents map[string]string, discover string, edits ...[2]string) *Tree {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "root")
	af := fstest.MapFS{}
	for name, body := range agents {
		af[name] = &fstest.MapFile{Data: []byte("#!/bin/sh\n" + body + "\n"), Mode: 0o755}
	}
	initRoot(t, dir, af)
	if len(edits) > 0 {
		cf := filepath.Join(dir, "smctl.yaml")
		b, err := os.ReadFile(cf)
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		for _, e := range edits {
			if !strings.Contains(s, e[0]) {
				t.Fatalf("smctl.yaml has no %q", e[0])
			}
			s = strings.Replace(s, e[0], e[1], 1)
		}
		if err := os.WriteFile(cf, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tr, err := Open(dir, testOptions(Options{}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	if discover != "" {
		seed(t, tr, discover, "")
	}
	return tr
}

// seed adds the devices of discovery statements "TYPE NODESET [key=value
// ...]" found in container ("" at the root), and those a container's
// discovery agent prints when the statement gives it options: the tree's
// tests make devices as package discover would, through the same tree
// methods, without depending on it.
func seed(t testing.TB, tr *Tree, text, container string) {
	t.Helper()
	ctx := context.Background()
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		typ := f[0]
		dir := tr.Config.Types[typ].Dir
		if !strings.HasPrefix(dir, "/") {
			dir = container + "/" + dir
		}
		names, err := nodeset.Expand(f[1])
		if err != nil {
			t.Fatal(err)
		}
		attrs := map[string]string{}
		var opts []string
		for _, kv := range f[2:] {
			k, v, _ := strings.Cut(kv, "=")
			if slices.Contains(tr.DeviceAttrs(typ), k) {
				attrs[k] = v
			} else {
				opts = append(opts, kv)
			}
		}
		if err := tr.MakeDirs(dir); err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			p := dir + "/" + n
			isNew, err := tr.AddDevice(p, typ, attrs)
			if err != nil {
				t.Fatal(err)
			}
			if isNew && tr.HasAgent(typ, DiscoverAgent, agent.Write) {
				out, err := tr.RunDiscovery(ctx, p, DiscoverAgent, []byte(strings.Join(opts, " ")+"\n"))
				if err != nil {
					t.Fatal(err)
				}
				seed(t, tr, string(out), p)
			}
		}
	}
}

// initRoot makes a state root at dir as smctl init does (package
// stateroot, which the tree's tests cannot import): smctl.yaml written
// with the test drivers, the backing tree, the agents (executable), the key
// and the localhost server.
func initRoot(t testing.TB, dir string, agents fstest.MapFS) {
	t.Helper()
	drivers := testDrivers()
	schema := drivers.Schema()
	cfg, err := schema.Marshal(schema.Default())
	if err == nil {
		err = os.MkdirAll(filepath.Join(dir, "tree"), 0o755)
	}
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, config.FileName), cfg, 0o644)
	}
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, "tree", DiscoverMaster), nil, 0o644)
	}
	if err == nil {
		err = os.CopyFS(filepath.Join(dir, "agents.d"), agents)
	}
	if err == nil {
		err = filepath.WalkDir(filepath.Join(dir, "agents.d"), func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			return os.Chmod(p, 0o755)
		})
	}
	if err == nil {
		err = creds.CreateKey(filepath.Join(dir, "key"))
	}
	if err != nil {
		t.Fatal(err)
	}
	tr, err := Open(dir, Options{Drivers: drivers})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if err := tr.MakeDirs("/systems/servers"); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.AddDevice("/systems/servers/localhost", "server", map[string]string{"transport": "local"}); err != nil {
		t.Fatal(err)
	}
}

func TestClean(t *testing.T) {
	tests := []struct{ in, want, err string }{
		{in: "/", want: "/"},
		{in: "", want: "/"},
		{in: "systems/servers", want: "/systems/servers"},
		{in: "/systems//servers/", want: "/systems/servers"},
		{in: "/sysman/systems/servers", want: "/systems/servers"},
		{in: "/sysman", want: "/"},
		{in: "/sysman/system/chassis/1", want: "/systems/chassis/1"},
		{in: "/systems/system/x", want: "/systems/system/x"},
		{in: "sysman/x", want: "/x"},
		{in: "/sysman/sysman/system/x", want: "/systems/x"},
		{in: "/a/./b/../c", want: "/a/c"},
		{in: "/..", err: "climbs above the root"},
		{in: "/a/../..", err: "climbs above the root"},
		{in: "/a\x00b", err: "NUL"},
		{in: "/" + strings.Repeat("x", MaxName+1), err: "name longer than"},
		{in: strings.Repeat("/x", MaxPath), err: "longer than 4096"},
		{in: "/a/.type", err: "reserved"},
	}
	for _, tt := range tests {
		got, err := Clean(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) || !errors.Is(err, ErrBadPath) {
				t.Errorf("Clean(%q) = %q, %v; want error %q", tt.in, got, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("Clean(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestErrorsWrap(t *testing.T) {
	tr := newTree(t, map[string]string{"server/load.read": "echo 1"}, "")
	ctx := context.Background()
	_, err := tr.Write(ctx, "/systems/servers/localhost/load", []byte("2"))
	if !errors.Is(err, ErrReadOnly) {
		t.Errorf("write to read-only file: %v", err)
	}
	var pe *fs.PathError
	if !errors.As(err, &pe) || pe.Path != "/systems/servers/localhost/load" {
		t.Errorf("error does not name the path: %#v", err)
	}
	_, err = tr.Read(ctx, "/systems/servers/nope/x", ReadOptions{})
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("read missing: %v", err)
	}
	_, err = tr.Write(ctx, "/systems/servers/localhost/x.status", []byte("0"))
	if !errors.Is(err, ErrStatusFile) {
		t.Errorf("write status: %v", err)
	}
}

// TestConcurrentReads runs many agents at once through one Tree.
func TestConcurrentReads(t *testing.T) {
	tr := newTree(t, map[string]string{"server/name.read": `echo "$SMCTL_HOST"`}, "server n[1-50] transport=local\n")
	ctx := context.Background()
	errs := make(chan error, 50)
	for i := 1; i <= 50; i++ {
		go func() {
			res, err := tr.Read(ctx, fmt.Sprintf("/systems/servers/n%d/name", i), ReadOptions{})
			if err == nil && string(res.Content) != fmt.Sprintf("n%d\n", i) {
				err = fmt.Errorf("n%d: got %q", i, res.Content)
			}
			errs <- err
		}()
	}
	for i := 0; i < 50; i++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

func TestBuiltinRegistry(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "root")
	initRoot(t, dir, fstest.MapFS{})
	tr, err := Open(dir, testOptions(Options{Builtins: func(r *agent.Registry) {
		r.Register("server", "answer", agent.Read, agent.Func(func(ctx context.Context, req *agent.Request) (agent.Result, error) {
			return agent.Result{Output: []byte("42 from " + req.Host + "\n")}, nil
		}))
	}}))
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	res, err := tr.Read(context.Background(), "/systems/servers/localhost/answer", ReadOptions{})
	if err != nil || string(res.Content) != "42 from localhost\n" {
		t.Fatalf("built-in read = %q, %v", res.Content, err)
	}
	rc, _, ok := tr.Status(context.Background(), "/systems/servers/localhost/answer")
	if !ok || rc != 0 {
		t.Errorf("status = %d %v", rc, ok)
	}
	// Stored content survives a new Tree (another invocation).
	b, err := os.ReadFile(filepath.Join(dir, "tree/systems/servers/localhost/answer"))
	if err != nil || string(b) != "42 from localhost\n" {
		t.Errorf("backing file = %q, %v", b, err)
	}
}
