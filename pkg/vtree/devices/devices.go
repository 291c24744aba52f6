// Package devices creates, updates and removes the devices of a tree, as
// discovery and init do: the directory, its attribute files, its lock, and
// its line in the parent's device index.
package devices

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"slices"

	"github.com/smctl/smctl/pkg/vtree"
	"github.com/smctl/smctl/pkg/vtree/store"
	"github.com/smctl/smctl/pkg/vtree/vpath"
)

func pathErr(op, p string, err error) error { return &fs.PathError{Op: op, Path: p, Err: err} }

// unwrapPath is the cause of a store error, without the store's path.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// MakeDirs creates the virtual directory p and its parents as needed.
func MakeDirs(t *vtree.Tree, p string) error {
	p, err := vtree.Clean(p)
	if err != nil {
		return err
	}
	if err := t.Store().Root().MkdirAll(vpath.Rel(p), 0o777); err != nil {
		return pathErr("discover", p, unwrapPath(err))
	}
	return nil
}

// Add makes the directory p a device of type typ, with the attribute
// files attrs (written when missing or different), "address" (the device's
// name) and the type's attrs (each written only when missing), and a lock
// file if the type asks for one. It reports whether the device is new: an
// existing device of the same type keeps its other files. Update
// also says which attributes of an existing device it changed.
//
// The device's line in its parent's device index (store.IndexName), which
// makes the directory a device, is written last, after the attribute files
// and the lock: discovery cut short (killed, a full disk) leaves complete
// devices and at most one directory the index does not name, which is not
// a device yet and which adding it again treats as new and completes.
func Add(t *vtree.Tree, p, typ string, attrs map[string]string) (bool, error) {
	isNew, _, err := Update(t, p, typ, attrs)
	return isNew, err
}

// Update is Add, also returning, for an existing device, the
// names of the attributes of attrs whose value it changed (sorted).
func Update(t *vtree.Tree, p, typ string, attrs map[string]string) (bool, []string, error) {
	var changed []string
	p, err := vtree.Clean(p)
	if err != nil {
		return false, nil, err
	}
	tc, ok := t.Config.Types[typ]
	if !ok || p == "/" {
		return false, nil, pathErr("discover", p, fmt.Errorf("%w: %q", vtree.ErrBadType, typ))
	}
	r := vpath.Rel(p)
	isNew := false
	info, err := t.Store().Lstat(r)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		isNew = true
		if err := t.Store().Root().Mkdir(r, 0o777); err != nil {
			return false, nil, pathErr("discover", p, unwrapPath(err))
		}
	case err != nil:
		return false, nil, pathErr("discover", p, unwrapPath(err))
	case !info.IsDir():
		return false, nil, pathErr("discover", p, errors.New("exists and is not a directory"))
	default:
		if have := t.DeviceType(p); have != typ && have != "" {
			return false, nil, pathErr("discover", p, fmt.Errorf("exists as a %s", have))
		} else if have == "" {
			isNew = true
		}
	}
	_, name := vpath.Split(p)
	write := func(k, v string, overwrite bool) error {
		wrote, err := t.Store().WriteAttr(store.JoinRel(r, k), v, overwrite)
		if err != nil {
			return pathErr("discover", vpath.Join(p, k), unwrapPath(err))
		} else if wrote && overwrite {
			changed = append(changed, k)
		}
		return nil
	}
	for _, k := range slices.Sorted(maps.Keys(attrs)) {
		if err := write(k, attrs[k], true); err != nil {
			return false, nil, err
		}
	}
	if err := write("address", name, false); err != nil {
		return false, nil, err
	}
	for k, v := range tc.Attrs {
		if err := write(k, v, false); err != nil {
			return false, nil, err
		}
	}
	if tc.Lock {
		if err := t.Store().CreateLock(store.JoinRel(r, vtree.LockName)); err != nil {
			return false, nil, pathErr("discover", vpath.Join(p, vtree.LockName), unwrapPath(err))
		}
	}
	if isNew {
		parent, _ := store.SplitRel(r)
		if err := t.Store().IndexAdd(parent, name, typ); err != nil {
			return false, nil, pathErr("discover", p, unwrapPath(err))
		}
	}
	t.ForgetDevice(p)
	if isNew {
		changed = nil
	}
	return isNew, changed, nil
}

// Remove removes the device at p, with everything below it, if it
// is a device of type typ; it reports whether it was.
func Remove(t *vtree.Tree, p, typ string) (bool, error) {
	p, err := vtree.Clean(p)
	if err != nil || p == "/" {
		return false, err
	}
	if t.DeviceType(p) != typ {
		return false, nil
	}
	// The directory first: cut short, the index names a directory gone.
	if err := t.Store().Root().RemoveAll(vpath.Rel(p)); err != nil {
		return false, pathErr("remove", p, unwrapPath(err))
	}
	parent, name := store.SplitRel(vpath.Rel(p))
	if err := t.Store().IndexRemove(parent, name); err != nil {
		return false, pathErr("remove", p, unwrapPath(err))
	}
	t.ForgetDevice(p)
	return true, nil
}

// List returns the names in the virtual directory p of the backing tree,
// each with whether it is a directory; a missing directory is empty.
func List(t *vtree.Tree, p string) (map[string]bool, error) {
	p, err := vtree.Clean(p)
	if err != nil {
		return nil, err
	}
	des, err := t.Store().ReadDir(vpath.Rel(p))
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]bool{}, nil
	}
	if err != nil {
		return nil, pathErr("list", p, unwrapPath(err))
	}
	out := make(map[string]bool, len(des))
	for _, de := range des {
		out[de.Name()] = de.IsDir()
	}
	return out, nil
}
