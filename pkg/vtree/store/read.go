package store

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/smctl/smctl/pkg/trust"
)

// readFiles reads the named files of directory dir (missing ones are
// left out), walking to the directory once. Each file must be trusted
// (readTrustedIn); the first that is not is the error, named by its
// virtual path. The same listing sweeps temporary files left by killed
// runs.
func (s *Store) ReadFiles(dir string, names []string, max int64) (map[string][]byte, error) {
	out := map[string][]byte{}
	d, release, err := s.openDir(dir)
	if err != nil {
		return out, nil
	}
	defer release()
	// One listing tells which of the names exist; the files are then read
	// relative to the directory's kept descriptor, with no os.File each
	// (see readTrustedAt).
	if present, err := listDir(s, d, dir); err == nil {
		have := make(map[string]bool, len(present))
		for _, e := range present {
			p := e.Name()
			have[p] = true
			if IsTemp(p) {
				sweepTemp(d.fd, p)
			}
		}
		// The listing answers HasFile for the device's lock and ids,
		// which a run asks next.
		s.noteFiles(dir, present, LockName, IDsName)
		var keep []string
		for _, n := range names {
			if have[n] {
				keep = append(keep, n)
			}
		}
		names = keep
	}
	for _, n := range names {
		b, err := readTrustedAt(d.fd, n, "/"+JoinRel(dir, n), max)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return out, err
		}
		out[n] = b
	}
	return out, nil
}

// readTrusted reads the file rel, which decides what smctl runs or where
// it connects, if it is trusted: a regular file with one link, not a
// symlink, owned by root or the running user and not writable by group or
// others (judged on the open descriptor).
func (s *Store) ReadTrusted(rel string, max int64) ([]byte, error) {
	dir, name := SplitRel(rel)
	d, release, err := s.openDir(dir)
	if err != nil {
		return nil, err
	}
	defer release()
	return readTrustedAt(d.fd, name, "/"+strings.TrimPrefix(rel, "./"), max)
}

// checkTrusted judges the file vpath from fstat of its open descriptor:
// owned by root or the running user, writable by neither group nor
// others, a regular file with one link.
func checkTrusted(vpath string, st *syscall.Stat_t) error {
	if err := trust.Stat(vpath, st); err != nil {
		return err
	}
	mode := fs.FileMode(st.Mode & 0o777)
	switch {
	case st.Mode&syscall.S_IFMT != syscall.S_IFREG:
		return &trust.Error{Name: vpath, UID: int(st.Uid), Mode: mode | fs.ModeIrregular, Why: "not a regular file"}
	case st.Nlink != 1:
		return &trust.Error{Name: vpath, UID: int(st.Uid), Mode: mode, Why: fmt.Sprintf("it has %d hard links", st.Nlink)}
	}
	return nil
}

// readTrustedAt reads the trusted file name (one element, no slash) of the
// directory open as dirfd, with raw system calls: open, fstat, read,
// close, and no os.File (whose registration with the poller costs a
// failed epoll_ctl per file, and a finalizer). A symlink is refused as
// one (O_NOFOLLOW). A negative limit reads the whole file, and fails for
// one larger than -limit bytes.
func readTrustedAt(dirfd int, name, vpath string, limit int64) ([]byte, error) {
	fd, err := openAt(dirfd, name)
	switch {
	case err == syscall.ELOOP:
		return nil, &trust.Error{Name: vpath, UID: -1, Why: "it is a symlink"}
	case err != nil:
		return nil, &fs.PathError{Op: "open", Path: vpath, Err: err}
	}
	defer syscall.Close(fd)
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return nil, &fs.PathError{Op: "stat", Path: vpath, Err: err}
	}
	if err := checkTrusted(vpath, &st); err != nil {
		return nil, err
	}
	if limit < 0 { // all of it, or an error
		if st.Size > -limit {
			return nil, &fs.PathError{Op: "read", Path: vpath, Err: fmt.Errorf("larger than %d bytes", -limit)}
		}
		limit = -limit
	}
	b, err := readFD(fd, st.Size, limit)
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: vpath, Err: err}
	}
	return b, nil
}

// readSized reads at most max bytes of the open regular file f, whose
// size was size when it was stat'ed: one read when the file has not grown
// since (a read returning less than asked is the end of a regular file).
func readSized(f *os.File, size, max int64) ([]byte, error) {
	if size < 0 || size >= max {
		return io.ReadAll(io.LimitReader(f, max))
	}
	buf := make([]byte, size+1)
	n, err := f.Read(buf)
	switch {
	case err == io.EOF || err == nil && n <= int(size):
		return buf[:n], nil
	case err != nil:
		return nil, err
	}
	// It grew: read the rest as it comes.
	rest, err := io.ReadAll(io.LimitReader(f, max-int64(n)))
	return append(buf[:n], rest...), err
}

// tempRest is how old a temporary file must be before a listing sweeps it
// as the leftover of a killed run (a live write holds one for
// milliseconds).
var tempRest = 10 * time.Minute

// isTemp reports the names of writeFile's temporary files.
func IsTemp(name string) bool {
	if len(name) != len(TempPrefix)+16 || !strings.HasPrefix(name, TempPrefix) {
		return false
	}
	_, err := hex.DecodeString(name[len(TempPrefix):])
	return err == nil
}

// sweepTemp removes the temporary file name of the directory dfd if it
// has rested long enough to be the leftover of a killed run.
func sweepTemp(dfd int, name string) {
	if st, err := lstatAt(dfd, name); err == nil && st.Mode().IsRegular() && time.Since(st.ModTime()) > tempRest {
		_ = syscall.Unlinkat(dfd, name)
	}
}
