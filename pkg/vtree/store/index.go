package store

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/smctl/smctl/pkg/status"
)

// IndexName is the device index of a directory: which of the directories
// in it are devices, and of which type, one "NAME TYPE" line each. A find
// over 2000 devices reads one index instead of 2000 type markers (four
// system calls each). It is trusted as a type marker is (owned by root or
// the running user, writable by neither group nor others, one link), and
// only a line ended by its newline counts: a write cut short by a kill
// adds no device. Devices are added by appending a line under the
// directory's lock and removed by replacing the index with one without
// them; plain cat shows it.
const IndexName = ".devices"

// indexHeader is the index's first line.
const indexHeader = "# smctl device index: NAME TYPE, one device a line\n"

// MaxIndex bounds an index read: some 40 bytes a device.
const MaxIndex = 64 << 20

// maxIndex is MaxIndex, lowered by tests.
var maxIndex int64 = MaxIndex

// TypeFile is the type marker of a directory that its parent's index does
// not name: a device of the type it holds (made by hand, or by an earlier
// smctl).
const TypeFile = ".type"

// DeviceType returns what the backing tree says the directory rel is: the
// type its parent's device index names (indexed), else the content of its
// own type marker; "" for a plain directory. MarkerName(rel, indexed)
// names the marker, for errors. An index or marker that is not to be
// trusted is an error. Indexes are read once per command (ForgetDirs drops
// them).
func (s *Store) DeviceType(rel string) (typ string, indexed bool, err error) {
	parent, name := SplitRel(rel)
	s.mu.Lock()
	idx, ok := s.indexes[parent]
	s.mu.Unlock()
	if !ok {
		idx.types, idx.err = s.ReadIndex(parent)
		s.mu.Lock()
		if s.indexes == nil {
			s.indexes = map[string]index{}
		}
		s.indexes[parent] = idx
		s.mu.Unlock()
	}
	if typ, ok := idx.types[name]; ok || idx.err != nil {
		return typ, true, idx.err
	}
	b, err := s.ReadTrusted(JoinRel(rel, TypeFile), 256)
	switch {
	case errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR):
		return "", false, nil
	case err != nil:
		return "", false, err
	}
	return strings.TrimSpace(string(b)), false, nil
}

// MarkerName names the type marker of the directory rel, for messages:
// its line in its parent's device index (indexed), or its own TypeFile.
func MarkerName(rel string, indexed bool) string {
	if indexed {
		parent, name := SplitRel(rel)
		return JoinRel(parent, IndexName) + " (" + name + ")"
	}
	return JoinRel(rel, TypeFile)
}

// index is a directory's device index as read.
type index struct {
	types map[string]string
	err   error
}

// forgetIndexes drops the indexes read of rel and below it; s.mu is held.
// The parent's, which names rel, stays: this store's own changes to an
// index drop it (indexChange), another program's are a change of the
// index, which a watch reports as such (forgetting its directory). Dropping
// it with each device forgotten made re-discovering 5000 devices read the
// index 5000 times.
func (s *Store) forgetIndexes(rel string) {
	for k := range s.indexes {
		if k == rel || rel == "" || rel == "." || strings.HasPrefix(k, rel+"/") {
			delete(s.indexes, k)
		}
	}
}

// ReadIndex returns the device index of the directory dir: nil and no
// error when it has none, an error when it is not to be trusted.
func (s *Store) ReadIndex(dir string) (map[string]string, error) {
	b, err := s.ReadTrusted(JoinRel(dir, IndexName), -maxIndex)
	switch {
	case errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR):
		return nil, nil
	case err != nil:
		return nil, err
	}
	idx, err := ParseIndex(b)
	if err != nil {
		// Trusted but not an index (edited by hand): its devices refuse,
		// naming it.
		return nil, status.Mark(fmt.Errorf("device index /%s: %w", JoinRel(dir, IndexName), err), status.ErrUntrusted)
	}
	return idx, nil
}

// ReadIndexFile reads the device index rel (the file itself) in root as
// ReadIndex reads a directory's, for readers without a store (a watch),
// and returns its content (ParseIndex parses it): never through a
// symlink, never waiting on a FIFO, only a trusted regular file of at
// most MaxIndex bytes.
func ReadIndexFile(root *os.Root, rel string) ([]byte, error) {
	f, err := root.OpenFile(rel, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if err := checkTrusted("/"+rel, fi.Sys().(*syscall.Stat_t)); err != nil {
		return nil, err
	}
	if fi.Size() > maxIndex {
		return nil, &fs.PathError{Op: "read", Path: rel, Err: fmt.Errorf("larger than %d bytes", maxIndex)}
	}
	return io.ReadAll(io.LimitReader(f, maxIndex+1))
}

// ParseIndex parses an index: "NAME TYPE" lines, NAME quoted as a Go
// string when it holds a space, a quote, a backslash or a byte that is
// not printable ASCII; '#' starts a comment line. A last line without its
// newline is ignored (an append cut short). The last line for a name wins.
func ParseIndex(b []byte) (map[string]string, error) {
	out := map[string]string{}
	for n := 1; len(b) > 0; n++ {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			break
		}
		line := string(b[:i])
		b = b[i+1:]
		if line == "" || line[0] == '#' {
			continue
		}
		name, typ, ok := parseIndexLine(line)
		if !ok {
			return nil, fmt.Errorf("line %d: %q: want NAME TYPE", n, line)
		}
		out[name] = typ
	}
	return out, nil
}

func parseIndexLine(line string) (name, typ string, ok bool) {
	i := strings.LastIndexByte(line, ' ')
	if i <= 0 || i == len(line)-1 {
		return "", "", false
	}
	name, typ = line[:i], line[i+1:]
	if name[0] == '"' {
		uq, err := strconv.Unquote(name)
		if err != nil {
			return "", "", false
		}
		name = uq
	} else if needsQuote(name) {
		return "", "", false
	}
	if name == "" || name == "." || name == ".." || strings.ContainsRune(name, '/') {
		return "", "", false
	}
	return name, typ, true
}

// indexLine formats one index line.
func indexLine(name, typ string) string {
	if needsQuote(name) {
		name = strconv.Quote(name)
	}
	return name + " " + typ + "\n"
}

func needsQuote(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || c == '"' || c == '\\' {
			return true
		}
	}
	return s != "" && s[0] == '#'
}

// IndexAdd adds name, of type typ, to the device index of dir, under the
// directory's lock: a line appended, the index made if missing. Nothing
// is written when the index already says so.
func (s *Store) IndexAdd(dir, name, typ string) error {
	// What a line could not hold back is refused, not written.
	if typ == "" || needsQuote(typ) || name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
		return &fs.PathError{Op: "index", Path: JoinRel(dir, name), Err: fmt.Errorf("device %q of type %q: not a name the index can hold", name, typ)}
	}
	return s.indexChange(dir, func(idx map[string]string, fd int) (bool, error) {
		if have, ok := idx[name]; ok && have == typ {
			return false, nil
		}
		if err := writeNew(fd, []byte(indexLine(name, typ))); err != nil {
			return false, err
		}
		idx[name] = typ
		return false, nil
	})
}

// IndexRemove removes name from the device index of dir, under the
// directory's lock, by replacing the index atomically.
func (s *Store) IndexRemove(dir, name string) error {
	return s.indexChange(dir, func(idx map[string]string, _ int) (bool, error) {
		if _, ok := idx[name]; !ok {
			return false, nil
		}
		delete(idx, name)
		return true, nil
	})
}

// indexChange runs change on the index of dir (parsed, and open for
// appending) under the directory's lock; when change asks, the index is
// replaced with what idx then holds, sorted.
func (s *Store) indexChange(dir string, change func(idx map[string]string, fd int) (bool, error)) error {
	unlock, err := s.LockDir(dir)
	if err != nil {
		return err
	}
	defer unlock()
	defer func() { // what DeviceType read of it is out of date
		s.mu.Lock()
		delete(s.indexes, dir)
		s.mu.Unlock()
	}()
	d, release, err := s.openDir(dir)
	if err != nil {
		return err
	}
	defer release()
	vpath := "/" + JoinRel(dir, IndexName)
	fail := func(op string, err error) error {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return err
		}
		return &fs.PathError{Op: op, Path: vpath, Err: err}
	}
	// The index is opened (made) after the lock: a replacement by another
	// writer is then already in place. Only one this call made is
	// written before it is judged: one found (anyone's, perhaps a hard
	// link to a file elsewhere) is judged first, as it is.
	fd, created, err := openIndex(d.fd)
	if err != nil {
		return fail("open", err)
	}
	defer syscall.Close(fd)
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return fail("stat", err)
	}
	if created {
		// Never writable by group or others, whatever the umask.
		if err := syscall.Fchmod(fd, 0o644); err != nil {
			return fail("chmod", err)
		}
		if err := writeNew(fd, []byte(indexHeader)); err != nil {
			return fail("write", err)
		}
		st.Mode = st.Mode&^0o777 | 0o644
	}
	if err := checkTrusted(vpath, &st); err != nil {
		return err
	}
	// What this store last wrote is known while the index is as it left
	// it: discovering 10000 devices reads it once, not 10000 times.
	s.mu.Lock()
	last, ok := s.written[dir]
	s.mu.Unlock()
	idx := last.types
	if !ok || last.ino != st.Ino || last.size != st.Size {
		if st.Size > maxIndex {
			return fail("read", fmt.Errorf("larger than %d bytes", maxIndex))
		}
		b, err := readFD(fd, st.Size, maxIndex+1)
		if err != nil {
			return fail("read", err)
		}
		if idx, err = ParseIndex(b); err != nil {
			return fail("read", err)
		}
	}
	s.mu.Lock()
	delete(s.written, dir) // until the change is done
	s.mu.Unlock()
	rewrite, err := change(idx, fd)
	if err != nil {
		return fail("write", err)
	}
	if !rewrite {
		if err := syscall.Fstat(fd, &st); err == nil {
			s.remember(dir, idx, &st)
		}
		return nil
	}
	var buf strings.Builder
	buf.WriteString(indexHeader)
	for _, name := range slices.Sorted(maps.Keys(idx)) {
		buf.WriteString(indexLine(name, idx[name]))
	}
	if err := replace(d.fd, 0, IndexName, []byte(buf.String()), true); err != nil {
		return fail("write", err)
	}
	if st, err := lstatAt(d.fd, IndexName); err == nil {
		s.remember(dir, idx, &st.st)
	}
	return nil
}

// openIndex opens the index of the directory dfd for reading and
// appending, making it if there is none (created reports that).
func openIndex(dfd int) (fd int, created bool, err error) {
	for range 3 { // made or removed by another writer meanwhile: again
		fd, err = openFlags(dfd, IndexName, syscall.O_RDWR|syscall.O_APPEND|syscall.O_CREAT|syscall.O_EXCL, 0o644)
		if err != syscall.EEXIST {
			return fd, err == nil, err
		}
		fd, err = openFlags(dfd, IndexName, syscall.O_RDWR|syscall.O_APPEND, 0)
		if err != syscall.ENOENT {
			return fd, false, err
		}
	}
	return -1, false, err
}

// indexState is an index as this store last wrote it.
type indexState struct {
	types map[string]string
	ino   uint64
	size  int64
}

// remember notes the index of dir as written, types with st.
func (s *Store) remember(dir string, types map[string]string, st *syscall.Stat_t) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.written == nil {
		s.written = map[string]indexState{}
	}
	s.written[dir] = indexState{types: types, ino: st.Ino, size: st.Size}
}
