package delegate

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/smctl/smctl/pkg/vtree"
	"github.com/smctl/smctl/pkg/vtree/store"
)

// walk delegates the devices at or below the open directory dir (virtual
// path vp, backing path file); above lists the directories above it that
// are not devices, and pidx is the device index of the one it is in.
func (w *walker) walk(dir *os.File, vp, file string, above []dirInfo, pidx *dirIndex) error {
	if err := w.ctx.Err(); err != nil {
		return err
	}
	st, err := fstat(dir)
	if err != nil {
		w.out = append(w.out, Change{Kind: Skip, Path: vp, File: file, Dir: true, Err: err})
		return nil
	}
	typ := w.deviceType(dir, vp, file, pidx)
	self := dirInfo{vpath: vp, file: file, st: st}
	live := ""
	if typ != "" {
		w.devices++
		w.reachable(above)
		w.keyReadable(vp)
		w.device(dir, vp, file, st, typ)
		if tc, ok := w.t.Config.Types[typ]; ok && tc.Live {
			live = typ
		}
	} else {
		above = append(slices.Clip(above), self)
	}
	ents, err := dir.ReadDir(-1)
	if err != nil {
		w.out = append(w.out, Change{Kind: Skip, Path: vp, File: file, Dir: true, Err: err})
		return nil
	}
	slices.SortFunc(ents, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	idx := readIndex(dir, file)
	for _, e := range ents {
		name := e.Name()
		if !e.IsDir() || strings.HasPrefix(name, ".") {
			continue
		}
		if live != "" && slices.Contains(w.t.Config.LiveDirs, name) {
			continue // shadowed by the node's own
		}
		sub, err := openDir(int(dir.Fd()), name)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) { // renamed meanwhile: gone
				w.out = append(w.out, Change{Kind: Skip, Path: join(vp, name), File: filepath.Join(file, name), Dir: true, Err: err})
			}
			continue
		}
		err = w.walk(sub, join(vp, name), filepath.Join(file, name), above, idx)
		sub.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// deviceType returns the type of the directory dir if it is a device smctl
// acts on: as its parent's device index says (pidx), or for a directory it
// does not name, as its .type says; either must be a regular file owned by
// root or the running user and writable by neither group nor others.
// Otherwise it notes why not and returns "".
func (w *walker) deviceType(dir *os.File, vp, file string, pidx *dirIndex) string {
	untrusted := func(st *unix.Stat_t, marker string) string {
		w.out = append(w.out, Change{Kind: UntrustedType, Path: vp, File: file, Dir: true, Marker: marker,
			UID: int(st.Uid), OldGID: int(st.Gid), GID: int(st.Gid), OldMode: statMode(st), Mode: statMode(st)})
		return ""
	}
	if pidx != nil {
		if pidx.st != nil {
			return untrusted(pidx.st, join(path.Dir(vp), vtree.IndexFile))
		}
		if typ, ok := pidx.types[filepath.Base(file)]; ok {
			return typ
		}
	}
	fd, err := unix.Openat(int(dir.Fd()), vtree.TypeFile, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return ""
	}
	f := os.NewFile(uintptr(fd), filepath.Join(file, vtree.TypeFile))
	defer f.Close()
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return ""
	}
	if !trusted(&st, w.euid) {
		return untrusted(&st, join(vp, vtree.TypeFile))
	}
	b := make([]byte, 256)
	k, _ := f.Read(b)
	return strings.TrimSpace(string(b[:k]))
}

// dirIndex is the device index of a directory: the types it names, or
// the index's stat when it is not trusted (st non-nil).
type dirIndex struct {
	types map[string]string
	st    *unix.Stat_t
}

// readIndex reads the device index of the open directory dir (backing
// path file): nil if it has none or it cannot be read; one that is not a
// regular file with one link, owned by root or the running user and
// writable by neither group nor others, or that does not parse, comes
// back with its stat, as a type marker that is not trusted does.
func readIndex(dir *os.File, file string) *dirIndex {
	fd, err := unix.Openat(int(dir.Fd()), vtree.IndexFile, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	f := os.NewFile(uintptr(fd), filepath.Join(file, vtree.IndexFile))
	defer f.Close()
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil {
		return nil
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG || st.Nlink != 1 || !trusted(&st, os.Geteuid()) || st.Size > store.MaxIndex {
		return &dirIndex{st: &st}
	}
	b, err := io.ReadAll(io.LimitReader(f, store.MaxIndex))
	if err != nil {
		return nil
	}
	types, err := store.ParseIndex(b)
	if err != nil {
		return &dirIndex{st: &st}
	}
	return &dirIndex{types: types}
}

// trusted is the ownership rule for the files that decide what smctl
// does: owned by root or the running user, not writable by group or others.
func trusted(st *unix.Stat_t, euid int) bool {
	return (st.Uid == 0 || int(st.Uid) == euid) && st.Mode&0o022 == 0
}

// reachable notes the directories above a device that the group cannot
// search or list, each once, and those above the backing tree.
func (w *walker) reachable(above []dirInfo) {
	if !w.outside {
		w.outside = true
		var outer []dirInfo
		for d := filepath.Dir(w.t.BackingDir()); ; d = filepath.Dir(d) {
			var st unix.Stat_t
			if unix.Stat(d, &st) == nil {
				outer = append(outer, dirInfo{file: d, st: &st})
			}
			if d == filepath.Dir(d) {
				break
			}
		}
		slices.Reverse(outer)
		above = append(outer, above...)
	}
	for _, a := range above {
		if w.checked[a.file] {
			continue
		}
		w.checked[a.file] = true
		if perm(a.st, w.d.GID)&0o5 != 0o5 {
			w.out = append(w.out, Change{Kind: Unreachable, Path: a.vpath, File: a.file, Dir: true,
				UID: int(a.st.Uid), OldGID: int(a.st.Gid), GID: int(a.st.Gid), OldMode: statMode(a.st), Mode: statMode(a.st)})
		}
		if a.vpath == "" {
			continue
		}
		fi, err := w.lstat(store.JoinRel(rel(a.vpath), vtree.LockName))
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && permOf(st.Mode, int(st.Gid), w.d.GID)&0o2 == 0 {
			w.out = append(w.out, Change{Kind: LockAbove, Path: join(a.vpath, vtree.LockName), File: filepath.Join(a.file, vtree.LockName),
				UID: int(st.Uid), OldGID: int(st.Gid), GID: int(st.Gid), OldMode: fi.Mode(), Mode: fi.Mode()})
		}
	}
}

// keyReadable notes, once, that the group cannot read the key file when
// the device at vp inherits an ids file.
func (w *walker) keyReadable(vp string) {
	if w.keyDone {
		return
	}
	dir := rel(vp)
	for {
		if fi, err := w.lstat(store.JoinRel(dir, vtree.IDsName)); err == nil && fi.Mode().IsRegular() {
			break
		}
		if dir == "." {
			return
		}
		dir, _ = store.SplitRel(dir)
	}
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(w.t.BackingDir(), store.JoinRel(dir, vtree.IDsName)), &st); err != nil || perm(&st, w.d.GID)&0o4 == 0 {
		return // members cannot read it, so do not use it
	}
	w.keyDone = true
	key := w.t.KeyFile()
	if err := unix.Stat(key, &st); err != nil || perm(&st, w.d.GID)&0o4 != 0 {
		return
	}
	w.out = append(w.out, Change{Kind: KeyUnreadable, File: key,
		UID: int(st.Uid), OldGID: int(st.Gid), GID: int(st.Gid), OldMode: statMode(&st), Mode: statMode(&st)})
}

// device delegates the device directory dir of type typ, its acting and
// status files and its lock.
func (w *walker) device(dir *os.File, vp, file string, st *unix.Stat_t, typ string) {
	w.apply(int(dir.Fd()), vp, file, st, true)
	acting, attrs := actingFiles(w.t, typ)
	if len(attrs) > 0 && !w.typed[typ] {
		w.typed[typ] = true
		for _, a := range attrs {
			w.out = append(w.out, Change{Kind: AttrAgent, Path: join(vp, a), File: filepath.Join(file, a)})
		}
	}
	for _, name := range acting {
		for _, fn := range []string{name, name + vtree.StatusSuffix} {
			w.file(dir, join(vp, fn), filepath.Join(file, fn), fn, true, fn == name)
		}
		// A command's stderr file, where a run left one: the group's
		// next run replaces it (a missing one it creates itself).
		fn := name + vtree.StderrSuffix
		w.file(dir, join(vp, fn), filepath.Join(file, fn), fn, false, false)
	}
	w.file(dir, join(vp, vtree.LockName), filepath.Join(file, vtree.LockName), vtree.LockName, false, false)
}

// actingFiles returns, sorted, the names of the files that act in devices
// of type typ (those with a write agent), and apart those with a write
// agent that are attribute names (smctl's own, or declared by any type, as
// the tree judges them).
func actingFiles(t *vtree.Tree, typ string) (acting, attrs []string) {
	names := t.DeviceAttrs(typ) // the tree's, the drivers' and typ's
	isAttr := func(name string) bool {
		if slices.Contains(names, name) {
			return true
		}
		for _, tc := range t.Config.Types {
			if _, ok := tc.Attrs[name]; ok {
				return true
			}
		}
		return false
	}
	for _, name := range t.WriteAgents(typ) {
		switch {
		case reserved(name), name == "", name[0] == '.', strings.ContainsRune(name, '/'):
		case isAttr(name):
			attrs = append(attrs, name)
		default:
			acting = append(acting, name)
		}
	}
	return acting, attrs
}

// reserved reports the names of the tree's own files, which agents cannot
// take over.
func reserved(name string) bool {
	return name == vtree.IDsName || name == vtree.LockName ||
		strings.HasSuffix(name, vtree.StatusSuffix) || strings.HasSuffix(name, vtree.StderrSuffix)
}

// file delegates the acting, status or lock file name of the device
// directory dir; with create, a missing one is created empty (acting: an
// acting file, not a status file).
func (w *walker) file(dir *os.File, vp, file, name string, create, acting bool) {
	fd, err := unix.Openat(int(dir.Fd()), name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) {
		if create {
			w.create(dir, vp, file, name, acting)
		}
		return
	}
	if err != nil {
		w.out = append(w.out, Change{Kind: Skip, Path: vp, File: file, Err: err})
		return
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		w.out = append(w.out, Change{Kind: Skip, Path: vp, File: file, Err: err})
		return
	}
	skip := func(err error) {
		w.out = append(w.out, Change{Kind: Skip, Path: vp, File: file, UID: int(st.Uid),
			OldGID: int(st.Gid), GID: int(st.Gid), OldMode: statMode(&st), Mode: statMode(&st), Err: err})
	}
	switch {
	case st.Mode&unix.S_IFMT == unix.S_IFLNK:
		skip(ErrLink)
	case st.Mode&unix.S_IFMT != unix.S_IFREG:
		skip(ErrSpecial)
	case st.Nlink > 1:
		skip(ErrLinked)
	default:
		w.apply(fd, vp, file, &st, false)
	}
}

// create makes the missing file name empty, private at first, then gives
// it to the group with the mode a new file of smctl's gets plus g+rw. An
// acting file gets the time of the epoch, so that its first read runs the
// read agent whatever the caching model's ttl.
func (w *walker) create(dir *os.File, vp, file, name string, acting bool) {
	c := Change{Kind: Create, Path: vp, File: file, UID: w.euid, GID: w.d.GID}
	fd, err := unix.Openat(int(dir.Fd()), name, unix.O_RDONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		c.Err = err
		w.out = append(w.out, c)
		return
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err = unix.Fstat(fd, &st); err == nil {
		c.OldGID, c.OldMode = int(st.Gid), statMode(&st)
		if acting {
			err = unix.Futimes(fd, []unix.Timeval{{}, {}})
		}
	}
	if err == nil {
		err = unix.Fchown(fd, -1, w.d.GID)
	}
	mode := uint32(vtree.NewFileMode().Perm()) | fileBits
	if err == nil {
		err = unix.Fchmod(fd, mode)
	}
	c.Mode = fs.FileMode(mode)
	c.Err = err
	w.out = append(w.out, c)
}

// apply gives the file or directory open as fd (possibly an O_PATH
// descriptor) to the group, or takes group write away from it. The group
// changes before the mode, so that the bits are never given to the old
// group.
func (w *walker) apply(fd int, vp, file string, st *unix.Stat_t, dir bool) {
	gid := int(st.Gid)
	mode := st.Mode & 0o7777
	base := Change{Path: vp, File: file, Dir: dir, UID: int(st.Uid), OldGID: gid, GID: gid, OldMode: statMode(st), Mode: statMode(st)}
	if w.d.Revoke {
		if gid != w.d.GID || mode&groupWrite == 0 {
			return
		}
		c := base
		c.Kind = Chmod
		c.Err = chmod(fd, mode&^groupWrite)
		c.Mode = modeOf(st.Mode&unix.S_IFMT, mode&^groupWrite)
		w.out = append(w.out, c)
		return
	}
	if gid != w.d.GID {
		c := base
		c.Kind, c.GID = Chgrp, w.d.GID
		c.Err = unix.Fchownat(fd, "", -1, w.d.GID, unix.AT_EMPTY_PATH)
		w.out = append(w.out, c)
		if c.Err != nil {
			return // never give the bits to the old group
		}
		base.OldGID, base.GID = w.d.GID, w.d.GID
		// chown may clear set-group-ID on files: ask again.
		var now unix.Stat_t
		if unix.Fstat(fd, &now) == nil {
			mode = now.Mode & 0o7777
			base.OldMode, base.Mode = statMode(&now), statMode(&now)
		}
	}
	bits := uint32(fileBits)
	if dir {
		bits = dirBits
	}
	if mode&bits == bits {
		return
	}
	c := base
	c.Kind = Chmod
	c.Err = chmod(fd, mode|bits)
	c.Mode = modeOf(st.Mode&unix.S_IFMT, mode|bits)
	w.out = append(w.out, c)
}
