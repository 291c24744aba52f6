package transport

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestLocal(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "b"), []byte("0123456789"), 0o644)
	os.Mkdir(filepath.Join(dir, "a"), 0o755)
	os.Symlink("a", filepath.Join(dir, "c"))
	var l Local
	es, err := l.ReadDir(ctx, dir)
	if err != nil || len(es) != 3 || es[0].Name != "a" || !es[0].Mode.IsDir() || es[2].Mode&fs.ModeSymlink == 0 {
		t.Fatalf("ReadDir = %+v, %v", es, err)
	}
	if b, err := l.ReadFile(ctx, filepath.Join(dir, "b"), 10); err != nil || string(b) != "0123456789" {
		t.Errorf("ReadFile = %q, %v", b, err)
	}
	if _, err := l.ReadFile(ctx, filepath.Join(dir, "b"), 9); !errors.Is(err, ErrTooLarge) {
		t.Errorf("ReadFile past the cap: %v", err)
	}
	if _, err := l.ReadFile(ctx, filepath.Join(dir, "a"), 9); err == nil {
		t.Error("ReadFile of a directory succeeded")
	}
	if e, err := l.Stat(ctx, filepath.Join(dir, "c")); err != nil || e.Mode&fs.ModeSymlink == 0 {
		t.Errorf("Stat does not follow a final symlink: %+v %v", e, err)
	}
	out, err := l.Exec(ctx, "cat; echo err >&2; exit 5", []byte("in\n"), 100)
	if err != nil || string(out.Stdout) != "in\n" || string(out.Stderr) != "err\n" || out.Exit != 5 {
		t.Errorf("Exec = %+v, %v", out, err)
	}
}
