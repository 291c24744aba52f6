package store

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestHasFile checks that HasFile answers for regular files only, never
// through a symlink, once per command, and that ForgetFile, ForgetDirs
// and ForgetAllDirs drop the answers they concern.
func TestHasFile(t *testing.T) {
	s, dir := newStore(t)
	os.MkdirAll(filepath.Join(dir, "d", "sub"), 0o755)
	os.WriteFile(filepath.Join(dir, "d", "lock"), nil, 0o644)
	os.WriteFile(filepath.Join(dir, "elsewhere"), nil, 0o644)
	os.Symlink("../elsewhere", filepath.Join(dir, "d", "ids"))
	syscall.Mkfifo(filepath.Join(dir, "d", "fifo"), 0o644)
	for name, want := range map[string]bool{"lock": true, "ids": false, "fifo": false, "sub": false, "none": false} {
		if got := s.HasFile("d", name); got != want {
			t.Errorf("HasFile(d, %s) = %v, want %v", name, got, want)
		}
	}
	if !s.HasFile(".", "elsewhere") {
		t.Error("HasFile at the top of the store: false")
	}
	// Answers last until forgotten.
	os.WriteFile(filepath.Join(dir, "d", "none"), nil, 0o644)
	os.WriteFile(filepath.Join(dir, "d", "sub", "f"), nil, 0o644)
	if s.HasFile("d", "none") {
		t.Error("HasFile asked the file system again")
	}
	s.ForgetFile("d/none")
	if !s.HasFile("d", "none") {
		t.Error("HasFile after ForgetFile: false")
	}
	os.Remove(filepath.Join(dir, "d", "lock"))
	os.Remove(filepath.Join(dir, "elsewhere"))
	s.HasFile("d/sub", "g")
	os.WriteFile(filepath.Join(dir, "d", "sub", "g"), nil, 0o644)
	s.ForgetDirs("d/sub")
	if !s.HasFile("d/sub", "g") || !s.HasFile("d", "lock") {
		t.Error("ForgetDirs(d/sub) dropped too little (d/sub/g) or too much (d/lock)")
	}
	s.ForgetDirs("d")
	if s.HasFile("d", "lock") || !s.HasFile(".", "elsewhere") {
		t.Error("ForgetDirs(d) dropped too little (d/lock) or too much (elsewhere)")
	}
	s.ForgetAllDirs()
	if s.HasFile(".", "elsewhere") {
		t.Error("ForgetAllDirs kept an answer")
	}
	os.WriteFile(filepath.Join(dir, "elsewhere"), nil, 0o644)
	s.ForgetDirs(".")
	if !s.HasFile(".", "elsewhere") {
		t.Error("ForgetDirs(.) kept an answer")
	}
}

// TestNoteFiles: reading a device's attributes answers HasFile for its
// lock and ids files from the same listing (a regular file only), and
// leaves an answer already known alone.
func TestNoteFiles(t *testing.T) {
	s, dir := newStore(t)
	d := filepath.Join(dir, "dev")
	os.MkdirAll(d, 0o755)
	os.WriteFile(filepath.Join(d, "address"), []byte("n1\n"), 0o644)
	os.WriteFile(filepath.Join(d, LockName), nil, 0o644)
	os.Symlink("address", filepath.Join(d, IDsName))
	os.MkdirAll(filepath.Join(dir, "other"), 0o755)
	if s.HasFile("other", LockName) {
		t.Fatal("other/lock: true")
	}
	os.WriteFile(filepath.Join(dir, "other", LockName), nil, 0o644)
	if _, err := s.ReadFiles("dev", []string{"address"}, 100); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "other", IDsName), nil, 0o600)
	if _, err := s.ReadFiles("other", []string{"address"}, 100); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, "other", IDsName))
	if !s.HasFile("other", IDsName) {
		t.Error("other/ids, listed after other/lock was known: not noted")
	}
	// Gone since the listing: the listing's answers stand for the command.
	os.Remove(filepath.Join(d, LockName))
	os.Remove(filepath.Join(d, IDsName))
	os.WriteFile(filepath.Join(d, IDsName), nil, 0o600)
	if !s.HasFile("dev", LockName) || s.HasFile("dev", IDsName) {
		t.Errorf("HasFile after the listing: lock %v (want true), ids %v (a symlink: want false)", s.HasFile("dev", LockName), s.HasFile("dev", IDsName))
	}
	if s.HasFile("other", LockName) {
		t.Error("the listing replaced an answer already known")
	}
}

// TestHold: Hold keeps a file's directory open and in use until let go;
// a missing one is nothing to hold.
func TestHold(t *testing.T) {
	s, dir := newStore(t)
	os.MkdirAll(filepath.Join(dir, "a"), 0o755)
	release := s.Hold("a/x")
	if e := s.dirs["a"]; e == nil || e.users != 1 {
		t.Fatalf("held: %+v", e)
	}
	release()
	if e := s.dirs["a"]; e == nil || e.users != 0 {
		t.Errorf("let go: %+v", e)
	}
	s.Hold("none/x")()
}
