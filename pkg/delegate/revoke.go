package delegate

import (
	"crypto/rand"
	"encoding/hex"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/smctl/smctl/pkg/vtree"
)

// revokeWalk takes group write away at and below the open directory dir
// (virtual path vp, backing path file): from every directory whose group
// is the delegated one, and in those, from the acting and status files,
// taking back the ones members own; see the package comment on revoking.
// It enters only directories that root or the running user own.
func (w *walker) revokeWalk(dir *os.File, vp, file string) error {
	if err := w.ctx.Err(); err != nil {
		return err
	}
	st, err := fstat(dir)
	if err != nil {
		w.out = append(w.out, Change{Kind: Skip, Path: vp, File: file, Dir: true, Err: err})
		return nil
	}
	given := int(st.Gid) == w.d.GID
	if given {
		w.apply(int(dir.Fd()), vp, file, st, true)
	}
	ents, err := dir.ReadDir(-1)
	if err != nil {
		w.out = append(w.out, Change{Kind: Skip, Path: vp, File: file, Dir: true, Err: err})
		return nil
	}
	slices.SortFunc(ents, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	for _, e := range ents {
		name := e.Name()
		if given && !strings.HasPrefix(name, ".~") { // not smctl's temporary files and spares
			w.revokeEntry(dir, join(vp, name), filepath.Join(file, name), name)
		}
	}
	for _, e := range ents {
		name := e.Name()
		if !e.IsDir() || strings.HasPrefix(name, ".") {
			continue
		}
		sub, err := openDir(int(dir.Fd()), name)
		if err != nil {
			continue // gone, or not a directory any more
		}
		if sst, err := fstat(sub); err == nil && (sst.Uid == 0 || int(sst.Uid) == w.euid) {
			err = w.revokeWalk(sub, join(vp, name), filepath.Join(file, name))
		}
		sub.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// revokeEntry revokes group write on the entry name of a directory the
// group could write: an acting or status file loses group write, or is
// taken back if a member owns it; anything else a member owns is noted.
func (w *walker) revokeEntry(dir *os.File, vp, file, name string) {
	fd, err := unix.Openat(int(dir.Fd()), name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return // gone meanwhile
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return
	}
	mine := st.Uid == 0 || int(st.Uid) == w.euid
	regular := st.Mode&unix.S_IFMT == unix.S_IFREG && st.Nlink == 1
	switch {
	case !w.revokeNames()[name]:
		if !mine {
			w.out = append(w.out, Change{Kind: Stray, Path: vp, File: file, Dir: st.Mode&unix.S_IFMT == unix.S_IFDIR,
				UID: int(st.Uid), OldGID: int(st.Gid), GID: int(st.Gid), OldMode: statMode(&st), Mode: statMode(&st)})
		}
	case !mine:
		w.reclaim(dir, fd, vp, file, name, &st)
	case regular:
		w.apply(fd, vp, file, &st, false)
	}
}

// revokeNames are the names of acting and status files in devices of any
// declared type, and lock: those to take back in a directory the group
// could write, whatever its .type says now.
func (w *walker) revokeNames() map[string]bool {
	if w.acting != nil {
		return w.acting
	}
	w.acting = map[string]bool{vtree.LockName: true}
	for typ := range w.t.Config.Types {
		acting, _ := actingFiles(w.t, typ)
		for _, a := range acting {
			w.acting[a], w.acting[a+vtree.StatusSuffix], w.acting[a+vtree.StderrSuffix] = true, true, true
		}
	}
	return w.acting
}

// reclaim replaces the file name, which a member owns (open as the O_PATH
// descriptor fd, described by st), by a copy the running user owns, in the
// same group, without group or other write, keeping its times. What is not
// a regular file is replaced by an empty one.
func (w *walker) reclaim(dir *os.File, fd int, vp, file, name string, st *unix.Stat_t) {
	mode := st.Mode & 0o777 &^ 0o022
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		mode = uint32(vtree.NewFileMode().Perm()) &^ 0o022
	}
	c := Change{Kind: Reclaim, Path: vp, File: file, OldUID: int(st.Uid), UID: w.euid,
		OldGID: int(st.Gid), GID: int(st.Gid), OldMode: statMode(st), Mode: modeOf(unix.S_IFREG, mode)}
	c.Err = copyOver(int(dir.Fd()), fd, name, st, mode)
	w.out = append(w.out, c)
}

// copyOver writes a copy of the file open as fd (if regular) to a hidden
// temporary file of directory dirfd with the given mode, group and times of
// st, and renames it over name.
func copyOver(dirfd, fd int, name string, st *unix.Stat_t, mode uint32) error {
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	tmp := ".~" + hex.EncodeToString(rnd[:])
	dfd, err := unix.Openat(dirfd, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return err
	}
	dst := os.NewFile(uintptr(dfd), tmp)
	err = func() error {
		if st.Mode&unix.S_IFMT == unix.S_IFREG {
			sfd, err := unix.Open("/proc/self/fd/"+strconv.Itoa(fd), unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
			if err != nil {
				return err
			}
			src := os.NewFile(uintptr(sfd), name)
			defer src.Close()
			if _, err := io.Copy(dst, src); err != nil {
				return err
			}
		}
		if err := unix.Fchown(dfd, -1, int(st.Gid)); err != nil {
			return err
		}
		if err := unix.Fchmod(dfd, mode); err != nil {
			return err
		}
		ts := []unix.Timespec{st.Atim, st.Mtim}
		if st.Mode&unix.S_IFMT != unix.S_IFREG {
			ts = []unix.Timespec{{}, {}}
		}
		if err := unix.UtimesNano("/proc/self/fd/"+strconv.Itoa(dfd), ts); err != nil {
			return err
		}
		return unix.Renameat(dirfd, tmp, dirfd, name)
	}()
	dst.Close()
	if err != nil {
		_ = unix.Unlinkat(dirfd, tmp, 0)
	}
	return err
}
