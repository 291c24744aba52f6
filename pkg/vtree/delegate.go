package vtree

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Delegation: Sysman's promise that "a user or a group can be restricted to
// accessing only a subtree of /sysman", kept with Unix permissions on the
// backing tree.
//
// Delegating a subtree to a group gives the group, on every device at or
// below it, the device directory (chgrp, g+rwx: smctl replaces files by
// rename, which needs write access to the directory) and the files that
// act: every name with a write agent for the device's type, and its
// NAME.status, which each run rewrites (chgrp, g+rw); and the device's lock
// if it has one, since runs take a lock on a descriptor open for writing
// (see acquireLocks). A missing acting or status file is created empty
// first, owned by the running user, so that there is something to give.
// Nothing else changes: attribute files, .type and ids decide what smctl
// runs, where it connects and what it sends, and stay the owner's; so do
// the directories above the devices, which the group only needs to search,
// and their locks (Delegate says when the group cannot search one, or
// cannot write a lock above the devices, under which its runs would fail).
//
// Revoking takes group write away from every directory at or below the
// path whose group is the delegated one, device or not (a member may have
// removed or replaced a .type meanwhile), and from the files in them whose
// group it is. While the group could write a directory its members could
// also replace files with their own, which they would keep writing after
// the revocation: an acting, status (of any declared type) or lock file
// owned by neither root nor the running user is taken back, replaced by a copy owned
// by the running user, without group write; any other entry a member left
// there (a .type, ids, attribute file or directory of theirs) is reported
// for the owner to judge, and left alone. The group of what stays
// is left as it is: the bits that remain (group read, and search on
// directories) are what others have in a tree made with smctl's defaults,
// and no record is kept of the group a file had before; chgrp them to take
// read access away too.
//
// Both are idempotent, and walk the backing tree by file descriptor
// without following symbolic links, so that a member of the group, who may
// rename entries of the device directories it was given, cannot redirect a
// later run to other files: a symbolic link, a special file or a file with
// other hard links where an acting file should be is reported and left
// alone.

// Delegation says what Delegate does.
type Delegation struct {
	GID    int    // the group
	Group  string // its name, for messages ("" for the number)
	Revoke bool   // take group write away instead of giving it
}

func (d Delegation) String() string {
	if d.Group != "" {
		return d.Group
	}
	return strconv.Itoa(d.GID)
}

// DelegateKind is what a DelegateChange reports.
type DelegateKind int

// The changes Delegate makes, and the notes it adds.
const (
	// DelegateCreate: an acting or status file was created empty, owned
	// by the running user and given to the group (GID and Mode).
	DelegateCreate DelegateKind = iota + 1
	// DelegateChgrp: the group changed from OldGID to GID.
	DelegateChgrp
	// DelegateChmod: the permission bits changed from OldMode to Mode.
	DelegateChmod
	// DelegateSkip: a file that should have been changed was left alone;
	// Err says why (a symbolic link, a special file, other hard links).
	DelegateSkip
	// DelegateReclaim: revoking replaced an acting, status or lock file that
	// a member owned (OldUID) by a copy the running user owns (UID), with
	// Mode (no group or other write).
	DelegateReclaim

	// DelegateUnreachable (a note): a directory above the devices that the
	// group cannot search or list (Mode, GID, UID as they are). Path is
	// empty for directories above the backing tree; File names them.
	DelegateUnreachable
	// DelegateUntrustedType (a note): a directory whose .type is not owned
	// by root or the running user, or is writable by group or others; smctl
	// does not act on it, and Delegate leaves it alone (UID is the owner of
	// .type).
	DelegateUntrustedType
	// DelegateAttrAgent (a note): a file with a write agent that is also an
	// attribute of the device's type; it is left to the owner, since
	// attributes decide where smctl connects.
	DelegateAttrAgent
	// DelegateKeyUnreadable (a note): delegated devices inherit an ids file
	// that the group may read, but the group cannot read the key file (File)
	// that decrypts it; agents that need the credentials fail for its
	// members. (An ids file the group cannot read is simply not used by its
	// members, who act with their own credentials.)
	DelegateKeyUnreadable
	// DelegateNoDevices (a note): no device at or below the path.
	DelegateNoDevices
	// DelegateLockAbove (a note): a lock above the devices (not one of
	// theirs) that the group cannot write; its members' runs below it fail.
	DelegateLockAbove
	// DelegateStray (a note, when revoking): an entry of a directory the
	// group could write, owned by someone else than root or the running
	// user (UID), which is not an acting, status or lock file: a member may
	// have left it (a .type, ids, attribute file or directory).
	DelegateStray
)

// DelegateChange is one change Delegate made, tried to make (Err set), or
// one note about the subtree.
type DelegateChange struct {
	Kind DelegateKind
	Path string // virtual path
	File string // backing file system path
	Dir  bool
	UID  int // the owner (after the change)

	OldUID int // the owner before a DelegateReclaim

	OldGID, GID   int
	OldMode, Mode fs.FileMode // type and permission bits, before and after

	Err error // the change failed, or why the file was skipped
}

// Changed reports whether c is a change that was made.
func (c DelegateChange) Changed() bool {
	return c.Err == nil && (c.Kind == DelegateCreate || c.Kind == DelegateChgrp || c.Kind == DelegateChmod || c.Kind == DelegateReclaim)
}

// Note reports whether c is a note about the subtree rather than a change.
func (c DelegateChange) Note() bool { return c.Kind >= DelegateUnreachable }

// Errors wrapped by Delegate.
var (
	ErrDelegateLive    = errors.New("a live directory: nothing of it is stored")
	ErrDelegateMember  = errors.New("not a member of the group: only root may give files to a group it is not in")
	ErrDelegateLink    = errors.New("a symbolic link: left alone")
	ErrDelegateSpecial = errors.New("not a regular file: left alone")
	ErrDelegateLinked  = errors.New("has other hard links: left alone")
)

// Mode bits a delegation gives.
// A delegated device directory is also sticky (+t, as /tmp): members may
// add files and replace or remove their own, but not remove or rename the
// owner's (an attribute, ids or lock file deleted would silently fall back
// to a default or an inherited value). The tree refuses a device whose
// directory, or one above it, others may write without the sticky bit.
const (
	delegDirBits  = 0o1070 // g+rwx, sticky
	delegFileBits = 0o060  // g+rw
	delegWrite    = 0o020  // what revoking takes
)

// Delegate gives the group of d the devices at or below the virtual
// directory p, or takes them back with d.Revoke, and returns what changed
// and what the owner should know, in walk order (directories before their
// files, names sorted). A path that is not a directory of the backing tree
// is an *fs.PathError; changes that fail are returned with Err set and the
// walk goes on. A cancelled ctx stops it.
func (t *Tree) Delegate(ctx context.Context, p string, d Delegation) ([]DelegateChange, error) {
	p, err := Clean(p)
	if err != nil {
		return nil, err
	}
	perr := func(err error) error {
		return &fs.PathError{Op: "delegate", Path: p, Err: unwrapPath(err)}
	}
	n, err := t.resolve(ctx, p, false)
	switch {
	case err != nil:
		return nil, perr(err)
	case n.live != "":
		return nil, perr(ErrDelegateLive)
	case !n.isDir:
		return nil, perr(ErrNotDir)
	case !n.exists:
		return nil, perr(fs.ErrNotExist)
	}
	if !d.Revoke && !delegMember(d.GID) {
		return nil, perr(fmt.Errorf("group %s: %w", d, ErrDelegateMember))
	}
	w := &delegWalk{t: t, ctx: ctx, d: d, euid: os.Geteuid(), checked: map[string]bool{}, typed: map[string]bool{}}
	dir, err := delegOpenDir(unix.AT_FDCWD, t.store.dir)
	if err != nil {
		return nil, perr(err)
	}
	// Down to p, remembering the directories above it.
	var above []delegDir
	vp, file := "/", t.store.dir
	for _, el := range strings.Split(strings.TrimPrefix(p, "/"), "/") {
		if el == "" {
			break
		}
		st, err := delegFstat(dir)
		if err != nil {
			dir.Close()
			return nil, perr(err)
		}
		above = append(above, delegDir{vpath: vp, file: file, st: st})
		next, err := delegOpenDir(int(dir.Fd()), el)
		dir.Close()
		if err != nil {
			return nil, perr(err)
		}
		dir, vp, file = next, join(vp, el), filepath.Join(file, el)
	}
	if d.Revoke {
		err = w.revokeWalk(dir, vp, file)
	} else {
		err = w.walk(dir, vp, file, above)
	}
	dir.Close()
	if err != nil {
		return w.out, err
	}
	if w.devices == 0 && !d.Revoke {
		w.out = append(w.out, DelegateChange{Kind: DelegateNoDevices, Path: p, File: file, Dir: true})
	}
	return w.out, nil
}

// delegWalk is one Delegate call.
type delegWalk struct {
	t       *Tree
	ctx     context.Context
	d       Delegation
	euid    int
	out     []DelegateChange
	devices int
	checked map[string]bool // directories above devices already looked at
	typed   map[string]bool // types whose attribute agents were noted
	keyDone bool            // the key file was looked at
	acting  map[string]bool // names to take back when revoking
	outside bool            // the directories above the backing tree were looked at
}

type delegDir struct {
	vpath, file string
	st          *unix.Stat_t
}

// walk delegates the devices at or below the open directory dir (virtual
// path vp, backing path file); above lists the directories above it that
// are not devices.
func (w *delegWalk) walk(dir *os.File, vp, file string, above []delegDir) error {
	if err := w.ctx.Err(); err != nil {
		return err
	}
	st, err := delegFstat(dir)
	if err != nil {
		w.out = append(w.out, DelegateChange{Kind: DelegateSkip, Path: vp, File: file, Dir: true, Err: err})
		return nil
	}
	typ := w.deviceType(dir, vp, file)
	self := delegDir{vpath: vp, file: file, st: st}
	live := ""
	if typ != "" {
		w.devices++
		w.reachable(above)
		w.keyReadable(vp)
		w.device(dir, vp, file, st, typ)
		if w.t.isLiveType(typ) {
			live = typ
		}
	} else {
		above = append(slices.Clip(above), self)
	}
	ents, err := dir.ReadDir(-1)
	if err != nil {
		w.out = append(w.out, DelegateChange{Kind: DelegateSkip, Path: vp, File: file, Dir: true, Err: err})
		return nil
	}
	slices.SortFunc(ents, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	for _, e := range ents {
		name := e.Name()
		if !e.IsDir() || strings.HasPrefix(name, ".") {
			continue
		}
		if live != "" && slices.Contains(w.t.Config.LiveDirs, name) {
			continue // shadowed by the node's own
		}
		sub, err := delegOpenDir(int(dir.Fd()), name)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) { // renamed meanwhile: gone
				w.out = append(w.out, DelegateChange{Kind: DelegateSkip, Path: join(vp, name), File: filepath.Join(file, name), Dir: true, Err: err})
			}
			continue
		}
		err = w.walk(sub, join(vp, name), filepath.Join(file, name), above)
		sub.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// deviceType returns the type of the directory dir if it is a device smctl
// acts on: its .type is a regular file owned by root or the running user
// and writable by neither group nor others. Otherwise it notes why not
// and returns "".
func (w *delegWalk) deviceType(dir *os.File, vp, file string) string {
	fd, err := unix.Openat(int(dir.Fd()), typeFile, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return ""
	}
	f := os.NewFile(uintptr(fd), filepath.Join(file, typeFile))
	defer f.Close()
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return ""
	}
	if !delegTrusted(&st, w.euid) {
		w.out = append(w.out, DelegateChange{Kind: DelegateUntrustedType, Path: vp, File: file, Dir: true,
			UID: int(st.Uid), OldGID: int(st.Gid), GID: int(st.Gid), OldMode: delegMode(&st), Mode: delegMode(&st)})
		return ""
	}
	b := make([]byte, 256)
	k, _ := f.Read(b)
	return strings.TrimSpace(string(b[:k]))
}

// delegTrusted is the ownership rule for the files that decide what smctl
// does: owned by root or the running user, not writable by group or others.
func delegTrusted(st *unix.Stat_t, euid int) bool {
	return (st.Uid == 0 || int(st.Uid) == euid) && st.Mode&0o022 == 0
}

// reachable notes the directories above a device that the group cannot
// search or list, each once, and those above the backing tree.
func (w *delegWalk) reachable(above []delegDir) {
	if !w.outside {
		w.outside = true
		var outer []delegDir
		for d := filepath.Dir(w.t.store.dir); ; d = filepath.Dir(d) {
			var st unix.Stat_t
			if unix.Stat(d, &st) == nil {
				outer = append(outer, delegDir{file: d, st: &st})
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
		if delegPerm(a.st, w.d.GID)&0o5 != 0o5 {
			w.out = append(w.out, DelegateChange{Kind: DelegateUnreachable, Path: a.vpath, File: a.file, Dir: true,
				UID: int(a.st.Uid), OldGID: int(a.st.Gid), GID: int(a.st.Gid), OldMode: delegMode(a.st), Mode: delegMode(a.st)})
		}
		if a.vpath == "" || !w.t.hasSpecial(rel(a.vpath), LockName) {
			continue
		}
		fi, err := w.t.store.lstat(joinRel(rel(a.vpath), LockName))
		if err != nil {
			continue
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && delegPermOf(st.Mode, int(st.Gid), w.d.GID)&0o2 == 0 {
			w.out = append(w.out, DelegateChange{Kind: DelegateLockAbove, Path: join(a.vpath, LockName), File: filepath.Join(a.file, LockName),
				UID: int(st.Uid), OldGID: int(st.Gid), GID: int(st.Gid), OldMode: fi.Mode(), Mode: fi.Mode()})
		}
	}
}

// keyReadable notes, once, that the group cannot read the key file when
// the device at vp inherits an ids file.
func (w *delegWalk) keyReadable(vp string) {
	if w.keyDone {
		return
	}
	dir := rel(vp)
	for {
		if w.t.hasSpecial(dir, IDsName) {
			break
		}
		if dir == "." {
			return
		}
		dir, _ = splitRel(dir)
	}
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(w.t.store.dir, joinRel(dir, IDsName)), &st); err != nil || delegPerm(&st, w.d.GID)&0o4 == 0 {
		return // members cannot read it, so do not use it
	}
	w.keyDone = true
	if err := unix.Stat(w.t.keyFile, &st); err != nil || delegPerm(&st, w.d.GID)&0o4 != 0 {
		return
	}
	w.out = append(w.out, DelegateChange{Kind: DelegateKeyUnreadable, File: w.t.keyFile,
		UID: int(st.Uid), OldGID: int(st.Gid), GID: int(st.Gid), OldMode: delegMode(&st), Mode: delegMode(&st)})
}

// device delegates the device directory dir of type typ, its acting and
// status files and its lock.
func (w *delegWalk) device(dir *os.File, vp, file string, st *unix.Stat_t, typ string) {
	w.apply(int(dir.Fd()), vp, file, st, true)
	acting, attrs := w.t.delegActing(typ)
	if len(attrs) > 0 && !w.typed[typ] {
		w.typed[typ] = true
		for _, a := range attrs {
			w.out = append(w.out, DelegateChange{Kind: DelegateAttrAgent, Path: join(vp, a), File: filepath.Join(file, a)})
		}
	}
	for _, name := range acting {
		for _, fn := range []string{name, name + statusSuffix} {
			w.file(dir, join(vp, fn), filepath.Join(file, fn), fn, true, fn == name)
		}
	}
	w.file(dir, join(vp, LockName), filepath.Join(file, LockName), LockName, false, false)
}

// delegActing returns the names of the files that act in devices of type
// typ (those with a write agent), and apart those with a write agent that
// are attribute names (smctl's own, or declared by any type, as the store
// judges them).
func (t *Tree) delegActing(typ string) (acting, attrs []string) {
	isAttr := func(name string) bool {
		if slices.Contains(t.attrNames(), name) {
			return true
		}
		for _, tc := range t.Config.Types {
			if _, ok := tc.Attrs[name]; ok {
				return true
			}
		}
		return false
	}
	for name, h := range t.hooksFor(typ) {
		switch {
		case h == nil || h.write == nil, reservedName(name), name == "", name[0] == '.', strings.ContainsRune(name, '/'):
		case isAttr(name):
			attrs = append(attrs, name)
		default:
			acting = append(acting, name)
		}
	}
	slices.Sort(acting)
	slices.Sort(attrs)
	return acting, attrs
}

// file delegates the acting, status or lock file name of the device
// directory dir; with create, a missing one is created empty (acting: an
// acting file, not a status file).
func (w *delegWalk) file(dir *os.File, vp, file, name string, create, acting bool) {
	fd, err := unix.Openat(int(dir.Fd()), name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) {
		if create {
			w.create(dir, vp, file, name, acting)
		}
		return
	}
	if err != nil {
		w.out = append(w.out, DelegateChange{Kind: DelegateSkip, Path: vp, File: file, Err: err})
		return
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		w.out = append(w.out, DelegateChange{Kind: DelegateSkip, Path: vp, File: file, Err: err})
		return
	}
	skip := func(err error) {
		w.out = append(w.out, DelegateChange{Kind: DelegateSkip, Path: vp, File: file, UID: int(st.Uid),
			OldGID: int(st.Gid), GID: int(st.Gid), OldMode: delegMode(&st), Mode: delegMode(&st), Err: err})
	}
	switch {
	case st.Mode&unix.S_IFMT == unix.S_IFLNK:
		skip(ErrDelegateLink)
	case st.Mode&unix.S_IFMT != unix.S_IFREG:
		skip(ErrDelegateSpecial)
	case st.Nlink > 1:
		skip(ErrDelegateLinked)
	default:
		w.apply(fd, vp, file, &st, false)
	}
}

// create makes the missing file name empty, private at first, then gives
// it to the group with the mode a new file of smctl's gets plus g+rw. An
// acting file gets the time of the epoch, so that its first read runs the
// read agent whatever the caching model's ttl.
func (w *delegWalk) create(dir *os.File, vp, file, name string, acting bool) {
	c := DelegateChange{Kind: DelegateCreate, Path: vp, File: file, UID: w.euid, GID: w.d.GID}
	fd, err := unix.Openat(int(dir.Fd()), name, unix.O_RDONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		c.Err = err
		w.out = append(w.out, c)
		return
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err = unix.Fstat(fd, &st); err == nil {
		c.OldGID, c.OldMode = int(st.Gid), delegMode(&st)
		if acting {
			err = unix.Futimes(fd, []unix.Timeval{{}, {}})
		}
	}
	if err == nil {
		err = unix.Fchown(fd, -1, w.d.GID)
	}
	mode := uint32(newFileMode.Perm()) | delegFileBits
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
func (w *delegWalk) apply(fd int, vp, file string, st *unix.Stat_t, dir bool) {
	gid := int(st.Gid)
	mode := st.Mode & 0o7777
	base := DelegateChange{Path: vp, File: file, Dir: dir, UID: int(st.Uid), OldGID: gid, GID: gid, OldMode: delegMode(st), Mode: delegMode(st)}
	if w.d.Revoke {
		if gid != w.d.GID || mode&delegWrite == 0 {
			return
		}
		c := base
		c.Kind = DelegateChmod
		c.Err = delegChmod(fd, mode&^delegWrite)
		c.Mode = delegModeOf(st.Mode&unix.S_IFMT, mode&^delegWrite)
		w.out = append(w.out, c)
		return
	}
	if gid != w.d.GID {
		c := base
		c.Kind, c.GID = DelegateChgrp, w.d.GID
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
			base.OldMode, base.Mode = delegMode(&now), delegMode(&now)
		}
	}
	bits := uint32(delegFileBits)
	if dir {
		bits = delegDirBits
	}
	if mode&bits == bits {
		return
	}
	c := base
	c.Kind = DelegateChmod
	c.Err = delegChmod(fd, mode|bits)
	c.Mode = delegModeOf(st.Mode&unix.S_IFMT, mode|bits)
	w.out = append(w.out, c)
}

// delegChmod sets the mode of the file open as fd, which may be an O_PATH
// descriptor: fchmodat2 with AT_EMPTY_PATH where the kernel has it, else
// through /proc/self/fd, as the C library does; neither follows a link.
func delegChmod(fd int, mode uint32) error {
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

// delegOpenDir opens the directory name in dirfd, refusing a symbolic link.
func delegOpenDir(dirfd int, name string) (*os.File, error) {
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) {
			return nil, ErrNotDir
		}
		return nil, err
	}
	return os.NewFile(uintptr(fd), name), nil
}

func delegFstat(f *os.File) (*unix.Stat_t, error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return nil, err
	}
	return &st, nil
}

// delegPerm returns the permission bits (rwx, 0-7) that apply to members
// of the group gid who do not own the file: the group's if the file is in
// gid, else others'.
func delegPerm(st *unix.Stat_t, gid int) uint32 {
	return delegPermOf(st.Mode, int(st.Gid), gid)
}

func delegPermOf(mode uint32, fileGID, gid int) uint32 {
	if fileGID == gid {
		return mode >> 3 & 7
	}
	return mode & 7
}

// delegMember reports whether the running user may give files to gid.
func delegMember(gid int) bool {
	if os.Geteuid() == 0 || os.Getegid() == gid {
		return true
	}
	gs, _ := os.Getgroups()
	return slices.Contains(gs, gid)
}

func delegMode(st *unix.Stat_t) fs.FileMode {
	return delegModeOf(st.Mode&unix.S_IFMT, st.Mode&0o7777)
}

func delegModeOf(typ, perm uint32) fs.FileMode {
	m := fs.FileMode(perm & 0o777)
	switch typ {
	case unix.S_IFDIR:
		m |= fs.ModeDir
	case unix.S_IFLNK:
		m |= fs.ModeSymlink
	case unix.S_IFIFO:
		m |= fs.ModeNamedPipe
	case unix.S_IFSOCK:
		m |= fs.ModeSocket
	case unix.S_IFCHR:
		m |= fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFBLK:
		m |= fs.ModeDevice
	}
	if perm&unix.S_ISUID != 0 {
		m |= fs.ModeSetuid
	}
	if perm&unix.S_ISGID != 0 {
		m |= fs.ModeSetgid
	}
	if perm&unix.S_ISVTX != 0 {
		m |= fs.ModeSticky
	}
	return m
}

// revokeWalk takes group write away at and below the open directory dir
// (virtual path vp, backing path file): from every directory whose group
// is the delegated one, and in those, from the acting and status files,
// taking back the ones members own; see the package comment on revoking.
// It enters only directories that root or the running user own.
func (w *delegWalk) revokeWalk(dir *os.File, vp, file string) error {
	if err := w.ctx.Err(); err != nil {
		return err
	}
	st, err := delegFstat(dir)
	if err != nil {
		w.out = append(w.out, DelegateChange{Kind: DelegateSkip, Path: vp, File: file, Dir: true, Err: err})
		return nil
	}
	given := int(st.Gid) == w.d.GID
	if given {
		w.apply(int(dir.Fd()), vp, file, st, true)
	}
	ents, err := dir.ReadDir(-1)
	if err != nil {
		w.out = append(w.out, DelegateChange{Kind: DelegateSkip, Path: vp, File: file, Dir: true, Err: err})
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
		sub, err := delegOpenDir(int(dir.Fd()), name)
		if err != nil {
			continue // gone, or not a directory any more
		}
		if sst, err := delegFstat(sub); err == nil && (sst.Uid == 0 || int(sst.Uid) == w.euid) {
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
func (w *delegWalk) revokeEntry(dir *os.File, vp, file, name string) {
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
			w.out = append(w.out, DelegateChange{Kind: DelegateStray, Path: vp, File: file, Dir: st.Mode&unix.S_IFMT == unix.S_IFDIR,
				UID: int(st.Uid), OldGID: int(st.Gid), GID: int(st.Gid), OldMode: delegMode(&st), Mode: delegMode(&st)})
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
func (w *delegWalk) revokeNames() map[string]bool {
	if w.acting != nil {
		return w.acting
	}
	w.acting = map[string]bool{LockName: true}
	for typ := range w.t.Config.Types {
		acting, _ := w.t.delegActing(typ)
		for _, a := range acting {
			w.acting[a], w.acting[a+statusSuffix] = true, true
		}
	}
	return w.acting
}

// reclaim replaces the file name, which a member owns (open as the O_PATH
// descriptor fd, described by st), by a copy the running user owns, in the
// same group, without group or other write, keeping its times. What is not
// a regular file is replaced by an empty one.
func (w *delegWalk) reclaim(dir *os.File, fd int, vp, file, name string, st *unix.Stat_t) {
	mode := st.Mode & 0o777 &^ 0o022
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		mode = uint32(newFileMode.Perm()) &^ 0o022
	}
	c := DelegateChange{Kind: DelegateReclaim, Path: vp, File: file, OldUID: int(st.Uid), UID: w.euid,
		OldGID: int(st.Gid), GID: int(st.Gid), OldMode: delegMode(st), Mode: delegModeOf(unix.S_IFREG, mode)}
	c.Err = delegCopy(int(dir.Fd()), fd, name, st, mode)
	w.out = append(w.out, c)
}

// delegCopy writes a copy of the file open as fd (if regular) to a hidden
// temporary file of directory dirfd with the given mode, group and times of
// st, and renames it over name.
func delegCopy(dirfd, fd int, name string, st *unix.Stat_t, mode uint32) error {
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
