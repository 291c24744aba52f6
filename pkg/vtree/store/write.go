package store

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
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

// writeFiles replaces several files of one directory, each atomically as
// writeFile does, walking to the directory once. It stops at the first
// error.
func (s *Store) WriteFiles(dir string, names []string, data [][]byte) error {
	d, dfd, release, err := s.dirFD(dir)
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
		if err := replace(d, dfd, dmode, name, data[i], trusted); err != nil {
			return err
		}
	}
	return nil
}

// widen is what a stored result in a directory of mode dmode gains: the
// write bits the directory gives its group and others.
func widen(dmode fs.FileMode) fs.FileMode { return dmode.Perm() & 0o022 }

// replace replaces name in d (whose raw descriptor is dfd, or -1) with
// data: see WriteFile.
func replace(d *os.Root, dfd int, dmode fs.FileMode, name string, data []byte, trusted bool) error {
	old, err := d.Lstat(name)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	var st *syscall.Stat_t
	if old != nil {
		if old.IsDir() {
			return syscall.EISDIR
		}
		if !old.Mode().IsRegular() {
			// A symlink or other entry planted here is replaced, and
			// nothing of it (mode, owner) is kept.
			old = nil
		}
	}
	if old != nil {
		st, _ = old.Sys().(*syscall.Stat_t)
		// May this user write the file itself? The mode answers for root
		// and for an owner with write permission; otherwise ask the kernel.
		uid := euid()
		if st == nil || uid != 0 && !(int(st.Uid) == uid && st.Mode&0o200 != 0) {
			f, err := d.OpenFile(name, os.O_WRONLY|syscall.O_NOFOLLOW, 0)
			if err != nil {
				return err
			}
			f.Close()
		}
		if !trusted && len(name) <= MaxName {
			err := exchange(d, dfd, name, old, st, dmode, data)
			if !errors.Is(err, errNoExchange) {
				return err
			}
		}
	}
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	// Hidden, and short whatever the name's length.
	tmp := TempPrefix + hex.EncodeToString(rnd[:])
	f, err := d.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NONBLOCK, 0o666)
	if err != nil {
		return err
	}
	_, werr := f.Write(data)
	if werr == nil {
		werr = setMode(f, newFileMode, old, st, dmode, name, trusted)
	}
	if werr == nil && old == nil && !trusted && widen(dmode)&0o020 != 0 {
		// A new result in a directory its group may write (a delegated
		// device) belongs to that group, which it is made writable for,
		// as the files delegation made (a command's first stderr file).
		if ds, err := d.Stat("."); err == nil {
			if dst, ok := ds.Sys().(*syscall.Stat_t); ok && int(dst.Gid) != egid() {
				_ = f.Chown(-1, int(dst.Gid))
			}
		}
	}
	cerr := f.Close()
	if werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = d.Rename(tmp, name)
		if errors.Is(werr, syscall.EPERM) && old != nil && !trusted {
			// A sticky (delegated) directory: a member may not replace the
			// owner's file, only write it where its mode allows, in place,
			// under the lock smctl's readers take.
			_ = d.Remove(tmp)
			return writeInPlace(d, name, data)
		}
	}
	if werr != nil {
		_ = d.Remove(tmp)
	}
	return werr
}

// writeInPlace rewrites the existing regular file name under an exclusive
// flock: smctl's readers (openShared) see the old or the new content.
func writeInPlace(d *os.Root, name string, data []byte) error {
	f, err := d.OpenFile(name, os.O_WRONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if sys, ok := fi.Sys().(*syscall.Stat_t); !ok || !fi.Mode().IsRegular() || sys.Nlink != 1 {
		return fmt.Errorf("%s: not a regular file with one link: not written in place", name)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		return err
	}
	return writeAll(f, data)
}

// setMode gives the new file f, whose permission bits are cur, its mode:
// for a trusted name, the old file's bits (else cur) less group and other
// write, and 0600 for ids, owned by the writer; for others, the old file's
// bits and, where the user may set them, its owner and group, plus the
// directory's group and other write bits (widen).
func setMode(f *os.File, cur fs.FileMode, old fs.FileInfo, st *syscall.Stat_t, dmode fs.FileMode, name string, trusted bool) error {
	want := cur.Perm()
	if old != nil {
		want = old.Mode().Perm()
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
		if err := f.Chmod(want); err != nil {
			return err
		}
	}
	if !trusted && st != nil && (int(st.Uid) != euid() || int(st.Gid) != egid()) {
		// Keeping the owner needs privilege and keeping the group needs
		// membership; without them the file stays the writer's.
		if f.Chown(int(st.Uid), int(st.Gid)) != nil {
			_ = f.Chown(-1, int(st.Gid))
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
func exchange(d *os.Root, dfd int, name string, old fs.FileInfo, st *syscall.Stat_t, dmode fs.FileMode, data []byte) error {
	spare := SparePrefix + name
	for attempt := 0; attempt < 3; attempt++ {
		f, err := d.OpenFile(spare, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0o600)
		if err != nil {
			_ = d.Remove(spare) // a symlink (ELOOP) or a FIFO: not a spare
			return errNoExchange
		}
		fst, err1 := f.Stat()
		if err1 != nil {
			f.Close()
			return errNoExchange
		}
		sys, ok := fst.Sys().(*syscall.Stat_t)
		if !ok || !fst.Mode().IsRegular() || sys.Nlink > 1 || int(sys.Uid) != euid() {
			// Not a spare of ours: remove what is under the name, if it is
			// still what was opened, and write a new file instead.
			f.Close()
			if lst, err := d.Lstat(spare); err == nil && os.SameFile(fst, lst) {
				_ = d.Remove(spare)
			}
			return errNoExchange
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
			f.Close()
			return errNoExchange
		}
		lst, err2 := d.Lstat(spare)
		if err2 != nil || !os.SameFile(fst, lst) {
			// Another writer swapped it in meanwhile (or it was unlinked,
			// Nlink 0): take the new spare.
			f.Close()
			continue
		}
		// The spare was the file until its last exchange: a reader outside
		// smctl may still hold it open. Reuse it only once it has rested;
		// smctl's own readers hold a shared flock, which the one above
		// waits for.
		if time.Since(time.Unix(sys.Ctim.Unix())) < SpareRest {
			f.Close()
			return errNoExchange
		}
		if err := writeAll(f, data); err != nil {
			f.Close()
			return errNoExchange
		}
		if err := setMode(f, fst.Mode(), old, st, dmode, name, false); err != nil {
			// Another user's spare with another mode: a new file instead.
			f.Close()
			return errNoExchange
		}
		err = renameExchange(d, dfd, spare, name)
		f.Close()
		if errors.Is(err, syscall.EPERM) {
			return errNoExchange // a sticky directory: see replace
		}
		return err
	}
	return errNoExchange
}

func writeAll(f *os.File, data []byte) error {
	if _, err := f.WriteAt(data, 0); err != nil {
		return err
	}
	return f.Truncate(int64(len(data)))
}

func renameExchange(d *os.Root, fd int, a, b string) error {
	if fd < 0 {
		dir, err := d.OpenFile(".", os.O_RDONLY|syscall.O_NONBLOCK, 0)
		if err != nil {
			return err
		}
		defer dir.Close()
		fd = int(dir.Fd())
	}
	err := unix.Renameat2(fd, a, fd, b, unix.RENAME_EXCHANGE)
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.ENOTSUP) {
		return errNoExchange
	}
	return err
}
