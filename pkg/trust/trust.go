// Package trust decides whether a file may decide what smctl runs, where it
// connects or what it sends, in the spirit of OpenSSH's StrictModes.
//
// A file is trusted when, as opened, it is owned by root or by the user
// running smctl and is not writable by its group or by others. The check
// is made on the open descriptor (fstat), never on a path looked up again,
// so a file swapped after the check is not the file that was read. Files
// are judged by themselves, not by the directories above them, as OpenSSH
// judges its configuration files; the backing tree adds its own rule for
// directories a delegated group may write (see package vtree).
//
// An untrusted file is an *Error wrapping ErrUntrusted, whose message is
// one line naming the file, its owner and its mode.
package trust

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/user"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/smctl/smctl/pkg/status"
)

// owner is a third trusted owner (-1: none): the owner of the state root in
// use, whose tree a delegated user works in.
var owner atomic.Int64

func init() { owner.Store(-1) }

// TrustOwner adds uid to the trusted owners (root and the running user)
// for the rest of the process: smctl trusts the owner of the state root it
// was pointed at, so that a user given part of another user's tree may act
// there. A negative uid removes it.
func TrustOwner(uid int) { owner.Store(int64(uid)) }

// euid is the process's effective user ID, asked once (each call of
// os.Geteuid is a system call, and every trusted file is judged).
var euid = sync.OnceValue(os.Geteuid)

func trustedUID(uid int) bool {
	return uid == 0 || uid == euid() || int64(uid) == owner.Load()
}

// owners names the trusted owners for messages.
func owners() string {
	names := []string{"root"}
	euid, o := euid(), int(owner.Load())
	if euid != 0 {
		names = append(names, userName(euid))
	}
	if o > 0 && o != euid {
		names = append(names, userName(o))
	}
	if len(names) == 1 {
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// ErrUntrusted is wrapped by every error for a file that is not trusted.
// It is status.ErrUntrusted, so that status.Of gives such an error the
// code of a configuration error (status.Usage).
var ErrUntrusted = status.ErrUntrusted

// Error describes a file that is not trusted.
type Error struct {
	Name string      // the file as the user knows it (a virtual path or a path)
	UID  int         // its owner
	Mode fs.FileMode // its mode
	Why  string      // what is wrong, e.g. "writable by group"
}

func (e *Error) Error() string {
	if e.UID < 0 { // judged before it could be opened: a symlink
		return fmt.Sprintf("untrusted file %s: %s (it must be a regular file owned by %s)", e.Name, e.Why, owners())
	}
	return fmt.Sprintf("untrusted file %s: owner %s, mode %04o: %s (it must be owned by %s and not writable by group or others)",
		e.Name, userName(e.UID), e.Mode.Perm(), e.Why, owners())
}

// Unwrap returns ErrUntrusted.
func (e *Error) Unwrap() error { return ErrUntrusted }

// userName names uid as "name (uid N)", or "uid N" when it has no name.
func userName(uid int) string {
	s := strconv.Itoa(uid)
	if u, err := user.LookupId(s); err == nil {
		return u.Username + " (uid " + s + ")"
	}
	return "uid " + s
}

// Stat judges the file described by st (from fstat of an open descriptor)
// and names it name in the error.
func Stat(name string, st *syscall.Stat_t) error {
	uid := int(st.Uid)
	mode := fs.FileMode(st.Mode & 0o7777)
	e := &Error{Name: name, UID: uid, Mode: mode}
	switch {
	case !trustedUID(uid):
		e.Why = "owned by another user"
	case st.Mode&0o020 != 0:
		e.Why = "writable by its group"
	case st.Mode&0o002 != 0:
		e.Why = "writable by others"
	default:
		return nil
	}
	return e
}

// Dir judges a directory from fstat of an open descriptor: owned by a
// trusted owner, and writable by group or others only with the sticky bit
// (so that nobody but a file's owner may remove or rename it).
func Dir(name string, st *syscall.Stat_t) error {
	uid := int(st.Uid)
	mode := fs.FileMode(st.Mode & 0o777)
	if st.Mode&syscall.S_ISVTX != 0 {
		mode |= fs.ModeSticky
	}
	e := &Error{Name: name, UID: uid, Mode: mode}
	switch {
	case !trustedUID(uid):
		e.Why = "a directory owned by another user"
	case st.Mode&0o022 != 0 && st.Mode&syscall.S_ISVTX == 0:
		e.Why = "a directory writable by group or others without the sticky bit (give a group a device with smctl delegate)"
	default:
		return nil
	}
	return e
}

// File judges the open file f, naming it name in the error.
func File(name string, f *os.File) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	return Info(name, fi)
}

// Info judges a file from its fs.FileInfo, which must come from fstat of an
// open descriptor (os.File.Stat) for the judgement to hold.
func Info(name string, fi fs.FileInfo) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return &Error{Name: name, UID: -1, Mode: fi.Mode(), Why: "its owner is unknown"}
	}
	return Stat(name, st)
}

// Open opens the file at path for reading and judges it. The caller closes
// the file; on error it is already closed.
func Open(path string) (*os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	if err := File(path, f); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// ReadFile reads the file at path if it is trusted, at most max bytes.
func ReadFile(path string, max int64) ([]byte, error) {
	f, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, max))
}
