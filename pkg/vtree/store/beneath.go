package store

import (
	"strings"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// beneath is whether openat2 works here (Linux 5.6 and later, unless a
// seccomp filter refuses it): readBeneath is not tried once it did not.
var beneath atomic.Bool

func init() { beneath.Store(true) }

// openBeneath opens the relative path name (several elements, no "..")
// of the directory dfd with flag (read-only, not creating), following no
// symlink on the way or at its end (ELOOP), never leaving dfd.
func openBeneath(dfd int, name string, flag int) (int, error) {
	if strings.Contains("/"+name+"/", "/../") {
		return -1, syscall.EINVAL
	}
	how := &unix.OpenHow{
		Flags:   uint64(flag | unix.O_NOFOLLOW | unix.O_CLOEXEC | unix.O_NONBLOCK),
		Resolve: unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_BENEATH,
	}
	for try := 0; ; try++ {
		fd, err := unix.Openat2(dfd, name, how)
		switch {
		case err == syscall.EINTR, err == syscall.EAGAIN && try < 3: // EAGAIN: a rename raced the lookup
			continue
		case err == syscall.ENOSYS, err == syscall.EPERM:
			// No openat2 (ENOSYS), or a filter refusing it (EPERM, which
			// an open for reading does not otherwise give).
			beneath.Store(false)
		}
		return fd, err
	}
}
