package filecopy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smctl/smctl/pkg/ops"
	"github.com/smctl/smctl/pkg/status"
	"github.com/smctl/smctl/pkg/transport"
)

// dirFiles are a node's files kept in a directory of this machine: name
// /x is dir/x. Its methods are the local transport's, under dir.
type dirFiles struct {
	dir   string
	local transport.Files
}

func (f dirFiles) p(name string) string { return filepath.Join(f.dir, name) }

func (f dirFiles) Stat(n string) (fs.FileInfo, error)         { return f.local.Stat(f.p(n)) }
func (f dirFiles) Lstat(n string) (fs.FileInfo, error)        { return f.local.Lstat(f.p(n)) }
func (f dirFiles) ReadDir(n string) ([]fs.FileInfo, error)    { return f.local.ReadDir(f.p(n)) }
func (f dirFiles) Open(n string) (io.ReadCloser, error)       { return f.local.Open(f.p(n)) }
func (f dirFiles) CreateNew(n string) (io.WriteCloser, error) { return f.local.CreateNew(f.p(n)) }
func (f dirFiles) Mkdir(n string) error                       { return f.local.Mkdir(f.p(n)) }
func (f dirFiles) Chmod(n string, m fs.FileMode) error        { return f.local.Chmod(f.p(n), m) }
func (f dirFiles) Chtimes(n string, a, m time.Time) error     { return f.local.Chtimes(f.p(n), a, m) }
func (f dirFiles) Rename(o, n string) error                   { return f.local.Rename(f.p(o), f.p(n)) }
func (f dirFiles) Remove(n string) error                      { return f.local.Remove(f.p(n)) }
func (f dirFiles) Close() error                               { return nil }

// node is a fake transport: its files are dirFiles, or what files makes.
type node struct {
	transport.Broken
	files func(ctx context.Context) (transport.Files, error)
}

func (n node) OpenFiles(ctx context.Context) (transport.Files, error) { return n.files(ctx) }

// fakeTree maps device paths to transports.
type fakeTree map[string]transport.Transport

func (t fakeTree) Transport(_ context.Context, dev string) (transport.Transport, error) {
	if tr, ok := t[dev]; ok {
		return tr, nil
	}
	return nil, fmt.Errorf("%s: no such device", dev)
}

// cluster makes n nodes n1..nN, each with a directory of its own holding
// /tmp, and returns the tree, the device paths and the nodes' directories.
func cluster(t *testing.T, n int) (fakeTree, []string, []string) {
	t.Helper()
	local, _ := transport.Local{}.OpenFiles(context.Background())
	tree := fakeTree{}
	var devs, dirs []string
	for i := 1; i <= n; i++ {
		dev := fmt.Sprintf("/systems/servers/n%d", i)
		dir := t.TempDir()
		os.Mkdir(filepath.Join(dir, "tmp"), 0o755)
		f := dirFiles{dir: dir, local: local}
		tree[dev] = node{files: func(context.Context) (transport.Files, error) { return f, nil }}
		devs, dirs = append(devs, dev), append(dirs, dir)
	}
	return tree, devs, dirs
}

func collect(outs *[]ops.Outcome) func(ops.Outcome) {
	return func(o ops.Outcome) { *outs = append(*outs, o) }
}

func write(t *testing.T, p, content string, mode fs.FileMode) {
	t.Helper()
	os.MkdirAll(filepath.Dir(p), 0o755)
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	os.Chmod(p, mode)
}

func read(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestPush(t *testing.T) {
	src := t.TempDir()
	write(t, filepath.Join(src, "a"), "A\n", 0o640)
	write(t, filepath.Join(src, "b"), "B\n", 0o755)
	write(t, filepath.Join(src, "d", "x"), "X\n", 0o600)
	write(t, filepath.Join(src, "d", "sub", "y"), "Y\n", 0o644)
	os.Symlink("x", filepath.Join(src, "d", "link"))
	old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	os.Chtimes(filepath.Join(src, "a"), old, old)
	os.Chmod(filepath.Join(src, "d"), 0o750)
	s := func(n string) string { return filepath.Join(src, n) }
	tests := []struct {
		name  string
		srcs  []string
		dest  string
		o     Options
		files map[string]string // node path -> content
		modes map[string]fs.FileMode
	}{
		{"file to a new name", []string{s("a")}, "/tmp/new", Options{}, map[string]string{"/tmp/new": "A\n"}, map[string]fs.FileMode{"/tmp/new": 0o640 &^ umask()}},
		{"file into an existing directory", []string{s("a")}, "/tmp", Options{}, map[string]string{"/tmp/a": "A\n"}, nil},
		{"trailing slash", []string{s("b")}, "/tmp/", Options{}, map[string]string{"/tmp/b": "B\n"}, map[string]fs.FileMode{"/tmp/b": 0o755 &^ umask()}},
		{"several sources", []string{s("a"), s("b")}, "/tmp", Options{}, map[string]string{"/tmp/a": "A\n", "/tmp/b": "B\n"}, nil},
		{"-r into a directory", []string{s("d")}, "/tmp", Options{Recursive: true},
			map[string]string{"/tmp/d/x": "X\n", "/tmp/d/sub/y": "Y\n", "/tmp/d/link": "X\n"},
			map[string]fs.FileMode{"/tmp/d": fs.ModeDir | 0o750&^umask(), "/tmp/d/x": 0o600}},
		{"-r to a new name", []string{s("d")}, "/tmp/copy", Options{Recursive: true}, map[string]string{"/tmp/copy/x": "X\n"}, nil},
		{"-p", []string{s("a"), s("d")}, "/tmp/", Options{Recursive: true, Preserve: true},
			map[string]string{"/tmp/a": "A\n", "/tmp/d/sub/y": "Y\n"},
			map[string]fs.FileMode{"/tmp/a": 0o640, "/tmp/d": fs.ModeDir | 0o750}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tree, devs, dirs := cluster(t, 3)
			var outs []ops.Outcome
			failed, err := Push(context.Background(), tree, devs, tt.srcs, tt.dest, tt.o, collect(&outs))
			if err != nil || failed != 0 {
				t.Fatalf("Push = %d, %v; outcomes %+v", failed, err, outs)
			}
			for i, dir := range dirs {
				if outs[i].Path != devs[i] || outs[i].Label != path.Base(devs[i]) || outs[i].Op != Op || outs[i].Class != status.ClassOK {
					t.Errorf("outcome %d = %+v", i, outs[i])
				}
				for p, want := range tt.files {
					if got := read(t, filepath.Join(dir, p)); got != want {
						t.Errorf("node %d: %s = %q, want %q", i+1, p, got, want)
					}
				}
				for p, want := range tt.modes {
					fi, err := os.Stat(filepath.Join(dir, p))
					if err != nil || fi.Mode() != want {
						t.Errorf("node %d: %s mode %v, %v; want %v", i+1, p, fi.Mode(), err, want)
					}
				}
				if tt.o.Preserve {
					fi, _ := os.Stat(filepath.Join(dir, "tmp", "a"))
					if !fi.ModTime().Equal(old) {
						t.Errorf("-p: mtime %v, want %v", fi.ModTime(), old)
					}
				}
				leftovers, _ := filepath.Glob(filepath.Join(dir, "tmp", ".*smctl-*"))
				if len(leftovers) > 0 {
					t.Errorf("temporary files left: %v", leftovers)
				}
			}
		})
	}
}

// TestPushReplaceKeepsMode: without -p a replaced file keeps its mode, as
// with cp.
func TestPushReplaceKeepsMode(t *testing.T) {
	src := filepath.Join(t.TempDir(), "conf")
	write(t, src, "new\n", 0o644)
	tree, devs, dirs := cluster(t, 1)
	write(t, filepath.Join(dirs[0], "tmp", "conf"), "old\n", 0o600)
	if failed, err := Push(context.Background(), tree, devs, []string{src}, "/tmp/conf", Options{}, func(ops.Outcome) {}); failed != 0 || err != nil {
		t.Fatal(failed, err)
	}
	fi, _ := os.Stat(filepath.Join(dirs[0], "tmp", "conf"))
	if got := read(t, filepath.Join(dirs[0], "tmp", "conf")); got != "new\n" || fi.Mode() != 0o600 {
		t.Errorf("replaced file: %q mode %v; want \"new\\n\" mode 0600", got, fi.Mode())
	}
}

// TestPushUsage: what is wrong with the sources is said before any node
// is contacted, with status 2.
func TestPushUsage(t *testing.T) {
	src := t.TempDir()
	write(t, filepath.Join(src, "a"), "A", 0o644)
	write(t, filepath.Join(src, "other", "a"), "A", 0o644)
	os.Mkdir(filepath.Join(src, "d"), 0o755)
	os.Symlink(src, filepath.Join(src, "d", "loop"))
	for _, tt := range []struct {
		name string
		srcs []string
		o    Options
		want string
	}{
		{"missing", []string{filepath.Join(src, "nope")}, Options{}, "no such file"},
		{"directory without -r", []string{filepath.Join(src, "d")}, Options{}, "give -r"},
		{"symlink to a directory inside", []string{filepath.Join(src, "d")}, Options{Recursive: true}, "symlink to a directory"},
		{"same name twice", []string{filepath.Join(src, "a"), filepath.Join(src, "other", "a")}, Options{}, "would both be copied"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tree := fakeTree{"/d/n1": node{files: func(context.Context) (transport.Files, error) {
				t.Error("a node was contacted")
				return nil, errors.New("no")
			}}}
			_, err := Push(context.Background(), tree, []string{"/d/n1"}, tt.srcs, "/tmp/", tt.o, func(ops.Outcome) {})
			if status.Of(err) != status.Usage || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Push = %v (status %d), want a usage error saying %q", err, status.Of(err), tt.want)
			}
		})
	}
}

// TestOneNodeFails: an unreachable node and a node without the directory
// fail alone, each named; the others are copied.
func TestOneNodeFails(t *testing.T) {
	src := filepath.Join(t.TempDir(), "f")
	write(t, src, "F", 0o644)
	tree, devs, dirs := cluster(t, 4)
	tree[devs[1]] = transport.Broken{Err: status.Mark(errors.New("dial tcp: connection refused"), status.ErrUnreachable)}
	os.Remove(filepath.Join(dirs[2], "tmp"))
	var outs []ops.Outcome
	failed, err := Push(context.Background(), tree, devs, []string{src}, "/tmp/", Options{Width: 2}, collect(&outs))
	if err != nil || failed != 2 {
		t.Fatalf("Push = %d, %v", failed, err)
	}
	want := []struct {
		rc  status.Code
		msg string
	}{{0, ""}, {status.Unreachable, "n2: dial tcp: connection refused"}, {status.Failed, "n3: /tmp: stat: no such file or directory"}, {0, ""}}
	for i, w := range want {
		o := outs[i]
		if o.Index != i || o.RC != w.rc || (w.msg == "") != (o.Err == nil) || (o.Err != nil && o.Err.Error() != w.msg) {
			t.Errorf("outcome %d: rc %d, %v; want rc %d, %q", i, o.RC, o.Err, w.rc, w.msg)
		}
	}
	if read(t, filepath.Join(dirs[3], "tmp", "f")) != "F" {
		t.Error("n4 not copied")
	}
}

// stuckWriter blocks until its node's context ends.
type stuckFiles struct {
	dirFiles
	ctx context.Context
}

type stuckWriter struct{ ctx context.Context }

func (w stuckWriter) Write([]byte) (int, error) {
	<-w.ctx.Done()
	return 0, errors.New("connection lost")
}
func (w stuckWriter) Close() error { return nil }

func (f stuckFiles) CreateNew(string) (io.WriteCloser, error) { return stuckWriter{f.ctx}, nil }

// TestIdle: a node that stops taking bytes fails, timed out, after Idle;
// the error names the file it was at.
func TestIdle(t *testing.T) {
	src := filepath.Join(t.TempDir(), "f")
	write(t, src, "F", 0o644)
	tree, devs, _ := cluster(t, 2)
	base := tree[devs[0]].(node)
	tree[devs[0]] = node{files: func(ctx context.Context) (transport.Files, error) {
		f, _ := base.files(ctx)
		return stuckFiles{f.(dirFiles), ctx}, nil
	}}
	var outs []ops.Outcome
	start := time.Now()
	failed, _ := Push(context.Background(), tree, devs, []string{src}, "/tmp/f", Options{Idle: 200 * time.Millisecond}, collect(&outs))
	if failed != 1 || outs[0].RC != status.Timeout || outs[1].Err != nil || time.Since(start) > 5*time.Second {
		t.Fatalf("failed %d, outcomes %+v", failed, outs)
	}
	if msg := outs[0].Err.Error(); msg != "n1: /tmp/f: no progress for 200ms" {
		t.Errorf("error %q", msg)
	}
}

func TestInterrupted(t *testing.T) {
	src := filepath.Join(t.TempDir(), "f")
	write(t, src, "F", 0o644)
	tree, devs, _ := cluster(t, 2)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var outs []ops.Outcome
	failed, _ := Push(ctx, tree, devs, []string{src}, "/tmp/f", Options{}, collect(&outs))
	if failed != 2 || outs[0].RC != status.Interrupted || outs[1].Class != status.ClassInterrupted {
		t.Errorf("failed %d, outcomes %+v", failed, outs)
	}
}

func TestPull(t *testing.T) {
	tree, devs, dirs := cluster(t, 2)
	old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	for i, dir := range dirs {
		write(t, filepath.Join(dir, "etc", "hosts"), fmt.Sprintf("hosts %d\n", i+1), 0o4755)
		write(t, filepath.Join(dir, "etc", "ssh", "conf"), "c\n", 0o600)
		os.Symlink("/etc/shadow", filepath.Join(dir, "etc", "ssh", "evil"))
		os.Chtimes(filepath.Join(dir, "etc", "hosts"), old, old)
	}
	local := t.TempDir()
	var outs []ops.Outcome
	failed, err := Pull(context.Background(), tree, devs, []string{"/etc/hosts", "/etc/ssh"}, local, Options{Recursive: true, Preserve: true}, collect(&outs))
	if err != nil || failed != 0 {
		t.Fatalf("Pull = %d, %v, %+v", failed, err, outs)
	}
	for i := range dirs {
		n := fmt.Sprintf("n%d", i+1)
		if got := read(t, filepath.Join(local, "hosts."+n)); got != fmt.Sprintf("hosts %d\n", i+1) {
			t.Errorf("hosts.%s = %q", n, got)
		}
		fi, _ := os.Stat(filepath.Join(local, "hosts."+n))
		if fi.Mode() != 0o755 || !fi.ModTime().Equal(old) {
			t.Errorf("hosts.%s: mode %v (setuid from a node must go), mtime %v", n, fi.Mode(), fi.ModTime())
		}
		if got := read(t, filepath.Join(local, "ssh."+n, "conf")); got != "c\n" {
			t.Errorf("ssh.%s/conf = %q", n, got)
		}
		if _, err := os.Lstat(filepath.Join(local, "ssh."+n, "evil")); err == nil {
			t.Errorf("a node's symlink was copied")
		}
		want := filepath.Join(local, "hosts."+n) + "\n" + filepath.Join(local, "ssh."+n) + "\n"
		if string(outs[i].Content) != want {
			t.Errorf("content %q, want %q", outs[i].Content, want)
		}
	}
}

// evilFiles is a node that lies in its directory listings.
type evilFiles struct {
	dirFiles
	names []string
}

func (f evilFiles) ReadDir(n string) ([]fs.FileInfo, error) {
	fis, err := f.dirFiles.ReadDir(n)
	if err != nil || n != "/d" {
		return fis, err
	}
	var out []fs.FileInfo
	for _, name := range f.names {
		out = append(out, renamed{fis[0], name})
	}
	return out, nil
}

type renamed struct {
	fs.FileInfo
	name string
}

func (r renamed) Name() string { return r.name }

// TestPullAdversarial: whatever a node lists, and whatever a local user
// planted in LOCALDIR, nothing is written outside LOCALDIR.
func TestPullAdversarial(t *testing.T) {
	for _, name := range []string{"../escape", "..", ".", "", "a/../../escape", "/abs", "x\x00y"} {
		t.Run(fmt.Sprintf("listed %q", name), func(t *testing.T) {
			tree, devs, dirs := cluster(t, 1)
			write(t, filepath.Join(dirs[0], "d", "f"), "F", 0o644)
			base := tree[devs[0]].(node)
			tree[devs[0]] = node{files: func(ctx context.Context) (transport.Files, error) {
				f, _ := base.files(ctx)
				return evilFiles{f.(dirFiles), []string{name}}, nil
			}}
			top := t.TempDir()
			local := filepath.Join(top, "out")
			os.Mkdir(local, 0o755)
			var outs []ops.Outcome
			failed, err := Pull(context.Background(), tree, devs, []string{"/d"}, local, Options{Recursive: true}, collect(&outs))
			if err != nil || failed != 1 || !strings.Contains(outs[0].Err.Error(), "refused") {
				t.Fatalf("Pull = %d, %v, %+v", failed, err, outs)
			}
			entries, _ := os.ReadDir(top)
			if len(entries) != 1 {
				t.Errorf("written outside LOCALDIR: %v", entries)
			}
		})
	}
	t.Run("planted symlinks", func(t *testing.T) {
		tree, devs, dirs := cluster(t, 1)
		write(t, filepath.Join(dirs[0], "etc", "passwd"), "from the node\n", 0o644)
		write(t, filepath.Join(dirs[0], "d", "f"), "F", 0o644)
		top := t.TempDir()
		target := filepath.Join(top, "target")
		write(t, target, "precious\n", 0o600)
		os.Mkdir(filepath.Join(top, "targetdir"), 0o755)
		local := filepath.Join(top, "out")
		os.Mkdir(local, 0o755)
		os.Symlink(target, filepath.Join(local, "passwd.n1"))
		os.Symlink(filepath.Join(top, "targetdir"), filepath.Join(local, "d.n1"))
		var outs []ops.Outcome
		failed, err := Pull(context.Background(), tree, devs, []string{"/etc/passwd", "/d"}, local, Options{Recursive: true}, collect(&outs))
		if err != nil || failed != 1 || !strings.Contains(outs[0].Err.Error(), "is a symlink: not followed") {
			t.Fatalf("Pull = %d, %v, %+v", failed, err, outs)
		}
		if got := read(t, target); got != "precious\n" {
			t.Errorf("the file a planted symlink points to was written: %q", got)
		}
		if fi, err := os.Lstat(filepath.Join(local, "passwd.n1")); err != nil || !fi.Mode().IsRegular() || read(t, filepath.Join(local, "passwd.n1")) != "from the node\n" {
			t.Errorf("passwd.n1 is not the node's file in place of the symlink: %v %v", fi, err)
		}
		if es, _ := os.ReadDir(filepath.Join(top, "targetdir")); len(es) != 0 {
			t.Errorf("written through a planted directory symlink: %v", es)
		}
	})
}

func TestPullUsage(t *testing.T) {
	tree, devs, _ := cluster(t, 1)
	local := t.TempDir()
	file := filepath.Join(local, "file")
	write(t, file, "", 0o644)
	for _, tt := range []struct {
		name    string
		devs    []string
		remotes []string
		dir     string
		want    string
	}{
		{"root", devs, []string{"/"}, local, "no name of its own"},
		{"dotdot", devs, []string{"/tmp/.."}, local, "no name of its own"},
		{"same base", devs, []string{"/a/x", "/b/x"}, local, "both be saved as x.NODE"},
		{"same node name", []string{"/systems/chassis/a/blades/1", "/systems/chassis/b/blades/1"}, []string{"/x"}, local, "both named 1"},
		{"not a directory", devs, []string{"/x"}, file, "not a directory"},
		{"missing", devs, []string{"/x"}, filepath.Join(local, "nope"), "no such file"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Pull(context.Background(), tree, tt.devs, tt.remotes, tt.dir, Options{}, func(ops.Outcome) {})
			if status.Of(err) != status.Usage || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Pull = %v, want a usage error saying %q", err, tt.want)
			}
		})
	}
}
