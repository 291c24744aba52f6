package store

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func newStore(t *testing.T) (*Store, string) { return newStoreAt(t, t.TempDir()) }

// newStoreAt is a store of the directory dir, as another command would
// open it.
func newStoreAt(t *testing.T, dir string) (*Store, string) {
	r, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return &Store{root: r, dir: dir}, dir
}

// TestReplaceAtomic: writers replacing one file from two "processes" (two
// stores) while readers read it never produce a torn or mixed value: with
// rapid writes (the spare never rests: temp file and rename) for any
// reader, and with every write exchanging spares for smctl's readers.
func TestReplaceAtomic(t *testing.T) {
	t.Run("rename", func(t *testing.T) { testReplaceAtomic(t, false) })
	t.Run("exchange", func(t *testing.T) {
		defer func(d time.Duration) { SpareRest = d }(SpareRest)
		SpareRest = 0
		testReplaceAtomic(t, true)
	})
}

func testReplaceAtomic(t *testing.T, viaStore bool) {
	s1, dir := newStore(t)
	r2, _ := os.OpenRoot(dir)
	defer r2.Close()
	s2 := &Store{root: r2, dir: dir}
	values := map[string]bool{}
	var vs [][]byte
	for i := 0; i < 8; i++ {
		v := bytes.Repeat([]byte{byte('a' + i)}, 100+i*700) // sizes differ
		vs = append(vs, v)
		values[string(v)] = true
	}
	if err := s1.WriteFile("f", vs[0]); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	errs := make(chan error, 100)
	for w := 0; w < 4; w++ {
		s := s1
		if w%2 == 1 {
			s = s2
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				if err := s.WriteFile("f", vs[(w+i)%len(vs)]); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	readers := sync.WaitGroup{}
	readers.Add(1)
	go func() {
		defer readers.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			var b []byte
			var err error
			if viaStore {
				b, err = s1.ReadFile("f", 1<<20)
			} else {
				b, err = os.ReadFile(filepath.Join(dir, "f"))
			}
			if err != nil || !values[string(b)] {
				errs <- fmt.Errorf("read %d bytes (%v): not one of the values written", len(b), err)
				return
			}
		}
	}()
	wg.Wait()
	close(stop)
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	des, _ := os.ReadDir(dir)
	for _, de := range des {
		if n := de.Name(); n != "f" && n != SparePrefix+"f" {
			t.Errorf("left behind: %s", n)
		}
	}
}

func TestReplaceKeepsMode(t *testing.T) {
	s, dir := newStore(t)
	p := filepath.Join(dir, "f")
	if err := s.WriteFile("f", []byte("one\n")); err != nil {
		t.Fatal(err)
	}
	os.Chmod(p, 0o640)
	for _, v := range []string{"two\n", "three, longer\n", "4\n"} {
		if err := s.WriteFile("f", []byte(v)); err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(p)
		st, _ := os.Stat(p)
		if string(b) != v || st.Mode().Perm() != 0o640 {
			t.Errorf("after writing %q: %q mode %v", v, b, st.Mode().Perm())
		}
	}
}

func perm(t *testing.T, p string) os.FileMode {
	t.Helper()
	st, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode().Perm()
}
