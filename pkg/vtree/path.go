package vtree

import (
	"errors"
	"io/fs"
	"path"
	"strings"

	"github.com/smctl/smctl/pkg/vtree/vpath"
)

// Limits on virtual paths (package vpath).
const (
	MaxName = vpath.MaxName
	MaxPath = vpath.MaxPath
)

// ErrBadPath is wrapped by every path validation error.
var ErrBadPath = vpath.ErrBadPath

// Clean validates a virtual path and returns it in canonical form
// (vpath.Clean): absolute, no trailing slash, no "." or ".." elements, a
// leading "/sysman" dropped.
func Clean(p string) (string, error) { return vpath.Clean(p) }

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

// splitPath returns the directory and name of a clean virtual path.
func splitPath(vpath string) (string, string) {
	d, n := path.Split(vpath)
	if d != "/" {
		d = strings.TrimSuffix(d, "/")
	}
	return d, n
}

func pathErr(op, p string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) && pe.Path == p {
		return err
	}
	return &fs.PathError{Op: op, Path: p, Err: err}
}
