package delegate

import (
	"errors"
	"io/fs"
	"os"
	"slices"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/smctl/smctl/pkg/vtree"
	"github.com/smctl/smctl/pkg/vtree/store"
)

// chmod sets the mode of the file open as fd, which may be an O_PATH
// descriptor: fchmodat2 with AT_EMPTY_PATH where the kernel has it, else
// through /proc/self/fd, as the C library does; neither follows a link.
func chmod(fd int, mode uint32) error {
	err := unix.Fchmod(fd, mode)
	if !errors.Is(err, unix.EBADF) {
		return err
	}
	err = unix.Fchmodat(fd, "", mode, unix.AT_EMPTY_PATH)
	if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EINVAL) {
		err = unix.Chmod("/proc/self/fd/"+strconv.Itoa(fd), mode)
	}
	return err
}

// openDir opens the directory name in dirfd, refusing a symbolic link.
func openDir(dirfd int, name string) (*os.File, error) {
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) {
			return nil, vtree.ErrNotDir
		}
		return nil, err
	}
	return os.NewFile(uintptr(fd), name), nil
}

func fstat(f *os.File) (*unix.Stat_t, error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return nil, err
	}
	return &st, nil
}

// perm returns the permission bits (rwx, 0-7) that apply to members of the
// group gid who do not own the file: the group's if the file is in gid,
// else others'.
func perm(st *unix.Stat_t, gid int) uint32 {
	return permOf(st.Mode, int(st.Gid), gid)
}

func permOf(mode uint32, fileGID, gid int) uint32 {
	if fileGID == gid {
		return mode >> 3 & 7
	}
	return mode & 7
}

// member reports whether the running user may give files to gid.
func member(gid int) bool {
	if os.Geteuid() == 0 || os.Getegid() == gid {
		return true
	}
	gs, _ := os.Getgroups()
	return slices.Contains(gs, gid)
}

// statMode is the type and permission bits of st as an fs.FileMode.
func statMode(st *unix.Stat_t) fs.FileMode {
	return modeOf(st.Mode&unix.S_IFMT, st.Mode&0o7777)
}

// modeOf converts a file type (S_IFMT bits) and permission bits (with
// setuid, setgid and sticky) to an fs.FileMode.
func modeOf(typ, perm uint32) fs.FileMode { return store.ModeOf(typ | perm&0o7777) }
