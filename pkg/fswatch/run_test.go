package fswatch

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// rawEvent encodes one inotify event as the kernel does.
func rawEvent(wd int32, mask uint32, name string) []byte {
	n := 0
	if name != "" {
		n = (len(name) + 16) / 16 * 16
	}
	b := make([]byte, unix.SizeofInotifyEvent+n)
	binary.NativeEndian.PutUint32(b[0:], uint32(wd))
	binary.NativeEndian.PutUint32(b[4:], mask)
	binary.NativeEndian.PutUint32(b[12:], uint32(n))
	copy(b[unix.SizeofInotifyEvent:], name)
	return b
}

func TestParse(t *testing.T) {
	var got []string
	buf := append(rawEvent(3, unix.IN_MOVED_TO, "power"), rawEvent(-1, unix.IN_Q_OVERFLOW, "")...)
	buf = append(buf, rawEvent(4, unix.IN_DELETE|unix.IN_ISDIR, strings.Repeat("n", 16))...)
	buf = append(buf, rawEvent(5, unix.IN_CLOSE_WRITE, "cut")[:20]...) // truncated: ignored
	parseEvents(buf, func(wd int32, mask uint32, name string) { got = append(got, fmt.Sprintf("%d %#x %s", wd, mask, name)) })
	want := []string{
		fmt.Sprintf("3 %#x power", unix.IN_MOVED_TO),
		fmt.Sprintf("-1 %#x ", unix.IN_Q_OVERFLOW),
		fmt.Sprintf("4 %#x %s", unix.IN_DELETE|unix.IN_ISDIR, strings.Repeat("n", 16)),
	}
	if !slices.Equal(got, want) {
		t.Errorf("parsed %q, want %q", got, want)
	}
}

// The handling of an overflow, on a watcher that is not running: the
// round says Lost and reports what the rescan found, once.
func TestOverflowHandling(t *testing.T) {
	dir := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(dir, "w/d"), 0o755))
	for _, f := range []string{"w/a", "w/b", "w/d/c"} {
		must(t, os.WriteFile(filepath.Join(dir, f), []byte("1"), 0o644))
	}
	root, err := os.OpenRoot(dir)
	must(t, err)
	defer root.Close()
	w, err := New(root, []string{"w"}, Options{})
	must(t, err)
	defer w.Close()
	if len(w.pending) != 0 {
		t.Fatalf("setting up reported %v", w.pending)
	}
	// Changed behind the watcher's back, with the events lost.
	must(t, os.WriteFile(filepath.Join(dir, "w/a"), []byte("22"), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "w/d/c"), []byte("22"), 0o644))
	var buf []byte
	buf = append(buf, rawEvent(w.dirs["w"].wd, unix.IN_CLOSE_WRITE, "b")...)
	buf = append(buf, rawEvent(-1, unix.IN_Q_OVERFLOW, "")...)
	parseEvents(buf, w.handle)
	if !w.lost {
		t.Fatal("overflow not noted")
	}
	b := w.reconcile()
	if got, want := shows(b.Changes), []string{"w/d/c changed", "w/a changed"}; !b.Lost || !slices.Equal(got, want) {
		t.Errorf("lost %v, changes %q; want lost, %q", b.Lost, got, want)
	}
	if w.lost || len(w.dirty) != 0 {
		t.Errorf("lost %v, dirty %v after the round", w.lost, w.dirty)
	}
	if b := w.reconcile(); b.Lost || len(b.Changes) != 0 {
		t.Errorf("a second round: %+v", b)
	}
}

// An overflow of the kernel's queue is reported, with what changed
// meanwhile. The watcher is kept from reading by a consumer that does not
// take its first batch, while the test makes more events than the queue
// holds.
func TestOverflow(t *testing.T) {
	b, err := os.ReadFile("/proc/sys/fs/inotify/max_queued_events")
	if err != nil {
		t.Skip(err)
	}
	max, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || max > 1<<20 {
		t.Skipf("max_queued_events %q", b)
	}
	dir := t.TempDir()
	must(t, os.Mkdir(filepath.Join(dir, "flood"), 0o755))
	x := start(t, dir, Options{}, "flood")
	// An event for a one-byte name takes 32 bytes; the watcher reads at
	// most 1+maxDrain buffers before it blocks on its first batch.
	n := max + (1+maxDrain)*readBuf/32 + 1000
	x.write("flood/a", "")
	x.write("flood/b", "")
	x.settle()
	for i := 0; i < n; i++ {
		// Alternate, or the kernel merges the repeated event.
		fd, err := unix.Open(x.path("flood/"+[]string{"a", "b"}[i%2]), unix.O_WRONLY|unix.O_APPEND|unix.O_CLOEXEC, 0)
		must(t, err)
		_, err = unix.Write(fd, []byte{'x'})
		must(t, err)
		unix.Close(fd)
	}
	deadline := time.After(timeout)
	for lost := false; !lost; {
		select {
		case b := <-x.ch:
			lost = b.Lost
			if !lost {
				continue
			}
			// The rescan compares with the last state seen: at most
			// one change each.
			got := shows(b.Changes)
			for i, s := range got {
				if s != "flood/a changed" && s != "flood/b changed" || slices.Contains(got[:i], s) {
					t.Errorf("lost, then %q", got)
					break
				}
			}
		case <-deadline:
			t.Fatal("no overflow reported")
		}
	}
	if cs := x.settle(); len(cs) != 0 {
		t.Errorf("after lost: %q", shows(cs))
	}
}

// A busy directory is left for later and looked at again, with a backoff,
// without another event; other directories are reported meanwhile.
func TestBusy(t *testing.T) {
	dir := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(dir, "w/free"), 0o755))
	fi, err := os.Stat(filepath.Join(dir, "w"))
	must(t, err)
	var busyIno atomic.Uint64
	var asked atomic.Int32
	root, err := os.OpenRoot(dir)
	must(t, err)
	defer root.Close()
	w, err := New(root, []string{"w"}, Options{Busy: func(d *os.File) bool {
		fi, err := d.Stat()
		if err != nil || inoOf(fi) != busyIno.Load() {
			return false
		}
		asked.Add(1)
		return true
	}})
	must(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan Batch)
	go func() {
		defer close(ch)
		_ = w.Run(ctx, func(b Batch) {
			select {
			case ch <- b:
			case <-ctx.Done():
			}
		})
	}()
	defer func() {
		cancel()
		for range ch {
		}
	}()
	next := func() Batch {
		t.Helper()
		select {
		case b := <-ch:
			return b
		case <-time.After(timeout):
			t.Fatal("no round")
		}
		panic("unreachable")
	}
	busyIno.Store(inoOf(fi))
	must(t, os.WriteFile(filepath.Join(dir, "w/f"), []byte("1"), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "w/free/g"), []byte("1"), 0o644))
	var got []string
	for asked.Load() < 3 || !slices.Contains(got, "w/free/g created") {
		b := next()
		got = append(got, shows(b.Changes)...)
		if len(b.Busy) > 0 && !slices.Equal(b.Busy, []string{"w"}) {
			t.Fatalf("busy %q", b.Busy)
		}
	}
	if !slices.Equal(got, []string{"w/free/g created"}) {
		t.Errorf("changes while busy: %q", got)
	}
	busyIno.Store(0)
	for got = nil; len(got) == 0; {
		got = shows(next().Changes)
	}
	if !slices.Equal(got, []string{"w/f created"}) {
		t.Errorf("changes once free: %q", got)
	}
	if w.backoff != 0 {
		t.Errorf("backoff %v once free", w.backoff)
	}
}

// Closing the root under a watcher ends it, saying so.
func TestRootClosed(t *testing.T) {
	dir := t.TempDir()
	must(t, os.Mkdir(filepath.Join(dir, "w"), 0o755))
	root, err := os.OpenRoot(dir)
	must(t, err)
	w, err := New(root, []string{"w"}, Options{})
	must(t, err)
	done := make(chan error, 1)
	go func() { done <- w.Run(context.Background(), func(Batch) {}) }()
	must(t, root.Close())
	must(t, os.WriteFile(filepath.Join(dir, "w/f"), nil, 0o644))
	select {
	case err := <-done:
		if !errors.Is(err, ErrRootClosed) {
			t.Errorf("Run = %v, want %v", err, ErrRootClosed)
		}
	case <-time.After(timeout):
		t.Fatal("Run did not end")
	}
}

// Ending the context, even with a batch not taken, or closing the
// watcher, ends Run and leaves neither goroutine nor inotify descriptor
// behind.
func TestCancel(t *testing.T) {
	dir := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(dir, "w/d"), 0o755))
	root, err := os.OpenRoot(dir)
	must(t, err)
	defer root.Close()
	fds, stacks := inotifyFDs(t), goroutines()
	if stacks != "" {
		t.Fatalf("watch goroutines before the test:\n%s", stacks)
	}
	for _, how := range []string{"taken", "not taken", "closed", "never run"} {
		w, err := New(root, []string{"w"}, Options{})
		must(t, err)
		if got := inotifyFDs(t); got != fds+1 {
			t.Errorf("%s: %d inotify descriptors, want %d", how, got, fds+1)
		}
		if how == "never run" {
			must(t, w.Close())
			continue
		}
		ctx, cancel := context.WithCancel(context.Background())
		ch := make(chan Batch)
		done := make(chan error, 1)
		go func() {
			done <- w.Run(ctx, func(b Batch) {
				select {
				case ch <- b:
				case <-ctx.Done():
				}
			})
		}()
		must(t, os.WriteFile(filepath.Join(dir, "w/d/f"), []byte(how), 0o644))
		if how == "taken" {
			<-ch
		}
		if how == "closed" {
			must(t, w.Close())
		}
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("%s: Run = %v", how, err)
			}
		case <-time.After(timeout):
			t.Fatalf("%s: Run did not end", how)
		}
	}
	deadline := time.Now().Add(timeout)
	for goroutines() != "" && time.Now().Before(deadline) {
		runtime.Gosched()
	}
	if s := goroutines(); s != "" {
		t.Errorf("goroutines left:\n%s", s)
	}
	if got := inotifyFDs(t); got != fds {
		t.Errorf("%d inotify descriptors left, want %d", got, fds)
	}
}

// goroutines returns the stacks of goroutines in this package's code.
func goroutines() string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "fswatch.(*Watcher)") || strings.Contains(g, "fswatch.TestCancel.func") {
			out = append(out, g)
		}
	}
	return strings.Join(out, "\n\n")
}

func inotifyFDs(t *testing.T) int {
	t.Helper()
	des, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip(err)
	}
	n := 0
	for _, de := range des {
		if l, err := os.Readlink("/proc/self/fd/" + de.Name()); err == nil && l == "anon_inode:inotify" {
			n++
		}
	}
	return n
}
