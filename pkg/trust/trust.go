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
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/user"
	"strconv"
	"syscall"
)

// ErrUntrusted is wrapped by every error for a file that is not trusted.
var ErrUntrusted = errors.New("untrusted file")

// Error describes a file that is not trusted.
type Error struct {
	Name string      // the file as the user knows it (a virtual path or a path)
	UID  int         // its owner
	Mode fs.FileMode // its mode
	Why  string      // what is wrong, e.g. "writable by group"
}

func (e *Error) Error() string {
	return fmt.Sprintf("untrusted file %s: owner %s, mode %04o: %s (it must be owned by root or %s and not writable by group or others)",
		e.Name, userName(e.UID), e.Mode.Perm(), e.Why, userName(os.Geteuid()))
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
	case uid != 0 && uid != os.Geteuid():
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
