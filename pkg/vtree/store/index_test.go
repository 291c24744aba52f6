package store

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/smctl/smctl/internal/testpriv"
	"github.com/smctl/smctl/pkg/status"
	"github.com/smctl/smctl/pkg/trust"
)

func TestParseIndex(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want map[string]string
		err  string
	}{
		{in: "", want: map[string]string{}},
		{in: indexHeader + "n1 server\nn2 server\n", want: map[string]string{"n1": "server", "n2": "server"}},
		{in: "n1 server\n\n# note\nn1 chassis\n", want: map[string]string{"n1": "chassis"}},
		// An append cut short: its line does not count.
		{in: "n1 server\nn2 serv", want: map[string]string{"n1": "server"}},
		{in: "n1 server\nn2 server", want: map[string]string{"n1": "server"}},
		{in: `"a b" server` + "\n" + `"x\"y\\z\n" blade` + "\n", want: map[string]string{"a b": "server", "x\"y\\z\n": "blade"}},
		{in: "n1\n", err: "line 1"},
		{in: "n1 \n", err: "line 1"},
		{in: " server\n", err: "line 1"},
		{in: "ok server\na/b server\n", err: "line 2"},
		{in: ". server\n", err: "line 1"},
		{in: ".. server\n", err: "line 1"},
		{in: `"" server` + "\n", err: "line 1"},
		{in: `"a/b" server` + "\n", err: "line 1"},
		{in: `"unterminated server` + "\n", err: "line 1"},
		{in: "tab\tname server\n", err: "line 1"}, // unquoted: must have been quoted
	} {
		got, err := ParseIndex([]byte(tc.in))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseIndex(%q) = %v, %v; want an error naming %s", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || !maps.Equal(got, tc.want) {
			t.Errorf("ParseIndex(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

// Every name a directory can have survives a line of the index.
func TestIndexLineRoundTrip(t *testing.T) {
	for _, name := range []string{"n1", "a b", `q"uote`, `back\slash`, "new\nline", "#hash", "a#b", "é", "\x7f", "x y z", " lead", "trail "} {
		line := indexLine(name, "server")
		if strings.Count(line, "\n") != 1 {
			t.Errorf("indexLine(%q) = %q: not one line", name, line)
		}
		got, err := ParseIndex([]byte(line))
		if err != nil || got[name] != "server" || len(got) != 1 {
			t.Errorf("ParseIndex(indexLine(%q) = %q) = %v, %v", name, line, got, err)
		}
	}
}

func FuzzIndexLine(f *testing.F) {
	for _, s := range []string{"n1", "a b", `"x"`, "#", "\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
			return
		}
		got, err := ParseIndex([]byte(indexLine(name, "t")))
		if err != nil || got[name] != "t" || len(got) != 1 {
			t.Fatalf("name %q: line %q parses as %v, %v", name, indexLine(name, "t"), got, err)
		}
	})
}

func readIndexFile(t *testing.T, dir string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, IndexName))
	if err != nil {
		t.Fatal(err)
	}
	m, err := ParseIndex(b)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// IndexAdd makes the index owner-only whatever the umask, appends, writes
// nothing when the index says so already; IndexRemove replaces it.
func TestIndexAddRemove(t *testing.T) {
	s, dir := newStore(t)
	old := syscall.Umask(0) // a new index is made under it
	err := s.IndexAdd(".", "n1", "server")
	syscall.Umask(old)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, IndexName))
	if err != nil || fi.Mode().Perm() != 0o644 {
		t.Fatalf("new index made under umask 0: %v, %v; want mode 0644", fi, err)
	}
	if err := s.IndexAdd(".", "n2", "server"); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(filepath.Join(dir, IndexName))
	if err := s.IndexAdd(".", "n1", "server"); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, IndexName)); string(after) != string(before) {
		t.Errorf("adding what the index holds changed it: %q -> %q", before, after)
	}
	if want := indexHeader + "n1 server\nn2 server\n"; string(before) != want {
		t.Errorf("index %q, want %q", before, want)
	}
	// Another type for a name: a line that overrides.
	if err := s.IndexAdd(".", "n2", "chassis"); err != nil {
		t.Fatal(err)
	}
	if got := readIndexFile(t, dir); got["n2"] != "chassis" {
		t.Errorf("n2 retyped: %v", got)
	}
	if err := s.IndexRemove(".", "n1"); err != nil {
		t.Fatal(err)
	}
	if err := s.IndexRemove(".", "n9"); err != nil {
		t.Fatal(err)
	}
	if got := readIndexFile(t, dir); !maps.Equal(got, map[string]string{"n2": "chassis"}) {
		t.Errorf("after removing n1: %v", got)
	}
	if fi, err := os.Stat(filepath.Join(dir, IndexName)); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("replaced index: %v, %v; want mode 0644", fi, err)
	}
	// In a directory without an index, a removal makes none... but an empty
	// one with its header, owner-only.
	if err := os.Mkdir(filepath.Join(dir, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := s.IndexRemove("d", "x"); err != nil {
		t.Fatal(err)
	}
	if got := readIndexFile(t, filepath.Join(dir, "d")); len(got) != 0 {
		t.Errorf("index of d: %v", got)
	}
}

// Stores are processes: what one wrote, another's next change keeps, even
// when the first then removes with what it knew of the index.
func TestIndexTwoWriters(t *testing.T) {
	a, dir := newStore(t)
	b := &Store{root: a.root, dir: a.dir}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	want := func(step string, names ...string) {
		t.Helper()
		w := map[string]string{}
		for _, n := range names {
			w[n] = "server"
		}
		if got := readIndexFile(t, dir); !maps.Equal(got, w) {
			t.Fatalf("after %s: index %v, want %v", step, got, w)
		}
	}
	must(a.IndexAdd(".", "x", "server"))
	must(b.IndexAdd(".", "y", "server"))
	must(a.IndexAdd(".", "z", "server")) // a's knowledge is out of date (grown): re-read
	must(b.IndexRemove(".", "x"))        // b's too: z must stay
	want("a stale removal", "y", "z")
	must(a.IndexAdd(".", "w", "server"))
	must(a.IndexRemove(".", "z"))
	want("adds and removals", "y", "w")
	// Replaced by another store with an index of the same size: the inode
	// says it changed.
	must(a.IndexAdd(".", "v", "server")) // a knows {y, w, v}
	must(b.IndexRemove(".", "v"))
	must(b.IndexAdd(".", "u", "server")) // same size as a last saw
	must(a.IndexRemove(".", "w"))
	want("a removal after a replacement", "y", "u")

	// Concurrently: every add lands.
	var wg sync.WaitGroup
	for w, s := range []*Store{a, b, {root: a.root, dir: a.dir}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 100 {
				if err := s.IndexAdd(".", fmt.Sprintf("c%d-%d", w, i), "server"); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if got := readIndexFile(t, dir); len(got) != 302 {
		t.Errorf("after 300 concurrent adds: %d devices, want 302", len(got))
	}
}

// An index that is not to be trusted is neither read nor changed: writable
// by others, a symlink, a hard link, a FIFO (no read hangs on it), another
// user's.
func TestIndexTrust(t *testing.T) {
	for _, tc := range []struct {
		name string
		make func(t *testing.T, dir string)
	}{
		{"writable by others", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, IndexName), []byte("n1 server\n"), 0o644)
			os.Chmod(filepath.Join(dir, IndexName), 0o646)
		}},
		{"group-writable", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, IndexName), []byte("n1 server\n"), 0o644)
			os.Chmod(filepath.Join(dir, IndexName), 0o664)
		}},
		{"symlink", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "other"), []byte("n1 server\n"), 0o644)
			os.Symlink("other", filepath.Join(dir, IndexName))
		}},
		{"hard link", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "other"), []byte("n1 server\n"), 0o644)
			os.Link(filepath.Join(dir, "other"), filepath.Join(dir, IndexName))
		}},
		{"fifo", func(t *testing.T, dir string) { syscall.Mkfifo(filepath.Join(dir, IndexName), 0o644) }},
		{"directory", func(t *testing.T, dir string) { os.Mkdir(filepath.Join(dir, IndexName), 0o755) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, dir := newStore(t)
			tc.make(t, dir)
			done := make(chan struct{})
			go func() {
				defer close(done)
				if idx, err := s.ReadIndex("."); err == nil {
					t.Errorf("ReadIndex = %v, nil; want refused", idx)
				}
				if _, _, err := s.DeviceType("n1"); err == nil {
					t.Error("DeviceType under it: no error")
				}
				if err := s.IndexAdd(".", "n2", "server"); err == nil {
					t.Error("IndexAdd: no error")
				}
				if err := s.IndexRemove(".", "n1"); err == nil {
					t.Error("IndexRemove: no error")
				}
			}()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("hung on the index")
			}
			if b, err := os.ReadFile(filepath.Join(dir, "other")); err == nil && string(b) != "n1 server\n" {
				t.Errorf("the file linked as the index was changed: %q", b)
			}
		})
	}
	t.Run("error names the index", func(t *testing.T) {
		s, dir := newStore(t)
		os.Mkdir(filepath.Join(dir, "d"), 0o755)
		os.WriteFile(filepath.Join(dir, "d", IndexName), []byte("n1 server\n"), 0o646)
		os.Chmod(filepath.Join(dir, "d", IndexName), 0o646)
		_, _, err := s.DeviceType("d/n1")
		var te *trust.Error
		if !errors.As(err, &te) || !strings.Contains(err.Error(), "/d/"+IndexName) {
			t.Errorf("DeviceType = %v, want a trust error naming /d/%s", err, IndexName)
		}
	})
}

// DeviceType: the parent's index, else the directory's own .type; nothing
// for a plain directory; the index is read once until forgotten.
func TestDeviceType(t *testing.T) {
	s, dir := newStore(t)
	for _, d := range []string{"a", "b", "c"} {
		os.Mkdir(filepath.Join(dir, d), 0o755)
	}
	os.WriteFile(filepath.Join(dir, "a", TypeFile), []byte("chassis\n"), 0o644) // the index says otherwise
	os.WriteFile(filepath.Join(dir, "b", TypeFile), []byte("blade\n"), 0o644)
	if err := s.IndexAdd(".", "a", "server"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ rel, typ, where string }{
		{"a", "server", IndexName + " (a)"},
		{"b", "blade", "b/" + TypeFile},
		{"c", "", "c/" + TypeFile},
	} {
		typ, indexed, err := s.DeviceType(tc.rel)
		if where := MarkerName(tc.rel, indexed); err != nil || typ != tc.typ || where != tc.where {
			t.Errorf("DeviceType(%s) = %q, %q, %v; want %q, %q", tc.rel, typ, where, err, tc.typ, tc.where)
		}
	}
	// Read once per command: a change by another program is seen once
	// the index's directory is forgotten; this store's own changes at once.
	other := &Store{root: s.root, dir: s.dir}
	if err := other.IndexAdd(".", "c", "server"); err != nil {
		t.Fatal(err)
	}
	if typ, _, _ := s.DeviceType("c"); typ != "" {
		t.Errorf("c before forgetting: %q", typ)
	}
	s.ForgetDirs("c/x") // below: the index is kept
	if typ, _, _ := s.DeviceType("c"); typ != "" {
		t.Errorf("c after forgetting c/x: %q", typ)
	}
	s.ForgetDirs(".") // the index's directory, as a watch forgets it
	if typ, _, _ := s.DeviceType("c"); typ != "server" {
		t.Errorf("c after forgetting: %q, want server", typ)
	}
}

// What an index line could not hold back is refused before anything is
// written: the index stays as it was.
func TestIndexAddRefuses(t *testing.T) {
	s, dir := newStore(t)
	if err := s.IndexAdd(".", "n1", "server"); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(filepath.Join(dir, IndexName))
	for _, tc := range [][2]string{
		{"n2", ""}, {"n2", "a b"}, {"n2", "a\nb"}, {"n2", `a"b`}, {"n2", "#x"},
		{"", "server"}, {".", "server"}, {"..", "server"}, {"a/b", "server"}, {"a\x00b", "server"},
	} {
		if err := s.IndexAdd(".", tc[0], tc[1]); err == nil {
			t.Errorf("IndexAdd(%q, %q): no error", tc[0], tc[1])
		}
	}
	if after, _ := os.ReadFile(filepath.Join(dir, IndexName)); string(after) != string(before) {
		t.Errorf("index changed by refused adds: %q -> %q", before, after)
	}
	// Names that need quoting are held.
	if err := s.IndexAdd(".", "a b\n", "server"); err != nil {
		t.Fatal(err)
	}
	if got := readIndexFile(t, dir); got["a b\n"] != "server" || got["n1"] != "server" {
		t.Errorf("index %v", got)
	}
}

// An index of maxIndex bytes is read, its last line too; one larger is
// refused whole (never read in part: the devices past the cut would
// vanish).
func TestIndexTooLarge(t *testing.T) {
	defer func(m int64) { maxIndex = m }(maxIndex)
	maxIndex = 1024
	for _, tc := range []struct {
		size int
		ok   bool
	}{{1024, true}, {1025, false}} {
		s, dir := newStore(t)
		last := "n9 server\n"
		pad := "#" + strings.Repeat("x", tc.size-len(last)-2) + "\n"
		if err := os.WriteFile(filepath.Join(dir, IndexName), []byte(pad+last), 0o644); err != nil {
			t.Fatal(err)
		}
		idx, err := s.ReadIndex(".")
		if tc.ok != (err == nil) || tc.ok && idx["n9"] != "server" {
			t.Errorf("ReadIndex of %d bytes: %v, %v; want read: %v", tc.size, idx, err, tc.ok)
		}
		if err := s.IndexRemove(".", "n9"); tc.ok != (err == nil) {
			t.Errorf("IndexRemove from %d bytes: %v; want done: %v", tc.size, err, tc.ok)
		}
		if got := readIndexFile(t, dir); tc.ok && len(got) != 0 {
			t.Errorf("after removing n9 from %d bytes: %v", tc.size, got)
		}
	}
}

// An index planted before the first device is added (another user's empty
// file, an empty hard link to a file elsewhere) is judged as found: it is
// refused, and nothing is written to it, nor its mode changed.
func TestIndexAddPlanted(t *testing.T) {
	for _, tc := range []struct {
		name  string
		plant func(t *testing.T, dir string) string // the file that must stay as it is
	}{
		{"another user's", func(t *testing.T, dir string) string {
			if os.Geteuid() != 0 {
				testpriv.Need(t, "root, to give a file to nobody")
			}
			f := filepath.Join(dir, IndexName)
			if err := os.WriteFile(f, nil, 0o666); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(f, 0o666); err != nil {
				t.Fatal(err)
			}
			if err := os.Chown(f, testpriv.Nobody, testpriv.Nobody); err != nil {
				t.Fatal(err)
			}
			return f
		}},
		{"a hard link", func(t *testing.T, dir string) string {
			other := filepath.Join(t.TempDir(), "elsewhere")
			if err := os.WriteFile(other, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Link(other, filepath.Join(dir, IndexName)); err != nil {
				t.Fatal(err)
			}
			return other
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, dir := newStore(t)
			f := tc.plant(t, dir)
			before, err := os.Stat(f)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.IndexAdd(".", "n1", "server"); err == nil {
				t.Error("IndexAdd into a planted index: no error")
			}
			after, err := os.Stat(f)
			if err != nil || after.Size() != 0 || after.Mode() != before.Mode() {
				t.Errorf("planted file changed: %v -> %v (size %d), %v", before.Mode(), after.Mode(), after.Size(), err)
			}
		})
	}
}

// An index that does not parse (edited by hand) makes its devices refuse,
// naming it and the line, as a marker not to be trusted does.
func TestIndexMalformed(t *testing.T) {
	s, dir := newStore(t)
	if err := os.Mkdir(filepath.Join(dir, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "d", IndexName), []byte("n1 server\ngarbage\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err := s.DeviceType("d/n1")
	if err == nil || !errors.Is(err, status.ErrUntrusted) || err.Error() != `device index /d/.devices: line 2: "garbage": want NAME TYPE` {
		t.Errorf("DeviceType under a malformed index: %v", err)
	}
}

// What a store adds or removes, its DeviceType sees at once.
func TestDeviceTypeOwnChanges(t *testing.T) {
	s, dir := newStore(t)
	if err := os.Mkdir(filepath.Join(dir, "a"), 0o755); err != nil {
		t.Fatal(err)
	}
	if typ, _, _ := s.DeviceType("a"); typ != "" {
		t.Fatalf("a before: %q", typ)
	}
	if err := s.IndexAdd(".", "a", "server"); err != nil {
		t.Fatal(err)
	}
	if typ, _, _ := s.DeviceType("a"); typ != "server" {
		t.Errorf("a after IndexAdd: %q", typ)
	}
	if err := s.IndexRemove(".", "a"); err != nil {
		t.Fatal(err)
	}
	if typ, _, _ := s.DeviceType("a"); typ != "" {
		t.Errorf("a after IndexRemove: %q", typ)
	}
}
