package vtree

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// store is the backing tree: a real directory whose file contents are the
// last values read or written. All access goes through an os.Root, so
// symlinks in the backing tree cannot lead outside it.
type store struct {
	root *os.Root
	dir  string
}

func (s *store) lstat(rel string) (fs.FileInfo, error) { return s.root.Lstat(rel) }
func (s *store) stat(rel string) (fs.FileInfo, error)  { return s.root.Stat(rel) }

func (s *store) readFile(rel string, max int64) ([]byte, error) {
	f, err := s.root.Open(rel)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, max))
}

func (s *store) readDir(rel string) ([]fs.DirEntry, error) {
	f, err := s.root.Open(rel)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.ReadDir(-1)
}

// checkWritable fails with a permission error if the current user may not
// write the existing file rel; it changes nothing.
func (s *store) checkWritable(rel string) error {
	f, err := s.root.OpenFile(rel, os.O_WRONLY, 0)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	return f.Close()
}

// checkReadable fails if the current user may not read the existing file.
func (s *store) checkReadable(rel string) error {
	f, err := s.root.Open(rel)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	return f.Close()
}

// writeFile replaces rel atomically: the data goes to a hidden temporary
// file in the same directory, which is renamed over rel, so a killed smctl
// never leaves a torn file. An existing file's permission bits (and, where
// the user may set them, owner and group) are kept; a new file gets 0666
// less the umask. The user must be allowed to write the existing file:
// temp-and-rename would otherwise turn directory write access into file
// write access.
func (s *store) writeFile(rel string, data []byte) error {
	old, err := s.root.Lstat(rel)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if old != nil {
		if old.IsDir() {
			return syscall.EISDIR
		}
		if err := s.checkWritable(rel); err != nil {
			return err
		}
	}
	dir, _ := splitRel(rel)
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	// Hidden, and short whatever the name's length.
	tmp := joinRel(dir, ".~"+hex.EncodeToString(rnd[:]))
	f, err := s.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
	if err != nil {
		return err
	}
	_, werr := f.Write(data)
	cerr := f.Close()
	if werr == nil {
		werr = cerr
	}
	if werr == nil && old != nil {
		werr = s.root.Chmod(tmp, old.Mode().Perm())
		if st, ok := old.Sys().(*syscall.Stat_t); ok {
			// Keeping the owner needs privilege and keeping the group needs
			// membership; without them the file stays the writer's.
			_ = s.root.Lchown(tmp, int(st.Uid), int(st.Gid))
			_ = s.root.Lchown(tmp, -1, int(st.Gid))
		}
	}
	if werr == nil {
		werr = s.root.Rename(tmp, rel)
	}
	if werr != nil {
		_ = s.root.Remove(tmp)
	}
	return werr
}

func splitRel(rel string) (string, string) {
	for i := len(rel) - 1; i >= 0; i-- {
		if rel[i] == '/' {
			return rel[:i], rel[i+1:]
		}
	}
	return ".", rel
}

func joinRel(dir, name string) string {
	if dir == "." || dir == "" {
		return name
	}
	return dir + "/" + name
}
