package store

import (
	"container/list"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// inode is the inode number of the entry p (not followed).
func inode(t *testing.T, p string) uint64 {
	t.Helper()
	st, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return st.Sys().(*syscall.Stat_t).Ino
}

// holdFlock takes an exclusive flock on p through a descriptor of its own
// and returns the function that lets it go.
func holdFlock(t *testing.T, p string) func() {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		t.Skipf("no flock here: %v", err)
	}
	return func() { f.Close() }
}

// waitFlockWaiter returns once some descriptor waits for a flock on the
// inode ino (a "->" line of /proc/locks): the goroutine under test is
// blocked at the point the test wants it.
func waitFlockWaiter(t *testing.T, ino uint64) {
	t.Helper()
	suffix := ":" + strconv.FormatUint(ino, 10)
	for i := 0; i < 20000; i++ {
		b, err := os.ReadFile("/proc/locks")
		if err != nil {
			t.Skipf("no /proc/locks: %v", err)
		}
		for _, l := range strings.Split(string(b), "\n") {
			if !strings.Contains(l, "->") {
				continue
			}
			for _, f := range strings.Fields(l) {
				if strings.HasSuffix(f, suffix) && strings.Count(f, ":") == 2 {
					return
				}
			}
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("nothing ever waited for the flock on inode %d", ino)
}

// TestMutDirCache: the store's cache of open directories holds at most
// limit directories, keeps the most recently used, never closes one that is
// in use (evicted or forgotten, it is closed by its last user), and forgets
// a directory with everything below it, nothing else.
func TestMutDirCache(t *testing.T) {
	mk := func(t *testing.T) (*Store, string) {
		s, dir := newStore(t)
		for _, d := range []string{"a", "a/b", "ab", "b", "c"} {
			if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		s.dirs, s.lru, s.limit = map[string]*dirEnt{}, list.New(), 2
		return s, dir
	}
	open := func(t *testing.T, s *Store, rel string) (*dirEnt, func()) {
		t.Helper()
		e, release, err := s.openDir(rel)
		if err != nil {
			t.Fatal(err)
		}
		return e, release
	}
	usable := func(t *testing.T, e *dirEnt, what string) {
		t.Helper()
		var st syscall.Stat_t
		if err := syscall.Fstat(e.fd, &st); err != nil {
			t.Errorf("%s: the directory held is no longer usable: %v", what, err)
		}
	}
	cached := func(s *Store) []string {
		var ks []string
		for k := range s.dirs {
			ks = append(ks, k)
		}
		slices.Sort(ks)
		return ks
	}

	t.Run("bounded, most recent kept", func(t *testing.T) {
		s, _ := mk(t)
		for _, d := range []string{"a", "b", "c"} {
			_, release := open(t, s, d)
			release()
		}
		if got := cached(s); !slices.Equal(got, []string{"b", "c"}) {
			t.Errorf("cached after a, b, c with room for 2: %q, want [b c]", got)
		}
		// A hit makes a the most recent: b goes next.
		_, release := open(t, s, "b")
		release()
		_, release = open(t, s, "a")
		release()
		if got := cached(s); !slices.Equal(got, []string{"a", "b"}) {
			t.Errorf("cached after using b then a: %q, want [a b]", got)
		}
	})
	t.Run("held do not count", func(t *testing.T) {
		// A fan-out holding its devices' directories (a, ab, c) does not
		// push out the idle ones, which its items share (b).
		s, _ := mk(t)
		var held []func()
		for _, d := range []string{"a", "ab", "c"} {
			_, release := open(t, s, d)
			held = append(held, release)
		}
		_, release := open(t, s, "b")
		release()
		_, release = open(t, s, "a/b")
		release()
		if got := cached(s); !slices.Equal(got, []string{"a", "a/b", "ab", "b", "c"}) {
			t.Errorf("cached with a, ab, c held and b, a/b idle: %q, want all", got)
		}
		for _, r := range held {
			r()
		}
		// Let go, they count again when the next directory is kept.
		if err := os.Mkdir(filepath.Join(s.dir, "d"), 0o755); err != nil {
			t.Fatal(err)
		}
		_, release = open(t, s, "d")
		release()
		if got := cached(s); len(got) != 2 || !slices.Contains(got, "d") {
			t.Errorf("cached once let go, after d: %q, want d and one more", got)
		}
	})
	t.Run("in use not evicted", func(t *testing.T) {
		s, _ := mk(t)
		ra, relA1 := open(t, s, "a")
		_, relA2 := open(t, s, "a") // a hit: two users
		for _, d := range []string{"b", "c"} {
			_, release := open(t, s, d)
			release()
		}
		usable(t, ra, "a, held twice, after b and c")
		relA2()
		usable(t, ra, "a, still held once")
		relA1()
	})
	t.Run("forget", func(t *testing.T) {
		s, dir := mk(t)
		s.limit = 10
		for _, d := range []string{"a/b", "ab", "b"} {
			_, release := open(t, s, d)
			release()
		}
		ra, relA1 := open(t, s, "a")
		_, relA2 := open(t, s, "a")
		s.ForgetDirs("a")
		if got := cached(s); !slices.Equal(got, []string{"ab", "b"}) {
			t.Errorf("cached after forgetting a: %q, want [ab b]", got)
		}
		usable(t, ra, "a, forgotten while held twice")
		relA2()
		usable(t, ra, "a, forgotten, after one of its two users let go")
		relA1()
		// A directory removed and made again is the new one once forgotten.
		_, release := open(t, s, "c")
		release()
		if err := os.Remove(filepath.Join(dir, "c")); err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(filepath.Join(dir, "c"), 0o755); err != nil {
			t.Fatal(err)
		}
		s.ForgetDirs("c")
		if err := s.WriteFile("c/f", []byte("x")); err != nil {
			t.Fatalf("write into the new c: %v", err)
		}
		if b, err := os.ReadFile(filepath.Join(dir, "c/f")); err != nil || string(b) != "x" {
			t.Errorf("c/f = %q, %v; want the write in the new directory", b, err)
		}
	})
}

// TestMutRootWiden: a stored result at the top of a backing tree its group
// may write is group-writable too, as in any other such directory.
func TestMutRootWiden(t *testing.T) {
	s, dir := newStore(t)
	if err := os.Chmod(dir, 0o775); err != nil {
		t.Fatal(err)
	}
	if err := s.WriteFile("f", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if m := perm(t, filepath.Join(dir, "f")); m != newFileMode.Perm()|0o020 {
		t.Errorf("mode %04o, want %04o", m, newFileMode.Perm()|0o020)
	}
}

// TestMutReadShared: reading a missing file says it does not exist; a read
// waiting for a writer's lock reads the file under the name once it gets
// it: the new one if the name was exchanged meanwhile, the one it opened
// if the name was removed.
func TestMutReadShared(t *testing.T) {
	t.Run("missing", func(t *testing.T) {
		s, _ := newStore(t)
		for _, name := range []string{"nope", LockName} {
			if b, err := s.ReadFile(name, 100); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("readFile(%s) = %q, %v; want ErrNotExist", name, b, err)
			}
		}
	})
	for _, tc := range []struct {
		name      string
		meanwhile func(dir string) error
		want      string
	}{
		{"exchanged", func(dir string) error {
			if err := os.WriteFile(filepath.Join(dir, "g"), []byte("new"), 0o644); err != nil {
				return err
			}
			return os.Rename(filepath.Join(dir, "g"), filepath.Join(dir, "f"))
		}, "new"},
		{"removed", func(dir string) error { return os.Remove(filepath.Join(dir, "f")) }, "old"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, dir := newStore(t)
			p := filepath.Join(dir, "f")
			if err := os.WriteFile(p, []byte("old"), 0o644); err != nil {
				t.Fatal(err)
			}
			unlock := holdFlock(t, p)
			type res struct {
				b   []byte
				err error
			}
			done := make(chan res, 1)
			go func() {
				b, err := s.ReadFile("f", 100)
				done <- res{b, err}
			}()
			waitFlockWaiter(t, inode(t, p))
			err := tc.meanwhile(dir)
			unlock()
			if err != nil {
				t.Fatal(err)
			}
			r := <-done
			if r.err != nil || string(r.b) != tc.want {
				t.Errorf("read = %q, %v; want %q", r.b, r.err, tc.want)
			}
		})
	}
}

// TestMutSpare: once a file exists, each write goes into its spare, which
// trades places with it (the file's inode alternates between two); trusted
// names never have a spare; what is planted as a spare (a FIFO, a hard
// link) is removed; a spare replaced while a writer waits for its lock is
// the one the writer takes.
func TestMutSpare(t *testing.T) {
	defer func(d time.Duration) { SpareRest = d }(SpareRest)
	SpareRest = 0
	write := func(t *testing.T, s *Store, name, v string) {
		t.Helper()
		if err := s.WriteFile(name, []byte(v)); err != nil {
			t.Fatal(err)
		}
		if b, err := os.ReadFile(filepath.Join(s.dir, name)); err != nil || string(b) != v {
			t.Fatalf("%s = %q, %v; want %q", name, b, err, v)
		}
	}

	for _, name := range []string{"f", strings.Repeat("n", MaxName)} {
		t.Run("exchanged "+strconv.Itoa(len(name)), func(t *testing.T) {
			s, dir := newStore(t)
			f, spare := filepath.Join(dir, name), filepath.Join(dir, SparePrefix+name)
			write(t, s, name, "one")
			i1 := inode(t, f)
			write(t, s, name, "two")
			if inode(t, f) == i1 || inode(t, spare) != i1 {
				t.Errorf("second write: the file's former inode is not the spare")
			}
			i2 := inode(t, f)
			write(t, s, name, "three, longer")
			if inode(t, f) != i1 || inode(t, spare) != i2 {
				t.Errorf("third write: the file and its spare did not trade places")
			}
		})
	}
	t.Run("trusted", func(t *testing.T) {
		s, dir := newStore(t)
		s.Trusted = func(_, n string) bool { return n == "address" }
		for _, v := range []string{"a", "b", "c"} {
			write(t, s, "address", v)
		}
		if _, err := os.Lstat(filepath.Join(dir, SparePrefix+"address")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("a trusted name has a spare: %v", err)
		}
	})
	for _, kind := range []string{"fifo", "hardlink"} {
		t.Run("planted "+kind, func(t *testing.T) {
			s, dir := newStore(t)
			spare := filepath.Join(dir, SparePrefix+"f")
			victim := filepath.Join(dir, "victim")
			write(t, s, "f", "one")
			if err := os.WriteFile(victim, []byte("precious"), 0o600); err != nil {
				t.Fatal(err)
			}
			os.Remove(spare)
			var err error
			if kind == "fifo" {
				err = syscall.Mkfifo(spare, 0o600)
			} else {
				err = os.Link(victim, spare)
			}
			if err != nil {
				t.Fatal(err)
			}
			write(t, s, "f", "two")
			st, err := os.Lstat(spare)
			vst, _ := os.Lstat(victim)
			if err == nil && (!st.Mode().IsRegular() || os.SameFile(st, vst)) {
				t.Errorf("the planted %s is still the spare: %v", kind, st.Mode())
			}
		})
	}
	t.Run("replaced while waiting", func(t *testing.T) {
		s, dir := newStore(t)
		f, spare := filepath.Join(dir, "f"), filepath.Join(dir, SparePrefix+"f")
		write(t, s, "f", "one")
		write(t, s, "f", "two") // the spare exists: f's former inode
		unlock := holdFlock(t, spare)
		done := make(chan error, 1)
		go func() { done <- s.WriteFile("f", []byte("three")) }()
		waitFlockWaiter(t, inode(t, spare))
		planted := filepath.Join(dir, "planted")
		err := os.WriteFile(planted, []byte("planted"), 0o600)
		if err == nil {
			err = os.Rename(planted, spare)
		}
		pino := inode(t, spare)
		unlock()
		if err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(f); string(b) != "three" {
			t.Errorf("f = %q, want three", b)
		}
		if inode(t, f) != pino {
			t.Errorf("the writer did not take the new spare")
		}
	})
}

// TestMutKeepOwner: a file written over keeps its owner and group, whichever
// of them differs from the writer's (root may set both), with its mode.
func TestMutKeepOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give files to others")
	}
	defer func(d time.Duration) { SpareRest = d }(SpareRest)
	SpareRest = time.Hour // a new file renamed over the old one
	for _, tc := range []struct {
		name     string
		uid, gid int
	}{
		{"owner and group", 65534, 65534},
		{"owner", 65534, os.Getegid()},
		{"group", os.Geteuid(), 65534},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, dir := newStore(t)
			p := filepath.Join(dir, "f")
			if err := os.WriteFile(p, []byte("one"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(p, 0o640); err != nil {
				t.Fatal(err)
			}
			if err := os.Chown(p, tc.uid, tc.gid); err != nil {
				t.Fatal(err)
			}
			if err := s.WriteFile("f", []byte("two")); err != nil {
				t.Fatal(err)
			}
			st, err := os.Lstat(p)
			if err != nil {
				t.Fatal(err)
			}
			sys := st.Sys().(*syscall.Stat_t)
			if int(sys.Uid) != tc.uid || int(sys.Gid) != tc.gid || st.Mode().Perm() != 0o640 {
				t.Errorf("after the write: %d:%d %04o, want %d:%d 0640", sys.Uid, sys.Gid, st.Mode().Perm(), tc.uid, tc.gid)
			}
		})
	}
}

// TestMutTempNames: only names exactly like writeFile's temporary files
// (".~" and 16 hex digits) are swept, and only regular files.
func TestMutTempNames(t *testing.T) {
	for _, tc := range []struct {
		name string
		want bool
	}{
		{".~0123456789abcdef", true},
		{"xx0123456789abcdef", false},
		{".~abcd", false},
		{".~0123456789abcdeg", false},
		{".~0123456789abcdef0", false},
	} {
		if got := IsTemp(tc.name); got != tc.want {
			t.Errorf("IsTemp(%q) = %v, want %v", tc.name, got, tc.want)
		}
	}
	s, dir := newStore(t)
	past := time.Now().Add(-time.Hour)
	keep := []string{"xx0123456789abcdef", ".~abcd", ".~0123456789abcde0"}
	for i, n := range keep {
		p := filepath.Join(dir, n)
		var err error
		if i == 2 {
			err = os.Mkdir(p, 0o755) // a directory, not a temporary file
		} else {
			err = os.WriteFile(p, []byte("x"), 0o644)
		}
		if err == nil {
			err = os.Chtimes(p, past, past)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.ReadFiles(".", []string{"address"}, 100); err != nil {
		t.Fatal(err)
	}
	for _, n := range keep {
		if _, err := os.Lstat(filepath.Join(dir, n)); err != nil {
			t.Errorf("%s swept: %v", n, err)
		}
	}
}

// TestMutLockDir: lockDir holds an exclusive flock on the directory until
// it is let go.
func TestMutLockDir(t *testing.T) {
	s, dir := newStore(t)
	if err := os.Mkdir(filepath.Join(dir, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	unlock, err := s.LockDir("d")
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(dir, "d"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); !errors.Is(err, syscall.EWOULDBLOCK) {
		t.Errorf("flock while lockDir holds it: %v, want EWOULDBLOCK", err)
	}
	unlock()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Errorf("flock after lockDir let go: %v", err)
	}
}

// TestLockDirInProcess: two holders in one process (one kept descriptor,
// whose flock they share) exclude each other too, and the flock stays
// held for the second after the first lets go.
func TestLockDirInProcess(t *testing.T) {
	s, dir := newStore(t)
	if err := os.Mkdir(filepath.Join(dir, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	unlock, err := s.LockDir("d")
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan func(), 1)
	go func() {
		u, err := s.LockDir("d")
		if err != nil {
			t.Error(err)
		}
		got <- u
	}()
	select {
	case <-got:
		t.Fatal("a second holder in the process took the lock while the first held it")
	case <-time.After(100 * time.Millisecond):
	}
	unlock()
	second := <-got
	f, err := os.Open(filepath.Join(dir, "d"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); !errors.Is(err, syscall.EWOULDBLOCK) {
		t.Errorf("flock while the second holder holds it: %v, want EWOULDBLOCK", err)
	}
	second()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Errorf("flock after both let go: %v", err)
	}
}
