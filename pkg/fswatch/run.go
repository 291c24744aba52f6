package fswatch

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// Run reads the kernel's events until ctx ends (or Close is called) and
// calls fn after each round with what it found: an empty Batch when
// nothing changed (a round for a busy directory), the errors found while
// New set up, if any, first. fn runs in Run's goroutine, so while it does
// not return the kernel queues what happens, until its queue overflows
// (Batch.Lost).
//
// Run closes the watcher when it returns, leaving no goroutine behind. It
// returns nil when ctx ended or Close was called; ErrRootClosed, after the
// round that found it, when the root was closed; or the error reading
// inotify. Run may be called once.
func (w *Watcher) Run(ctx context.Context, fn func(Batch)) error {
	defer w.Close()
	stop := context.AfterFunc(ctx, func() { w.Close() }) // wakes the read below
	defer stop()
	if len(w.pending) > 0 {
		fn(Batch{Changes: w.pending})
	}
	w.pending = nil
	buf := make([]byte, readBuf)
	for {
		if ctx.Err() != nil || w.closed.Load() {
			return nil
		}
		// Busy directories are looked at again after a while; otherwise
		// the read waits for the kernel.
		var deadline time.Time
		if len(w.dirty) > 0 {
			deadline = time.Now().Add(w.backoff)
		}
		_ = w.f.SetReadDeadline(deadline)
		n, err := w.read(buf, true)
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			if ctx.Err() != nil || w.closed.Load() {
				return nil
			}
			return err
		}
		parseEvents(buf[:n], w.handle)
		_ = w.f.SetReadDeadline(time.Time{})
		for i := 0; i < maxDrain; i++ {
			n, err := w.read(buf, false)
			if err != nil || n == 0 {
				break
			}
			parseEvents(buf[:n], w.handle)
		}
		fn(w.reconcile())
		if w.ended != nil && ctx.Err() == nil && !w.closed.Load() {
			return w.ended
		}
	}
}

// read reads the inotify descriptor, waiting for events if wait is set
// (until the read deadline); without, it returns 0 when none is queued.
func (w *Watcher) read(buf []byte, wait bool) (int, error) {
	var n int
	var rerr error
	err := w.rc.Read(func(fd uintptr) bool {
		for {
			n, rerr = unix.Read(int(fd), buf)
			if rerr != unix.EINTR {
				break
			}
		}
		return !(wait && rerr == unix.EAGAIN)
	})
	if err != nil {
		return 0, err
	}
	if rerr == unix.EAGAIN {
		return 0, nil
	}
	if rerr != nil {
		return 0, os.NewSyscallError("read inotify", rerr)
	}
	return n, nil
}

// parseEvents calls fn for each inotify event in buf; a truncated one at
// the end is ignored.
func parseEvents(buf []byte, fn func(wd int32, mask uint32, name string)) {
	for len(buf) >= unix.SizeofInotifyEvent {
		wd := int32(binary.NativeEndian.Uint32(buf[0:]))
		mask := binary.NativeEndian.Uint32(buf[4:])
		end := unix.SizeofInotifyEvent + int(binary.NativeEndian.Uint32(buf[12:]))
		if end > len(buf) {
			return
		}
		name := buf[unix.SizeofInotifyEvent:end]
		if i := bytes.IndexByte(name, 0); i >= 0 {
			name = name[:i]
		}
		fn(wd, mask, string(name))
		buf = buf[end:]
	}
}

// handle notes what one inotify event says is to be looked at.
func (w *Watcher) handle(wd int32, mask uint32, name string) {
	if mask&unix.IN_Q_OVERFLOW != 0 {
		w.lost = true
		return
	}
	d := w.wds[wd]
	if d == nil {
		return // a watch already dropped
	}
	switch {
	case mask&(unix.IN_IGNORED|unix.IN_DELETE_SELF|unix.IN_UNMOUNT) != 0:
		d.dead = true
		if mask&unix.IN_IGNORED != 0 {
			// The kernel dropped the watch: its number is not ours to
			// remove any more.
			delete(w.wds, wd)
			d.wd = -1
		}
		w.mark(d.rel, false).self = true
	case mask&unix.IN_MOVE_SELF != 0 || name == "":
		w.mark(d.rel, false).self = true
	case mask&unix.IN_CREATE != 0 && mask&unix.IN_ISDIR == 0:
		// A file being created: it counts once written and closed.
	case w.ignore(name):
		// Renaming one over a name or exchanging it with one names the
		// other as well.
	default:
		w.mark(d.rel, false).names[name] = true
	}
}

// mark returns what is to be looked at again in the directory rel.
func (w *Watcher) mark(rel string, quiet bool) *dirtyDir {
	dd := w.dirty[rel]
	if dd == nil {
		dd = &dirtyDir{names: map[string]bool{}, quiet: quiet}
		w.dirty[rel] = dd
	}
	dd.quiet = dd.quiet && quiet
	return dd
}
