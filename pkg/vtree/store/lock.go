package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// createLock creates an empty-valued lock file unless it exists. It is never
// replaced afterwards: flock locks belong to the inode. It is private to
// its owner (0600): any user who could open it could flock it and block
// every run under it (smctl delegate gives a group read and write).
func (s *Store) CreateLock(rel string) error {
	f, err := s.root.OpenFile(rel, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		st, serr := s.root.Lstat(rel)
		if serr == nil && !st.Mode().IsRegular() {
			return fmt.Errorf("%s exists and is not a regular file", rel)
		}
		return nil
	}
	if err != nil {
		return err
	}
	_, err = f.Write([]byte("1\n"))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// SetLock creates the lock file rel (on: CreateLock) or removes it; a
// lock file is never replaced, since flock locks belong to its inode.
func (s *Store) SetLock(rel string, on bool) error {
	if on {
		return s.CreateLock(rel)
	}
	if err := s.root.Remove(rel); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// FlockWait takes an exclusive flock on f, polling until ctx ends.
func FlockWait(ctx context.Context, f *os.File) error {
	delay := time.Millisecond
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			return err
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return errors.New("timed out")
			}
			return ctx.Err()
		case <-time.After(delay):
		}
		if delay < 50*time.Millisecond {
			delay *= 2
		}
	}
}

// CheckWritable fails with fs.ErrPermission unless the current user may
// write the file rel, or create it in its directory when it does not
// exist (access(2) with the real IDs, as the file system judges them).
func (s *Store) CheckWritable(rel string, exists bool) error {
	dir, name := SplitRel(rel)
	if !exists {
		dir, name = SplitRel(dir)
	}
	if rel == "." || rel == "" || !exists && (dir == "." && name == ".") {
		dir, name = ".", "."
	}
	// Relative to the kept directory: no walk from the root per file.
	d, release, err := s.openDir(dir)
	if err != nil {
		return err
	}
	defer release()
	if err := unix.Faccessat(d.fd, name, unix.W_OK, 0); err != nil {
		if errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EROFS) {
			return fs.ErrPermission
		}
		return err
	}
	return nil
}

// euid and egid are the process's effective IDs, asked once: the store
// compares them with owners for every file it replaces, and smctl never
// changes them (each is a system call in Go).
var (
	euid = sync.OnceValue(os.Geteuid)
	egid = sync.OnceValue(os.Getegid)
)
