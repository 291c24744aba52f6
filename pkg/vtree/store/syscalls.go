package store

import (
	"io/fs"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The raw system calls, each retried on EINTR.

// openDirAt opens the directory name (one element) of the directory dfd,
// never through a symlink (ELOOP).
func openDirAt(dfd int, name string) (int, error) {
	for {
		fd, err := syscall.Openat(dfd, name, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0)
		if err != syscall.EINTR {
			return fd, err
		}
	}
}

// openAt opens the name (one element) of the directory dfd for reading,
// never through a symlink.
func openAt(dfd int, name string) (int, error) {
	return openFlags(dfd, name, syscall.O_RDONLY, 0)
}

// openFlags opens name of dfd with flag plus O_NOFOLLOW, O_NONBLOCK (a
// FIFO planted there cannot block it) and O_CLOEXEC. A name of several
// elements is opened through no symlink at all (openat2).
func openFlags(dfd int, name string, flag int, perm uint32) (int, error) {
	if strings.IndexByte(name, '/') >= 0 {
		return openBeneath(dfd, name, flag)
	}
	for {
		fd, err := syscall.Openat(dfd, name, flag|syscall.O_NOFOLLOW|syscall.O_CLOEXEC|syscall.O_NONBLOCK, perm)
		if err != syscall.EINTR {
			return fd, err
		}
	}
}

// lstatAt describes name of dfd without following a symlink.
func lstatAt(dfd int, name string) (*statInfo, error) {
	fi := &statInfo{name: name}
	for {
		// unix.Stat_t and syscall.Stat_t are the same kernel structure
		// (sizes checked below); the tree's callers know the latter.
		err := unix.Fstatat(dfd, name, (*unix.Stat_t)(unsafe.Pointer(&fi.st)), unix.AT_SYMLINK_NOFOLLOW)
		if err != syscall.EINTR {
			if err != nil {
				return nil, err
			}
			return fi, nil
		}
	}
}

// fstatFD describes the open descriptor fd, named name.
func fstatFD(fd int, name string) (*statInfo, error) {
	fi := &statInfo{name: name}
	if err := syscall.Fstat(fd, &fi.st); err != nil {
		return nil, err
	}
	return fi, nil
}

// The two stat structures are the same size (else this does not compile).
var (
	_ [unsafe.Sizeof(unix.Stat_t{}) - unsafe.Sizeof(syscall.Stat_t{})]byte
	_ [unsafe.Sizeof(syscall.Stat_t{}) - unsafe.Sizeof(unix.Stat_t{})]byte
)

// readFD reads the open regular file fd, whose size was size when it was
// stat'ed (-1: unknown), up to limit bytes. One read of one byte more than
// the size tells the end (a regular file reads short only there); a file
// that grew since is read on.
func readFD(fd int, size, limit int64) ([]byte, error) {
	if size < 0 {
		size = 4095
	}
	buf := make([]byte, max(min(size+1, limit), 1))
	n := 0
	for {
		m, err := syscall.Read(fd, buf[n:])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		n += m
		if m == 0 || n < len(buf) || int64(n) >= limit {
			return buf[:min(int64(n), limit)], nil
		}
		buf = append(buf, make([]byte, min(int64(len(buf)), limit-int64(n)))...)
	}
}

// writeFD writes all of data at the start of fd and cuts the file there.
func writeFD(fd int, data []byte) error { return writeOver(fd, data, -1) }

// writeOver is writeFD over a file of size bytes (-1: not known). The cut
// is needed only where the file was longer than data, or to update its
// time where data is empty (nothing written): a value replaced by one as
// long or longer (a spare of the same value, the steady state of a read
// again and again) saves the ftruncate, which cost as much CPU as the
// pwrite in a profile of a cat of 1000 VMs' states.
func writeOver(fd int, data []byte, size int64) error {
	for off := 0; off < len(data); {
		n, err := syscall.Pwrite(fd, data[off:], int64(off))
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		off += n
	}
	if len(data) > 0 && size >= 0 && size <= int64(len(data)) {
		return nil
	}
	for {
		err := syscall.Ftruncate(fd, int64(len(data)))
		if err != syscall.EINTR {
			return err
		}
	}
}

// statInfo is an fs.FileInfo of a raw stat; Sys is its *syscall.Stat_t.
type statInfo struct {
	name string
	st   syscall.Stat_t
}

func (fi *statInfo) Name() string       { return fi.name }
func (fi *statInfo) Size() int64        { return fi.st.Size }
func (fi *statInfo) Mode() fs.FileMode  { return ModeOf(fi.st.Mode) }
func (fi *statInfo) ModTime() time.Time { return time.Unix(fi.st.Mtim.Unix()) }
func (fi *statInfo) IsDir() bool        { return fi.Mode().IsDir() }
func (fi *statInfo) Sys() any           { return &fi.st }

// ModeOf is the fs.FileMode of a stat's st_mode, as os.Lstat gives it.
func ModeOf(m uint32) fs.FileMode {
	mode := fs.FileMode(m & 0o777)
	switch m & syscall.S_IFMT {
	case syscall.S_IFBLK:
		mode |= fs.ModeDevice
	case syscall.S_IFCHR:
		mode |= fs.ModeDevice | fs.ModeCharDevice
	case syscall.S_IFDIR:
		mode |= fs.ModeDir
	case syscall.S_IFIFO:
		mode |= fs.ModeNamedPipe
	case syscall.S_IFLNK:
		mode |= fs.ModeSymlink
	case syscall.S_IFSOCK:
		mode |= fs.ModeSocket
	}
	if m&syscall.S_ISGID != 0 {
		mode |= fs.ModeSetgid
	}
	if m&syscall.S_ISUID != 0 {
		mode |= fs.ModeSetuid
	}
	if m&syscall.S_ISVTX != 0 {
		mode |= fs.ModeSticky
	}
	return mode
}

// sameFile reports whether two stats describe the same inode.
func sameFile(a, b *syscall.Stat_t) bool { return a.Dev == b.Dev && a.Ino == b.Ino }
