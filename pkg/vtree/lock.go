package vtree

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"syscall"

	"github.com/smctl/smctl/pkg/vtree/store"
)

// lockError is a failure to take a lock file: the status names the lock,
// not the agent.
type lockError struct{ err error }

func (e *lockError) Error() string { return e.err.Error() }
func (e *lockError) Unwrap() error { return e.err }

// acquireLocks takes, root first, the flock of every lock file in the
// directories from the root down to n's directory, waiting at most until
// ctx ends. With belowRoot, the root directory's lock is left out: it is
// held by the run of /discover_master that a container's discovery runs
// within (RunDiscovery).
func (t *Tree) acquireLocks(ctx context.Context, n *node, belowRoot bool) (func(), error) {
	var dirs []string
	dir, _ := store.SplitRel(n.rel)
	for {
		dirs = append(dirs, dir)
		if dir == "." {
			break
		}
		dir, _ = store.SplitRel(dir)
	}
	var files []*os.File
	unlock := func() {
		for i := len(files) - 1; i >= 0; i-- {
			_ = syscall.Flock(int(files[i].Fd()), syscall.LOCK_UN)
			files[i].Close()
		}
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		lockRel := store.JoinRel(dirs[i], LockName)
		if belowRoot && dirs[i] == "." {
			continue
		}
		if !t.store.HasFile(dirs[i], LockName) {
			continue
		}
		// Taken on a descriptor open for writing: a user who may only
		// read the lock file may not act under it, so cannot hold it and
		// block everyone else's runs.
		f, err := t.store.Root().OpenFile(lockRel, os.O_WRONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0) // a FIFO: ENXIO, no wait
		if err != nil {
			unlock()
			if errors.Is(err, fs.ErrPermission) {
				return nil, &lockError{fmt.Errorf("lock /%s: %w: only users who may write a lock act under it", strings.TrimPrefix(lockRel, "./"), fs.ErrPermission)}
			}
			return nil, &lockError{fmt.Errorf("lock /%s: %w", strings.TrimPrefix(lockRel, "./"), unwrapPath(err))}
		}
		if err := store.FlockWait(ctx, f); err != nil {
			f.Close()
			unlock()
			return nil, &lockError{fmt.Errorf("waiting for lock /%s: %w after %s", lockRel, err, t.timeout)}
		}
		files = append(files, f)
	}
	return unlock, nil
}
