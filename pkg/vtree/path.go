package vtree

import (
	"errors"
	"io/fs"

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

func pathErr(op, p string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) && pe.Path == p {
		return err
	}
	return &fs.PathError{Op: op, Path: p, Err: err}
}

const (
	specialIDs    = "ids"
	specialLock   = "lock"
	specialStatus = "status"
)

func specialName(name, dir string) string {
	switch {
	case name == IDsName:
		return specialIDs
	case name == LockName:
		return specialLock
	case isResultName(name):
		return specialStatus
	}
	return ""
}
