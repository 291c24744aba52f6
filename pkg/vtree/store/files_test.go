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
}
