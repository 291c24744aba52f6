package store

import (
	"bytes"
	"errors"
	"io/fs"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/smctl/smctl/pkg/agent"
	"github.com/smctl/smctl/pkg/status"
)

// Status is what NAME.status holds: the code and one-line message of the
// last agent run, and what ran (the value written, or the read agent's
// name). Its file is
//
//	<rc> [message]
//	ran: <what ran>
//	stale: the content is from an earlier run
//
// the second line only when Ran is set, the third when Stale is (a run
// that failed without storing content); the lines have their control
// characters escaped. When the run ended is the file's time, or the
// content's when that is later (see Store.Last).
type Status struct {
	RC      int
	Message string
	Ran     string
	Stale   bool
}

const staleLine = "stale: the content is from an earlier run\n"

// maxRan bounds what a status records of what ran (a long script written
// to a command file is recorded by its beginning).
const maxRan = 512

// Bytes is the status file's content.
func (st Status) Bytes() []byte {
	b := StatusLine(st.RC, st.Message)
	if ran := oneLine(st.Ran); ran != "" {
		if len(ran) > maxRan {
			ran = ran[:maxRan] + "..."
		}
		b = append(b, "ran: "+ran+"\n"...)
	}
	if st.Stale {
		b = append(b, staleLine...)
	}
	return b
}

func oneLine(s string) string {
	return agent.Escape(strings.ReplaceAll(strings.TrimSpace(s), "\n", " "))
}

// StatusLine is the first line of NAME.status: "<rc> [message]", the
// message on one line with control characters escaped.
func StatusLine(rc int, msg string) []byte {
	msg = oneLine(msg)
	line := strconv.Itoa(rc)
	if msg != "" {
		line += " " + msg
	}
	return []byte(line + "\n")
}

// ParseStatus reads a status file's content; false if it is not one.
func ParseStatus(b []byte) (Status, bool) {
	first, rest, _ := strings.Cut(string(b), "\n")
	code, msg, _ := strings.Cut(strings.TrimSpace(first), " ")
	rc, err := strconv.Atoi(code)
	if err != nil {
		return Status{}, false
	}
	st := Status{RC: rc, Message: msg}
	for _, l := range strings.Split(rest, "\n") {
		if v, ok := strings.CutPrefix(l, "ran: "); ok {
			st.Ran = v
		}
		st.Stale = st.Stale || l+"\n" == staleLine
	}
	return st, true
}

// maxStatus bounds a status file read back.
const maxStatus = 4096

// ReadStatus returns the status recorded for the file rel: its code and
// message, and false if there is none (or it is not a status line).
func (s *Store) ReadStatus(rel string) (int, string, bool) {
	b, err := s.ReadFile(rel+StatusSuffix, maxStatus)
	if err != nil {
		return 0, "", false
	}
	st, ok := ParseStatus(b)
	return st.RC, st.Message, ok
}

// Last is what a file's last agent run left: its status (Stale: the
// content is older than the failed run, the last value a read agent
// fetched, kept when the next run failed) and when it ended.
type Last struct {
	Status
	At time.Time
}

// Last returns the last run of the file rel, false if none left a status.
// A run rewrites the status file only when its status differs from the
// last one (thousands of nodes that succeed again replace their content
// only), so the run ended at the later of the status's and the content's
// times; a failed run leaves the content older than its status.
func (s *Store) Last(rel string) (Last, bool) {
	dir, name := SplitRel(rel)
	d, release, err := s.openDir(dir)
	if err != nil {
		return Last{}, false
	}
	defer release()
	fi, err := lstatAt(d.fd, name)
	if err != nil {
		return lastAt(d.fd, name, nil)
	}
	return lastAt(d.fd, name, &fi.st)
}

// ReadResult reads up to max bytes of the file rel, as ReadFile does, and
// the status its last run left (false: none), from one lookup of its
// directory: a cat of a stored file is its content and whether the run
// that left it failed.
//
// A directory not kept open is not opened for it: its files are opened
// from its parent's descriptor, through no symlink (openat2), and
// anything but the files found is answered as above.
func (s *Store) ReadResult(rel string, max int64) ([]byte, Last, bool, error) {
	dir, name := SplitRel(rel)
	if b, l, ok, done := s.readBeneath(dir, name, rel, max); done {
		return b, l, ok, nil
	}
	d, release, err := s.openDir(dir)
	if err != nil {
		return nil, Last{}, false, err
	}
	defer release()
	b, st, err := readShared(d.fd, name, rel, max)
	if err == syscall.ELOOP {
		b, err := s.readLink(rel, max) // a symlink: see ReadFile
		l, ok := s.Last(rel)
		return b, l, ok, err
	}
	if err != nil {
		return nil, Last{}, false, err
	}
	l, ok := lastAt(d.fd, name, st)
	return b, l, ok, nil
}

// readBeneath reads the file name of the directory dir, not kept open, and
// its status, from dir's parent: done is false if it could not (dir kept,
// a symlink on the way, anything missing or not a regular file, a kernel
// without openat2).
func (s *Store) readBeneath(dir, name, rel string, max int64) (b []byte, l Last, ok, done bool) {
	parent, dname := SplitRel(dir)
	s.mu.Lock()
	_, kept := s.dirs[dir]
	s.mu.Unlock()
	if kept || dir == "." || dir == "" || !beneath.Load() {
		return nil, Last{}, false, false
	}
	p, release, err := s.openDir(parent)
	if err != nil {
		return nil, Last{}, false, false
	}
	defer release()
	path := dname + "/" + name
	b, st, err := readShared(p.fd, path, rel, max)
	if err != nil {
		return nil, Last{}, false, false
	}
	l, ok = lastAt(p.fd, path, st)
	return b, l, ok, true
}

// lastAt reads the status of name in the directory dfd; content is
// name's stat (nil: it is missing).
func lastAt(dfd int, name string, content *syscall.Stat_t) (Last, bool) {
	// A shared lock keeps a writer from recycling the inode while it is
	// read (see exchange); one just replaced is read as it was, which a
	// reader of two files cannot tell from a read a moment earlier
	// (openShared's recheck buys nothing here).
	fd, err := openAt(dfd, name+StatusSuffix)
	if err != nil {
		return Last{}, false
	}
	defer syscall.Close(fd)
	var fst syscall.Stat_t
	// As openShared: a lock held is waited for only on a regular file.
	if syscall.Flock(fd, syscall.LOCK_SH|syscall.LOCK_NB) == syscall.EWOULDBLOCK {
		if syscall.Fstat(fd, &fst) != nil || fst.Mode&syscall.S_IFMT != syscall.S_IFREG {
			return Last{}, false
		}
		_ = syscall.Flock(fd, syscall.LOCK_SH)
	}
	if syscall.Fstat(fd, &fst) != nil || fst.Mode&syscall.S_IFMT != syscall.S_IFREG {
		return Last{}, false
	}
	mtime := time.Unix(fst.Mtim.Unix())
	b, err := readFD(fd, fst.Size, maxStatus)
	if err != nil {
		return Last{}, false
	}
	st, ok := ParseStatus(b)
	if !ok {
		return Last{}, false
	}
	l := Last{Status: st, At: mtime}
	if content != nil {
		if t := time.Unix(content.Mtim.Unix()); t.After(mtime) {
			l.At = t
		}
	}
	l.Stale = st.Stale && content != nil && content.Size > 0
	return l, true
}

// WriteStatus records the status st of a run on the file rel that stored
// no content: the content there, if any, is an earlier run's when st
// failed (Stale).
func (s *Store) WriteStatus(rel string, st Status) error {
	if st.RC != 0 {
		fi, err := s.Lstat(rel)
		st.Stale = err == nil && fi.Size() > 0
	}
	return s.WriteFile(rel+StatusSuffix, st.Bytes())
}

// statusIncomplete is the status of a file whose content is being
// replaced together with a new status: a kill between the two leaves it,
// so that no status ever vouches for content of another run.
var statusIncomplete = StatusLine(int(status.Interrupted), "the last run was interrupted while its result was stored")

// Result is what a run leaves in the store: the file's content, its
// status and, for a command, its whole standard error (NAME.stderr,
// removed after a run with none).
type Result struct {
	Content []byte
	Stderr  []byte
	// HasStderr stores Stderr in NAME.stderr; without it NAME.stderr is
	// left alone.
	HasStderr bool
	Status
}

// StoreResult stores a run's content and its status together, under a
// lock of the directory, so that both always come from the same run. When
// the status does not change (thousands of nodes that succeed), only the
// content (and stderr) is replaced; otherwise the status first says the
// result is being stored, then the content and the new status follow, so
// a kill part-way leaves a status that says the run did not complete.
func (s *Store) StoreResult(rel string, r Result) error {
	dir, name := SplitRel(rel)
	line := r.Status.Bytes()
	unlock, err := s.LockDir(dir)
	if err != nil {
		return err
	}
	defer unlock()
	names, data := []string{name}, [][]byte{r.Content}
	if r.HasStderr && len(r.Stderr) > 0 {
		names, data = append(names, name+StderrSuffix), append(data, r.Stderr)
	}
	same, err := s.holds(rel+StatusSuffix, line)
	if err != nil || !same {
		names, data = append(names, name+StatusSuffix), append(data, line)
		if !errors.Is(err, fs.ErrNotExist) { // a status to contradict first
			if err := s.WriteFiles(dir, []string{name + StatusSuffix}, [][]byte{statusIncomplete}); err != nil {
				return err
			}
		}
	}
	if r.HasStderr && len(r.Stderr) == 0 {
		// A run without stderr leaves no NAME.stderr (the tree shows it
		// empty): one unlink, or one failed lookup, rather than an inode.
		if err := s.unlink(dir, name+StderrSuffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return s.WriteFiles(dir, names, data)
}

// holds reports whether the file rel holds exactly want: one open and one
// read of up to len(want)+1 bytes. It takes no shared lock: the caller
// holds the directory's, and a torn read only costs a rewrite.
func (s *Store) holds(rel string, want []byte) (bool, error) {
	dir, name := SplitRel(rel)
	d, release, err := s.openDir(dir)
	if err != nil {
		return false, err
	}
	defer release()
	fd, err := openAt(d.fd, name)
	if err != nil {
		return false, &fs.PathError{Op: "open", Path: rel, Err: err}
	}
	defer syscall.Close(fd)
	buf := make([]byte, len(want)+1)
	n, err := syscall.Read(fd, buf) // a regular file: short only at its end
	if err != nil {
		return false, &fs.PathError{Op: "read", Path: rel, Err: err}
	}
	return bytes.Equal(buf[:n], want), nil
}

// unlink removes the file name of the directory dir (one unlinkat).
func (s *Store) unlink(dir, name string) error {
	d, release, err := s.openDir(dir)
	if err != nil {
		return err
	}
	defer release()
	if err := syscall.Unlinkat(d.fd, name); err != nil {
		return &fs.PathError{Op: "unlink", Path: JoinRel(dir, name), Err: err}
	}
	return nil
}
