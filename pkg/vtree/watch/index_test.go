package watch

import (
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/smctl/smctl/pkg/fswatch"
	"github.com/smctl/smctl/pkg/vtree"
)

// The devices a change of a device index types: against what the index
// said when last read, else the lines appended since (all of a new one);
// a replaced index first seen, or a removed one, types none.
func TestIndexTyped(t *testing.T) {
	dir := t.TempDir()
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	file := filepath.Join(dir, vtree.IndexFile)
	stat := func() fswatch.Stat {
		var st syscall.Stat_t
		if err := syscall.Stat(file, &st); err != nil {
			return fswatch.Stat{}
		}
		return fswatch.Stat{Exists: true, Ino: st.Ino, Size: st.Size}
	}
	write := func(s string) {
		if err := os.WriteFile(file, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	appendLine := func(s string) {
		f, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString(s)
		f.Close()
	}
	replace := func(s string) {
		os.Remove(file)
		write(s)
	}
	check := func(idx indexes, old fswatch.Stat, want ...string) {
		t.Helper()
		got := idx.typed(root, fswatch.Change{Path: vtree.IndexFile, Old: old, New: stat()})
		if !slices.Equal(got, want) {
			t.Errorf("typed %q, want %q", got, want)
		}
	}

	idx := indexes{}
	write("# index\nn1 server\nn2 server\n")
	check(idx, fswatch.Stat{}, "n1", "n2") // new
	old := stat()
	appendLine("n3 server\n")
	check(idx, old, "n3") // known: compared
	old = stat()
	replace("n1 server\nn2 chassis\nn3 server\n")
	check(idx, old, "n2") // a type changed
	old = stat()
	replace("n1 server\nn3 server\n")
	check(idx, old) // a removal types nothing

	// First seen: what was appended since the watch's last look.
	idx = indexes{}
	old = stat()
	appendLine("n4 server\nn5 blade\n")
	check(idx, old, "n4", "n5")
	idx = indexes{}
	old = stat()
	replace("n1 server\nn9 server\n")
	check(idx, old) // replaced, unknown before: nothing to compare with
	idx = indexes{}
	old = fswatch.Stat{Exists: true, Ino: stat().Ino, Size: 5} // mid-line
	check(idx, old, "n1", "n9")
	os.Remove(file)
	check(idx, old)
	if _, ok := idx[vtree.IndexFile]; ok {
		t.Error("a removed index is still remembered")
	}

	// Not trusted, or not a regular file: types nothing, and a FIFO is not
	// waited on.
	write("n1 server\n")
	if err := os.Chmod(file, 0o666); err != nil {
		t.Fatal(err)
	}
	check(indexes{}, fswatch.Stat{})
	os.Remove(file)
	if err := syscall.Mkfifo(file, 0o644); err != nil {
		t.Fatal(err)
	}
	done := make(chan []string, 1)
	go func() {
		done <- indexes{}.typed(root, fswatch.Change{Path: vtree.IndexFile, New: fswatch.Stat{Exists: true}})
	}()
	select {
	case got := <-done:
		if got != nil {
			t.Errorf("a FIFO as the index typed %q", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("hung on a FIFO as the index")
	}
}
