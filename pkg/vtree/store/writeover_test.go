package store

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestWriteOver: a file written over holds exactly the new data, whether
// it was longer (cut), as long or shorter (not cut), or of a size not
// known (cut); and its time moves even when nothing is written.
func TestWriteOver(t *testing.T) {
	for _, tt := range []struct {
		name, old, data string
		known           bool // the old size is given (else -1)
	}{
		{name: "longer before", old: "shut off (destroyed)\n", data: "running (booted)\n", known: true},
		{name: "longer before, size not known", old: "shut off (destroyed)\n", data: "running (booted)\n"},
		{name: "as long", old: "running (booted)\n", data: "running (paused)\n", known: true},
		{name: "shorter before", old: "on\n", data: "running (booted)\n", known: true},
		{name: "empty before", old: "", data: "on\n", known: true},
		{name: "emptied", old: "on\n", data: "", known: true},
		{name: "empty again", old: "", data: "", known: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "f")
			if err := os.WriteFile(file, []byte(tt.old), 0o644); err != nil {
				t.Fatal(err)
			}
			past := time.Now().Add(-time.Hour)
			if err := os.Chtimes(file, past, past); err != nil {
				t.Fatal(err)
			}
			fd, err := syscall.Open(file, syscall.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			size := int64(-1)
			if tt.known {
				size = int64(len(tt.old))
			}
			err = writeOver(fd, []byte(tt.data), size)
			syscall.Close(fd)
			if err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(file)
			if err != nil || string(b) != tt.data {
				t.Errorf("holds %q (%v); want %q", b, err, tt.data)
			}
			if fi, err := os.Stat(file); err != nil || !fi.ModTime().After(past.Add(time.Minute)) {
				t.Errorf("time %v (%v): not updated", fi.ModTime(), err)
			}
		})
	}
}

// TestExchangeLengths: a file replaced through its spare (the steady
// state of a value read again and again) by values longer, shorter and as
// long as the spare's holds each value exactly.
func TestExchangeLengths(t *testing.T) {
	defer func(d time.Duration) { SpareRest = d }(SpareRest)
	SpareRest = 0
	s, dir := newStore(t)
	for i, v := range []string{"running (booted)\n", "shut off (destroyed)\n", "running (booted)\n", "on\n", "on\n",
		"", "paused (user)\n", "", "", strings.Repeat("x", 5000), "off\n", "shut off (destroyed)\n"} {
		if err := s.WriteFile("f", []byte(v)); err != nil {
			t.Fatal(err)
		}
		if b, err := os.ReadFile(filepath.Join(dir, "f")); err != nil || string(b) != v {
			t.Fatalf("write %d: holds %q (%v); want %q", i, b, err, v)
		}
	}
	if _, err := os.Lstat(filepath.Join(dir, SparePrefix+"f")); err != nil {
		t.Errorf("no spare: the writes did not exchange (%v)", err)
	}
}
