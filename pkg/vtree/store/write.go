package store

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// writeFile replaces rel atomically: the data goes to a hidden temporary
// file in the same directory, which is renamed over rel, so a killed smctl
// never leaves a torn file. An existing regular file's permission bits
// (and, where the user may set them, owner and group) are kept; a new file
// gets 0666 less the umask; nothing is ever copied from a symlink or other
// non-regular entry found at rel. In a directory that its group or others
// may write (a delegated device), a stored result is made writable by them
// too, so that it can never be renamed into a trusted name and pass for
// one. Trusted names (see store.trusted) get a new inode owned by the
// writer, never writable by group or others. The user must be allowed to
// write the existing file: temp-and-rename would otherwise turn directory
// write access into file write access.
func (s *Store) WriteFile(rel string, data []byte) error {
	dir, name := SplitRel(rel)
	return s.WriteFiles(dir, []string{name}, [][]byte{data})
}

// WriteAttr writes the attribute file rel with the line v, and reports
// whether it wrote: always when it is missing; with overwrite, when it
// holds another value (a trusted file, read back); without, never over
// one that exists.
func (s *Store) WriteAttr(rel, v string, overwrite bool) (bool, error) {
	if !overwrite {
		if _, err := s.Lstat(rel); err == nil {
			return false, nil
		}
	} else if old, err := s.ReadTrusted(rel, 4096); err == nil && strings.TrimSpace(string(old)) == v {
		return false, nil
	}
	return true, s.WriteFile(rel, []byte(v+"\n"))
}

// writeFiles replaces several files of one directory, each atomically as
// writeFile does, walking to the directory once. It stops at the first
// error.
func (s *Store) WriteFiles(dir string, names []string, data [][]byte) error {
	d, release, err := s.openDir(dir)
	if err != nil {
		return err
	}
	defer release()
	var dmode fs.FileMode
	for i, name := range names {
		trusted := s.Trusted != nil && s.Trusted(dir, name)
		if !trusted && dmode == 0 {
			dmode = s.dirMode(dir)
		}
		if err := replace(d.fd, dmode, name, data[i], trusted); err != nil {
			return &fs.PathError{Op: "write", Path: JoinRel(dir, name), Err: err}
		}
	}
	return nil
}

// widen is what a stored result in a directory of mode dmode gains: the
// write bits the directory gives its group and others.
func widen(dmode fs.FileMode) fs.FileMode { return dmode.Perm() & 0o022 }

// replace replaces name in the directory dfd with data: see WriteFile.
func replace(dfd int, dmode fs.FileMode, name string, data []byte, trusted bool) error {
	var st *syscall.Stat_t
	old, err := lstatAt(dfd, name)
	switch {
	case err == nil && old.IsDir():
		return syscall.EISDIR
	case err == nil && old.Mode().IsRegular():
		st = &old.st
	case err == nil:
		// A symlink or other entry planted here is replaced, and nothing
		// of it (mode, owner) is kept.
	case err != syscall.ENOENT:
		return err
	}
	if st != nil {
		// May this user write the file itself? The mode answers for root
		// and for an owner with write permission; otherwise ask the kernel.
		uid := euid()
		if uid != 0 && !(int(st.Uid) == uid && st.Mode&0o200 != 0) {
			fd, err := openFlags(dfd, name, syscall.O_WRONLY, 0)
			if err != nil {
				return err
			}
			syscall.Close(fd)
		}
		if !trusted && len(name) <= MaxName {
			err := exchange(dfd, name, st, dmode, data)
			if !errors.Is(err, errNoExchange) {
				return err
			}
		}
	}
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	// Hidden, and short whatever the name's length.
	tmp := TempPrefix + hex.EncodeToString(rnd[:])
	fd, err := openFlags(dfd, tmp, syscall.O_WRONLY|syscall.O_CREAT|syscall.O_EXCL, 0o666)
	if err != nil {
		return err
	}
	werr := writeNew(fd, data)
	if werr == nil {
		werr = setMode(fd, newFileMode, st, dmode, name, trusted)
	}
	if werr == nil && st == nil && !trusted && widen(dmode)&0o020 != 0 {
		// A new result in a directory its group may write (a delegated
		// device) belongs to that group, which it is made writable for,
		// as the files delegation made (a command's first stderr file).
		var dst syscall.Stat_t
		if syscall.Fstat(dfd, &dst) == nil && int(dst.Gid) != egid() {
			_ = syscall.Fchown(fd, -1, int(dst.Gid))
		}
	}
	cerr := syscall.Close(fd)
	if werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = syscall.Renameat(dfd, tmp, dfd, name)
		if werr == syscall.EPERM && st != nil && !trusted {
			// A sticky (delegated) directory: a member may not replace the
			// owner's file, only write it where its mode allows, in place,
			// under the lock smctl's readers take.
			_ = syscall.Unlinkat(dfd, tmp)
			return writeInPlace(dfd, name, data)
		}
	}
	if werr != nil {
		_ = syscall.Unlinkat(dfd, tmp)
	}
	return werr
}

// writeNew writes all of data to fd at its offset: a new, empty file (no
// truncation needed, unlike writeFD's), or one open for appending.
func writeNew(fd int, data []byte) error {
	for len(data) > 0 {
		n, err := syscall.Write(fd, data)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		data = data[n:]
	}
	return nil
}

// writeInPlace rewrites the existing regular file name under an exclusive
// flock: smctl's readers (openShared) see the old or the new content.
func writeInPlace(dfd int, name string, data []byte) error {
	fd, err := openFlags(dfd, name, syscall.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer syscall.Close(fd)
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return err
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFREG || st.Nlink != 1 {
		return fmt.Errorf("%s: not a regular file with one link: not written in place", name)
	}
	if err := syscall.Flock(fd, syscall.LOCK_EX); err != nil {
		return err
	}
	return writeFD(fd, data)
}

// setMode gives the new file fd, whose permission bits are cur, its mode:
// for a trusted name, the old file's bits (else cur) less group and other
// write, and 0600 for ids, owned by the writer; for others, the old file's
// (st, nil if none) bits and, where the user may set them, its owner and
// group, plus the directory's group and other write bits (widen).
func setMode(fd int, cur fs.FileMode, st *syscall.Stat_t, dmode fs.FileMode, name string, trusted bool) error {
	want := cur.Perm()
	if st != nil {
		want = fs.FileMode(st.Mode & 0o777)
	}
	if trusted {
		want &^= 0o022
		if name == IDsName {
			want = 0o600
		}
	} else {
		want |= widen(dmode)
	}
	if want != cur.Perm() {
		if err := syscall.Fchmod(fd, uint32(want)); err != nil {
			return err
		}
	}
	if !trusted && st != nil && (int(st.Uid) != euid() || int(st.Gid) != egid()) {
		// Keeping the owner needs privilege and keeping the group needs
		// membership; without them the file stays the writer's.
		if syscall.Fchown(fd, int(st.Uid), int(st.Gid)) != nil {
			_ = syscall.Fchown(fd, -1, int(st.Gid))
		}
	}
	return nil
}

// errNoExchange says the file system cannot exchange two names atomically.
var errNoExchange = errors.New("renameat2 RENAME_EXCHANGE not supported")

// SpareRest is how long a spare must have been left alone before it is
// written over (a variable for tests).
var SpareRest = time.Second

// SparePrefix names the hidden spare of a file: the inode the next write
// goes into, which then trades places with the file. TempPrefix names the
// temporary files renamed over a file; leftovers of killed runs are swept
// (see sweepTemps).
const (
	SparePrefix = ".~s."
	TempPrefix  = ".~"
)

// exchange replaces name with data without allocating or freeing an inode:
// the data is written over name's spare, which is then exchanged with name
// in one atomic renameat2(RENAME_EXCHANGE); the old inode becomes the next
// spare. A reader sees the old or the new content, never a mix, and a
// killed smctl leaves at worst a torn spare. On file systems where
// creating and freeing small files is slow (journals, online discard) this
// is several times cheaper than a new temporary file renamed over the old.
// An flock on the spare keeps two writers of the same file apart. A spare
// is used only when it is a regular file with one link, owned by the
// writer; anything else found under its name (a planted hard link or
// symlink, another user's file) is removed and a new file written instead.
// st is name's stat (the mode and owner the new content keeps).
func exchange(dfd int, name string, st *syscall.Stat_t, dmode fs.FileMode, data []byte) error {
	spare := SparePrefix + name
	for attempt := 0; attempt < 3; attempt++ {
		fd, err := openFlags(dfd, spare, syscall.O_RDWR|syscall.O_CREAT, 0o600)
		if err != nil {
			_ = syscall.Unlinkat(dfd, spare) // a symlink (ELOOP) or a FIFO: not a spare
			return errNoExchange
		}
		fst, err := fstatFD(fd, spare)
		if err != nil {
			syscall.Close(fd)
			return errNoExchange
		}
		if !fst.Mode().IsRegular() || fst.st.Nlink > 1 || int(fst.st.Uid) != euid() {
			// Not a spare of ours: remove what is under the name, if it is
			// still what was opened, and write a new file instead.
			syscall.Close(fd)
			if lst, err := lstatAt(dfd, spare); err == nil && sameFile(&fst.st, &lst.st) {
				_ = syscall.Unlinkat(dfd, spare)
			}
			return errNoExchange
		}
		if err := syscall.Flock(fd, syscall.LOCK_EX); err != nil {
			syscall.Close(fd)
			return errNoExchange
		}
		lst, err := lstatAt(dfd, spare)
		if err != nil || !sameFile(&fst.st, &lst.st) {
			// Another writer swapped it in meanwhile (or it was unlinked,
			// Nlink 0): take the new spare.
			syscall.Close(fd)
			continue
		}
		// The spare was the file until its last exchange: a reader outside
		// smctl may still hold it open. Reuse it only once it has rested;
		// smctl's own readers hold a shared flock, which the one above
		// waits for.
		if time.Since(time.Unix(fst.st.Ctim.Unix())) < SpareRest {
			syscall.Close(fd)
			return errNoExchange
		}
		if err := writeOver(fd, data, lst.st.Size); err != nil {
			syscall.Close(fd)
			return errNoExchange
		}
		if err := setMode(fd, fst.Mode(), st, dmode, name, false); err != nil {
			// Another user's spare with another mode: a new file instead.
			syscall.Close(fd)
			return errNoExchange
		}
		err = renameExchange(dfd, spare, name)
		syscall.Close(fd)
		if errors.Is(err, syscall.EPERM) {
			return errNoExchange // a sticky directory: see replace
		}
		return err
	}
	return errNoExchange
}

func renameExchange(fd int, a, b string) error {
	err := unix.Renameat2(fd, a, fd, b, unix.RENAME_EXCHANGE)
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.ENOTSUP) {
		return errNoExchange
	}
	return err
}
