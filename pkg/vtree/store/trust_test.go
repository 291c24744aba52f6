package store

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A planted hard link as the spare is never written through: the file it
// links to keeps its content, mode and owner.
func TestPlantedSpare(t *testing.T) {
	defer func(d time.Duration) { SpareRest = d }(SpareRest)
	SpareRest = 0
	for _, kind := range []string{"hardlink", "symlink", "fifo"} {
		t.Run(kind, func(t *testing.T) {
			s, dir := newStore(t)
			if err := s.WriteFile("f", []byte("one\n")); err != nil {
				t.Fatal(err)
			}
			victim := filepath.Join(dir, "victim")
			os.WriteFile(victim, []byte("precious\n"), 0o600)
			spare := filepath.Join(dir, SparePrefix+"f")
			os.Remove(spare)
			var err error
			switch kind {
			case "hardlink":
				err = os.Link(victim, spare)
			case "symlink":
				err = os.Symlink(victim, spare)
			case "fifo":
				err = syscall.Mkfifo(spare, 0o600)
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range []string{"two\n", "three\n"} {
				if err := s.WriteFile("f", []byte(v)); err != nil {
					t.Fatal(err)
				}
				if b, _ := os.ReadFile(filepath.Join(dir, "f")); string(b) != v {
					t.Fatalf("f = %q, want %q", b, v)
				}
			}
			if b, _ := os.ReadFile(victim); string(b) != "precious\n" || perm(t, victim) != 0o600 {
				t.Errorf("victim changed: %q %04o", b, perm(t, victim))
			}
		})
	}
}

// Temporary files of killed runs are swept by the next listing of their
// directory once they have rested; fresh ones are left to their writer.
func TestSweepTemps(t *testing.T) {
	s, dir := newStore(t)
	old := filepath.Join(dir, ".~0123456789abcdef")
	fresh := filepath.Join(dir, ".~fedcba9876543210")
	other := filepath.Join(dir, ".~notatempfile!!!")
	for _, p := range []string{old, fresh, other} {
		os.WriteFile(p, []byte("x"), 0o644)
	}
	past := time.Now().Add(-time.Hour)
	os.Chtimes(old, past, past)
	os.Chtimes(other, past, past)
	if _, err := s.ReadFiles(".", []string{"address"}, 100); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(old); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("old temp not swept: %v", err)
	}
	for _, p := range []string{fresh, other} {
		if _, err := os.Lstat(p); err != nil {
			t.Errorf("%s removed: %v", filepath.Base(p), err)
		}
	}
}

// A new file written over a planted symlink gets the mode of a new file,
// not the link's (0777) nor its target's, and the target is not touched.
func TestWriteOverSymlink(t *testing.T) {
	s, dir := newStore(t)
	target := filepath.Join(t.TempDir(), "target")
	os.WriteFile(target, []byte("keep\n"), 0o666)
	os.Chmod(target, 0o666)
	if err := os.Symlink(target, filepath.Join(dir, "f")); err != nil {
		t.Fatal(err)
	}
	if err := s.WriteFile("f", []byte("new\n")); err != nil {
		t.Fatal(err)
	}
	if m := perm(t, filepath.Join(dir, "f")); m != newFileMode.Perm() {
		t.Errorf("mode %04o, want a new file's %04o", m, newFileMode.Perm())
	}
	if b, _ := os.ReadFile(target); string(b) != "keep\n" {
		t.Errorf("symlink target changed: %q", b)
	}
}

// TestMutCreateLock: making a lock that exists already is not an error; one
// that is not a regular file is.
func TestMutCreateLock(t *testing.T) {
	s, dir := newStore(t)
	for i := 0; i < 2; i++ {
		if err := s.CreateLock(LockName); err != nil {
			t.Fatalf("createLock #%d: %v", i+1, err)
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, LockName)); err != nil || string(b) != "1\n" {
		t.Errorf("lock = %q, %v", b, err)
	}
	if err := os.Mkdir(filepath.Join(dir, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "d", LockName), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateLock("d/" + LockName); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("createLock over a directory: %v", err)
	}
}
