// Package delegate keeps Sysman's promise that "a user or a group can be
// restricted to accessing only a subtree of /sysman" with Unix permissions
// on the backing tree of a vtree.Tree (smctl delegate).
//
// Delegating a subtree to a group gives the group, on every device at or
// below it, the device directory (chgrp, g+rwx: smctl replaces files by
// rename, which needs write access to the directory) and the files that
// act: every name with a write agent for the device's type, and its
// NAME.status, which each run rewrites (chgrp, g+rw); and the device's lock
// if it has one, since runs take a lock on a descriptor open for writing.
// A missing acting or status file is created empty first, owned by the
// running user, so that there is something to give. Nothing else changes:
// attribute files, .type and ids decide what smctl runs, where it connects
// and what it sends, and stay the owner's; so do the directories above the
// devices, which the group only needs to search, and their locks (Apply
// says when the group cannot search one, or cannot write a lock above the
// devices, under which its runs would fail).
//
// Revoking takes group write away from every directory at or below the
// path whose group is the delegated one, device or not (a member may have
// removed or replaced a .type meanwhile), and from the files in them whose
// group it is. While the group could write a directory its members could
// also replace files with their own, which they would keep writing after
// the revocation: an acting, status (of any declared type) or lock file
// owned by neither root nor the running user is taken back, replaced by a
// copy owned by the running user, without group write; any other entry a
// member left there (a .type, ids, attribute file or directory of theirs)
// is reported for the owner to judge, and left alone. The group of what
// stays is left as it is: the bits that remain (group read, and search on
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
package delegate

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/smctl/smctl/pkg/vtree"
)

// Delegation says what Apply does.
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

// Kind is what a Change reports.
type Kind int

// The changes Apply makes, and the notes it adds.
const (
	// Create: an acting or status file was created empty, owned by the
	// running user and given to the group (GID and Mode).
	Create Kind = iota + 1
	// Chgrp: the group changed from OldGID to GID.
	Chgrp
	// Chmod: the permission bits changed from OldMode to Mode.
	Chmod
	// Skip: a file that should have been changed was left alone; Err says
	// why (a symbolic link, a special file, other hard links).
	Skip
	// Reclaim: revoking replaced an acting, status or lock file that a
	// member owned (OldUID) by a copy the running user owns (UID), with
	// Mode (no group or other write).
	Reclaim

	// Unreachable (a note): a directory above the devices that the group
	// cannot search or list (Mode, GID, UID as they are). Path is empty for
	// directories above the backing tree; File names them.
	Unreachable
	// UntrustedType (a note): a directory whose type marker (its line in
	// its parent's device index, else its .type) is not owned by root or
	// the running user, or is writable by group or others, or is not a
	// regular file with one link; smctl does not act on it, and Apply
	// leaves it alone (Marker names the marker, UID is its owner).
	UntrustedType
	// AttrAgent (a note): a file with a write agent that is also an
	// attribute of the device's type; it is left to the owner, since
	// attributes decide where smctl connects.
	AttrAgent
	// KeyUnreadable (a note): delegated devices inherit an ids file that
	// the group may read, but the group cannot read the key file (File)
	// that decrypts it; agents that need the credentials fail for its
	// members. (An ids file the group cannot read is simply not used by its
	// members, who act with their own credentials.)
	KeyUnreadable
	// NoDevices (a note): no device at or below the path.
	NoDevices
	// LockAbove (a note): a lock above the devices (not one of theirs) that
	// the group cannot write; its members' runs below it fail.
	LockAbove
	// Stray (a note, when revoking): an entry of a directory the group
	// could write, owned by someone else than root or the running user
	// (UID), which is not an acting, status or lock file: a member may have
	// left it (a .type, ids, attribute file or directory).
	Stray
)

// Change is one change Apply made, tried to make (Err set), or one note
// about the subtree.
type Change struct {
	Kind Kind
	Path string // virtual path
	File string // backing file system path
	Dir  bool
	UID  int // the owner (after the change)

	OldUID int // the owner before a Reclaim

	OldGID, GID   int
	OldMode, Mode fs.FileMode // type and permission bits, before and after

	Err error // the change failed, or why the file was skipped

	Marker string // UntrustedType: the virtual path of the type marker
}

// Changed reports whether c is a change that was made.
func (c Change) Changed() bool {
	return c.Err == nil && (c.Kind == Create || c.Kind == Chgrp || c.Kind == Chmod || c.Kind == Reclaim)
}

// Note reports whether c is a note about the subtree rather than a change.
func (c Change) Note() bool { return c.Kind >= Unreachable }

// Errors wrapped by Apply.
var (
	ErrLive    = errors.New("a live directory: nothing of it is stored")
	ErrMember  = errors.New("not a member of the group: only root may give files to a group it is not in")
	ErrLink    = errors.New("a symbolic link: left alone")
	ErrSpecial = errors.New("not a regular file: left alone")
	ErrLinked  = errors.New("has other hard links: left alone")
)

// Mode bits a delegation gives.
// A delegated device directory is also sticky (+t, as /tmp): members may
// add files and replace or remove their own, but not remove or rename the
// owner's (an attribute, ids or lock file deleted would silently fall back
// to a default or an inherited value). The tree refuses a device whose
// directory, or one above it, others may write without the sticky bit.
const (
	dirBits    = 0o1070 // g+rwx, sticky
	fileBits   = 0o060  // g+rw
	groupWrite = 0o020  // what revoking takes
)

// Apply gives the group of d the devices of t at or below the virtual
// directory p, or takes them back with d.Revoke, and returns what changed
// and what the owner should know, in walk order (directories before their
// files, names sorted). A path that is not a directory of the backing tree
// is an *fs.PathError; changes that fail are returned with Err set and the
// walk goes on. A cancelled ctx stops it.
func Apply(ctx context.Context, t *vtree.Tree, p string, d Delegation) ([]Change, error) {
	p, err := vtree.Clean(p)
	if err != nil {
		return nil, err
	}
	perr := func(err error) error {
		return &fs.PathError{Op: "delegate", Path: p, Err: unwrapPath(err)}
	}
	n, err := t.Resolve(ctx, p)
	switch {
	case err != nil:
		return nil, perr(err)
	case n.Live:
		return nil, perr(ErrLive)
	case !n.Dir:
		return nil, perr(vtree.ErrNotDir)
	case !n.Stored:
		return nil, perr(fs.ErrNotExist)
	}
	if !d.Revoke && !member(d.GID) {
		return nil, perr(fmt.Errorf("group %s: %w", d, ErrMember))
	}
	backing := t.BackingDir()
	w := &walker{t: t, ctx: ctx, d: d, euid: os.Geteuid(), checked: map[string]bool{}, typed: map[string]bool{}}
	defer w.closeRoot()
	dir, err := openDir(unix.AT_FDCWD, backing)
	if err != nil {
		return nil, perr(err)
	}
	// Down to p, remembering the directories above it.
	var above []dirInfo
	var pidx *dirIndex // the index of the directory p is in
	vp, file := "/", backing
	for _, el := range strings.Split(strings.TrimPrefix(p, "/"), "/") {
		if el == "" {
			break
		}
		st, err := fstat(dir)
		if err != nil {
			dir.Close()
			return nil, perr(err)
		}
		above = append(above, dirInfo{vpath: vp, file: file, st: st})
		pidx = readIndex(dir, file)
		next, err := openDir(int(dir.Fd()), el)
		dir.Close()
		if err != nil {
			return nil, perr(err)
		}
		dir, vp, file = next, join(vp, el), filepath.Join(file, el)
	}
	if d.Revoke {
		err = w.revokeWalk(dir, vp, file)
	} else {
		err = w.walk(dir, vp, file, above, pidx)
	}
	dir.Close()
	if err != nil {
		return w.out, err
	}
	if w.devices == 0 && !d.Revoke {
		w.out = append(w.out, Change{Kind: NoDevices, Path: p, File: file, Dir: true})
	}
	return w.out, nil
}

// walker is one Apply call.
type walker struct {
	t       *vtree.Tree
	root    *os.Root // the backing tree, for lookups by path (see lstat)
	rootErr error
	ctx     context.Context
	d       Delegation
	euid    int
	out     []Change
	devices int
	checked map[string]bool // directories above devices already looked at
	typed   map[string]bool // types whose attribute agents were noted
	keyDone bool            // the key file was looked at
	acting  map[string]bool // names to take back when revoking
	outside bool            // the directories above the backing tree were looked at
}

// lstat describes the file at rel in the backing tree, as the tree's own
// lookups do (no symbolic link followed out of the tree, the last one not
// at all).
func (w *walker) lstat(rel string) (fs.FileInfo, error) {
	if w.root == nil && w.rootErr == nil {
		w.root, w.rootErr = os.OpenRoot(w.t.BackingDir())
	}
	if w.rootErr != nil {
		return nil, w.rootErr
	}
	return w.root.Lstat(rel)
}

func (w *walker) closeRoot() {
	if w.root != nil {
		w.root.Close()
	}
}

type dirInfo struct {
	vpath, file string
	st          *unix.Stat_t
}

// unwrapPath strips a backing-tree *fs.PathError so that the caller can
// name the virtual path instead of a backing one.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// rel converts a clean virtual path to a path relative to the backing root.
func rel(vpath string) string {
	if vpath == "/" {
		return "."
	}
	return vpath[1:]
}

// join joins a clean virtual directory and a name.
func join(dir, name string) string {
	if dir == "/" {
		return "/" + name
	}
	return dir + "/" + name
}
