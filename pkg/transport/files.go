package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
	"time"
)

// FileOpener is the optional ability of a Transport to handle the node's
// files directly, as a file system (SFTP for ssh, plain file operations
// for Local): what smctl cp copies through. Check for it with OpenFiles.
type FileOpener interface {
	// OpenFiles opens the node's files for one operation; Close ends it.
	// When ctx ends, operations in progress fail and later ones too.
	OpenFiles(ctx context.Context) (Files, error)
}

// Files are one node's files, opened by OpenFiles. Names are the node's
// paths: absolute, or relative to the login directory (Local: to smctl's
// working directory). Errors wrap fs.ErrNotExist, fs.ErrExist or
// fs.ErrPermission where the node says so.
type Files interface {
	// Stat describes name, following a final symlink.
	Stat(name string) (fs.FileInfo, error)
	// Lstat describes name without following a final symlink.
	Lstat(name string) (fs.FileInfo, error)
	// ReadDir lists a directory, each entry as Lstat describes it.
	ReadDir(name string) ([]fs.FileInfo, error)
	// Open opens a file for reading.
	Open(name string) (io.ReadCloser, error)
	// CreateNew creates name for writing, failing if anything (a symlink
	// included) is already there; it is never followed.
	CreateNew(name string) (io.WriteCloser, error)
	// Mkdir makes a directory with the node's default permissions (0777
	// less its umask).
	Mkdir(name string) error
	// Chmod sets the permission bits (and setuid, setgid, sticky).
	Chmod(name string, mode fs.FileMode) error
	// Chtimes sets the access and modification times.
	Chtimes(name string, atime, mtime time.Time) error
	// Rename renames oldname to newname, replacing newname atomically.
	Rename(oldname, newname string) error
	// Remove removes a file or an empty directory.
	Remove(name string) error
	// Close ends the operation.
	Close() error
}

// OpenFiles opens the files of the node t reaches, when t can
// (FileOpener); otherwise the error wraps errors.ErrUnsupported. A Broken
// transport gives its own error.
func OpenFiles(ctx context.Context, t Transport) (Files, error) {
	switch t := t.(type) {
	case FileOpener:
		return t.OpenFiles(ctx)
	case Broken:
		return nil, t.Err
	}
	return nil, fmt.Errorf("transport %T cannot copy files: %w", t, errors.ErrUnsupported)
}

var (
	_ FileOpener = Local{}
	_ Files      = localFiles{}
)

// OpenFiles implements FileOpener with plain file operations.
func (Local) OpenFiles(ctx context.Context) (Files, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return localFiles{}, nil
}

// localFiles are this machine's files. Copies check their context between
// reads and writes (package filecopy), so these need none.
type localFiles struct{}

func (localFiles) Stat(name string) (fs.FileInfo, error)  { return os.Stat(name) }
func (localFiles) Lstat(name string) (fs.FileInfo, error) { return os.Lstat(name) }
func (localFiles) Open(name string) (io.ReadCloser, error) {
	return os.Open(name)
}
func (localFiles) Mkdir(name string) error                   { return os.Mkdir(name, 0o777) }
func (localFiles) Chmod(name string, mode fs.FileMode) error { return os.Chmod(name, mode) }
func (localFiles) Chtimes(name string, atime, mtime time.Time) error {
	return os.Chtimes(name, atime, mtime)
}
func (localFiles) Rename(oldname, newname string) error { return os.Rename(oldname, newname) }
func (localFiles) Remove(name string) error             { return os.Remove(name) }
func (localFiles) Close() error                         { return nil }

func (localFiles) CreateNew(name string) (io.WriteCloser, error) {
	return os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
}

func (localFiles) ReadDir(name string) ([]fs.FileInfo, error) {
	des, err := os.ReadDir(name)
	if err != nil {
		return nil, err
	}
	out := make([]fs.FileInfo, 0, len(des))
	for _, de := range des {
		info, err := de.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue // removed since it was listed
			}
			return nil, err
		}
		out = append(out, info)
	}
	return out, nil
}
