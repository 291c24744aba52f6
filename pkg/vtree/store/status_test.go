package store

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestStatusBytesParse(t *testing.T) {
	tests := []struct {
		st   Status
		want string
	}{
		{Status{}, "0\n"},
		{Status{RC: 3, Message: "boom\nsecond"}, "3 boom second\n"},
		{Status{RC: 0, Ran: "uptime\n"}, "0\nran: uptime\n"},
		{Status{RC: 124, Message: "timed out", Ran: "a\nb"}, "124 timed out\nran: a b\n"},
		{Status{RC: 4, Message: "gone", Stale: true}, "4 gone\nstale: the content is from an earlier run\n"},
		{Status{Ran: "x\x1b[31m"}, "0\nran: x\\x1b[31m\n"},
	}
	for _, tt := range tests {
		got := string(tt.st.Bytes())
		if got != tt.want {
			t.Errorf("%+v: bytes %q, want %q", tt.st, got, tt.want)
		}
		back, ok := ParseStatus([]byte(got))
		if !ok || back.RC != tt.st.RC || back.Stale != tt.st.Stale || (tt.st.Ran != "") != (back.Ran != "") {
			t.Errorf("%q parsed back as %+v, %v", got, back, ok)
		}
	}
	if _, ok := ParseStatus([]byte("x y\n")); ok {
		t.Error("a status without a code was parsed")
	}
	long := Status{Ran: strings.Repeat("a", 2*maxRan)}
	if b := long.Bytes(); len(b) > maxRan+20 || !strings.HasSuffix(string(b), "...\n") {
		t.Errorf("a long command is recorded as %d bytes", len(b))
	}
}

// TestStoreResultStderr: NAME.stderr holds the whole stderr of the run,
// is removed by a run with none (the tree shows it empty), and is left
// alone by runs that keep no stderr (read agents).
func TestStoreResultStderr(t *testing.T) {
	s, dir := newStore(t)
	os.MkdirAll(filepath.Join(dir, "d"), 0o755)
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, "d", name))
		if err != nil {
			return "<none>"
		}
		return string(b)
	}
	steps := []struct {
		r                       Result
		content, stderr, status string
	}{
		{Result{Content: []byte("out\n"), Stderr: []byte("e1\ne2\n"), HasStderr: true, Status: Status{RC: 3, Message: "e1", Ran: "cmd"}},
			"out\n", "e1\ne2\n", "3 e1\nran: cmd\n"},
		{Result{Content: []byte("ok\n"), HasStderr: true, Status: Status{Ran: "true"}}, "ok\n", "<none>", "0\nran: true\n"},
		{Result{Content: []byte("again\n"), HasStderr: true, Status: Status{Ran: "true"}}, "again\n", "<none>", "0\nran: true\n"},
		{Result{Content: []byte("err\n"), Stderr: []byte("e\n"), HasStderr: true, Status: Status{RC: 1, Message: "e"}}, "err\n", "e\n", "1 e\n"},
		{Result{Content: []byte("r\n"), Status: Status{}}, "r\n", "e\n", "0\n"},
	}
	for i, st := range steps {
		if err := s.StoreResult("d/c", st.r); err != nil {
			t.Fatal(err)
		}
		if c, e, stt := read("c"), read("c.stderr"), read("c.status"); c != st.content || e != st.stderr || stt != st.status {
			t.Errorf("step %d: content %q stderr %q status %q; want %q %q %q", i, c, e, stt, st.content, st.stderr, st.status)
		}
	}
}

// TestLast: when the last run ended is the later of the status's and the
// content's times (an unchanged status is not rewritten); stale only when
// the status says so and there is content.
func TestLast(t *testing.T) {
	s, dir := newStore(t)
	os.MkdirAll(filepath.Join(dir, "d"), 0o755)
	if _, ok := s.Last("d/c"); ok {
		t.Fatal("a last run without a status")
	}
	old, newer := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC)
	write := func(name, data string, at time.Time) {
		p := filepath.Join(dir, "d", name)
		os.WriteFile(p, []byte(data), 0o644)
		os.Chtimes(p, at, at)
	}
	write("c.status", "0\nran: x\n", old)
	write("c", "v\n", newer)
	l, ok := s.Last("d/c")
	if !ok || !l.At.Equal(newer) || l.Ran != "x" || l.Stale {
		t.Errorf("content newer: %+v %v", l, ok)
	}
	write("c.status", "4 gone\nstale: the content is from an earlier run\n", newer)
	write("c", "v\n", old)
	l, _ = s.Last("d/c")
	if !l.At.Equal(newer) || !l.Stale || l.RC != 4 || l.Message != "gone" {
		t.Errorf("stale: %+v", l)
	}
	os.Remove(filepath.Join(dir, "d", "c"))
	if l, _ = s.Last("d/c"); l.Stale {
		t.Errorf("stale without content: %+v", l)
	}
}

// TestReadResult: content and last run read together agree with ReadFile
// and Last, for a file with and without a status, stale or not, empty,
// and through a symlink.
func TestReadResult(t *testing.T) {
	s, dir := newStore(t)
	os.MkdirAll(filepath.Join(dir, "d"), 0o755)
	old, newer := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC)
	write := func(name, data string, at time.Time) {
		p := filepath.Join(dir, "d", name)
		os.WriteFile(p, []byte(data), 0o644)
		os.Chtimes(p, at, at)
	}
	check := func(what, rel string) {
		t.Helper()
		b, l, ok, err := s.ReadResult(rel, 100)
		wb, werr := s.ReadFile(rel, 100)
		wl, wok := s.Last(rel)
		if string(b) != string(wb) || (err == nil) != (werr == nil) || ok != wok || l != wl {
			t.Errorf("%s: %q %+v %v %v; ReadFile and Last: %q %+v %v %v", what, b, l, ok, err, wb, wl, wok, werr)
		}
	}
	write("c", "v\n", newer)
	check("no status", "d/c")
	write("c.status", "0\nran: x\n", old)
	check("content newer", "d/c")
	write("c.status", "4 gone\nstale: the content is from an earlier run\n", newer)
	write("c", "v\n", old)
	check("stale", "d/c")
	if _, l, _, _ := s.ReadResult("d/c", 100); !l.Stale || !l.At.Equal(newer) || l.RC != 4 {
		t.Errorf("stale: %+v", l)
	}
	write("c", "", old)
	check("stale and empty", "d/c")
	os.Symlink("c", filepath.Join(dir, "d", "l"))
	os.Symlink("c.status", filepath.Join(dir, "d", "l.status"))
	check("a symlink", "d/l")
	check("missing", "d/none")
}

// TestReadSized: one read when the size is known and the file has not
// grown; what was written since is still read; max bounds it all.
func TestReadSized(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	for _, tt := range []struct {
		data      string
		size, max int64
		want      string
	}{
		{"", 0, 10, ""},
		{"abc", 3, 10, "abc"},
		{"abcdef", 3, 10, "abcdef"}, // grew after the stat
		{"abcdef", 6, 4, "abcd"},    // max below the size
		{"abcdef", 4, 4, "abcd"},    // grew, and the size stat'ed was max
		{"abcdef", -1, 10, "abcdef"},
		{"ab", 5, 10, "ab"}, // shrank
	} {
		os.WriteFile(p, []byte(tt.data), 0o644)
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		got, err := readSized(f, tt.size, tt.max)
		f.Close()
		if err != nil || string(got) != tt.want {
			t.Errorf("%q size %d max %d: %q, %v; want %q", tt.data, tt.size, tt.max, got, err, tt.want)
		}
	}
}

// TestHolds: exactly the bytes wanted, not a prefix or a longer file.
func TestHolds(t *testing.T) {
	s, dir := newStore(t)
	os.MkdirAll(filepath.Join(dir, "d"), 0o755)
	os.WriteFile(filepath.Join(dir, "d", "s"), []byte("0\nran: x\n"), 0o644)
	for _, tt := range []struct {
		want string
		same bool
	}{{"0\nran: x\n", true}, {"0\n", false}, {"0\nran: x\nmore\n", false}, {"1\nran: x\n", false}} {
		same, err := s.holds("d/s", []byte(tt.want))
		if err != nil || same != tt.same {
			t.Errorf("holds %q = %v, %v; want %v", tt.want, same, err, tt.same)
		}
	}
	if _, err := s.holds("d/none", []byte("0\n")); err == nil {
		t.Error("a missing file holds something")
	}
}
