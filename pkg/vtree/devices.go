package vtree

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"slices"

	"github.com/smctl/smctl/pkg/agent"
	"github.com/smctl/smctl/pkg/config"
	"github.com/smctl/smctl/pkg/vtree/store"
	"github.com/smctl/smctl/pkg/vtree/vpath"
)

// Extension adds to a tree what works above it through its methods
// (discovery): a section of smctl.yaml, and built-in agents attached once
// the tree is open.
type Extension interface {
	// Section is the extension's part of smctl.yaml; a zero Key is none.
	Section() config.Section
	// Attach gives the extension the opened tree and lets it register
	// built-in agents.
	Attach(t *Tree, r *agent.Registry)
}

// The device methods below are what discovery needs of a tree: the types
// and attribute names it may use, and creating and removing devices.

// DeviceTypes returns the device types of smctl.yaml.
func (t *Tree) DeviceTypes() map[string]config.Type { return t.Config.Types }

// TypeNames lists the declared device types, sorted.
func (t *Tree) TypeNames() []string { return slices.Sorted(maps.Keys(t.Config.Types)) }

// DeviceAttrs lists the attribute files a device of type typ may be
// given: the tree's (address, transport), the drivers' and the type's own.
func (t *Tree) DeviceAttrs(typ string) []string {
	out := t.attrNames()
	for k := range t.Config.Types[typ].Attrs {
		if !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}

// HasAgent reports whether files called name of devices of type typ have
// an agent for op (built in or in an agent directory).
func (t *Tree) HasAgent(typ, name string, op agent.Op) bool {
	h := t.hooksFor(typ)[name]
	if h == nil {
		return false
	}
	if op == agent.Read {
		return h.read != nil
	}
	return h.write != nil
}

// reaches reports whether the device dev has the attributes that the
// driver of h requires (read once per command, as its agents get them); a
// device that refuses to act keeps its files, whose use says why.
func (t *Tree) reaches(dev string, h *hook) bool {
	d := Device{}
	if len(h.file.Requires) > 0 {
		d = t.device(dev)
	}
	return d.Err != nil || h.file.Reaches(func(a string) bool { _, ok := d.Attrs[a]; return ok })
}

// DeviceType returns the type of the device at virtual path p, "" when p
// is not a device (or its marker is not trusted).
func (t *Tree) DeviceType(p string) string {
	p, err := Clean(p)
	if err != nil || p == "/" {
		return ""
	}
	return t.typeOf(vpath.Rel(p))
}

// List returns the names in the virtual directory p of the backing tree,
// each with whether it is a directory; a missing directory is empty.
func (t *Tree) List(p string) (map[string]bool, error) {
	p, err := Clean(p)
	if err != nil {
		return nil, err
	}
	des, err := t.store.ReadDir(vpath.Rel(p))
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

// MakeDirs creates the virtual directory p and its parents as needed.
func (t *Tree) MakeDirs(p string) error {
	p, err := Clean(p)
	if err != nil {
		return err
	}
	if err := t.store.Root().MkdirAll(vpath.Rel(p), 0o777); err != nil {
		return pathErr("discover", p, unwrapPath(err))
	}
	return nil
}

// AddDevice makes the directory p a device of type typ, with the attribute
// files attrs (written when missing or different), "address" (the device's
// name) and the type's attrs (each written only when missing), and a lock
// file if the type asks for one. It reports whether the device is new: an
// existing device of the same type keeps its other files. UpdateDevice
// also says which attributes of an existing device it changed.
//
// The device's line in its parent's device index (store.IndexName), which
// makes the directory a device, is written last, after the attribute files
// and the lock: discovery cut short (killed, a full disk) leaves complete
// devices and at most one directory the index does not name, which is not
// a device yet and which adding it again treats as new and completes.
func (t *Tree) AddDevice(p, typ string, attrs map[string]string) (bool, error) {
	isNew, _, err := t.UpdateDevice(p, typ, attrs)
	return isNew, err
}

// UpdateDevice is AddDevice, also returning, for an existing device, the
// names of the attributes of attrs whose value it changed (sorted).
func (t *Tree) UpdateDevice(p, typ string, attrs map[string]string) (bool, []string, error) {
	var changed []string
	p, err := Clean(p)
	if err != nil {
		return false, nil, err
	}
	tc, ok := t.Config.Types[typ]
	if !ok || p == "/" {
		return false, nil, pathErr("discover", p, fmt.Errorf("%w: %q", ErrBadType, typ))
	}
	r := vpath.Rel(p)
	isNew := false
	info, err := t.store.Lstat(r)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		isNew = true
		if err := t.store.Root().Mkdir(r, 0o777); err != nil {
			return false, nil, pathErr("discover", p, unwrapPath(err))
		}
	case err != nil:
		return false, nil, pathErr("discover", p, unwrapPath(err))
	case !info.IsDir():
		return false, nil, pathErr("discover", p, errors.New("exists and is not a directory"))
	default:
		if have := t.typeOf(r); have != typ && have != "" {
			return false, nil, pathErr("discover", p, fmt.Errorf("exists as a %s", have))
		} else if have == "" {
			isNew = true
		}
	}
	_, name := vpath.Split(p)
	write := func(k, v string, overwrite bool) error {
		wrote, err := t.store.WriteAttr(store.JoinRel(r, k), v, overwrite)
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
		if err := t.store.CreateLock(store.JoinRel(r, LockName)); err != nil {
			return false, nil, pathErr("discover", vpath.Join(p, LockName), unwrapPath(err))
		}
	}
	if isNew {
		parent, _ := store.SplitRel(r)
		if err := t.store.IndexAdd(parent, name, typ); err != nil {
			return false, nil, pathErr("discover", p, unwrapPath(err))
		}
	}
	t.forgetType(r)
	t.forgetDevice(p)
	if isNew {
		changed = nil
	}
	return isNew, changed, nil
}

// RemoveDevice removes the device at p, with everything below it, if it
// is a device of type typ; it reports whether it was.
func (t *Tree) RemoveDevice(p, typ string) (bool, error) {
	p, err := Clean(p)
	if err != nil || p == "/" {
		return false, err
	}
	if t.typeOf(vpath.Rel(p)) != typ {
		return false, nil
	}
	// The directory first: cut short, the index names a directory gone.
	if err := t.store.Root().RemoveAll(vpath.Rel(p)); err != nil {
		return false, pathErr("remove", p, unwrapPath(err))
	}
	parent, name := store.SplitRel(vpath.Rel(p))
	if err := t.store.IndexRemove(parent, name); err != nil {
		return false, pathErr("remove", p, unwrapPath(err))
	}
	t.forgetType(vpath.Rel(p))
	t.forgetDevice(p)
	return true, nil
}

// Fanout is the configured fan-out (smctl.yaml's fanout).
func (t *Tree) Fanout() int { return t.Config.Fanout }

// AgentDirs returns the configured agent directories as absolute paths.
func (t *Tree) AgentDirs() []string { return t.agentDirs() }

// Self is the smctl binary given to script agents as $SMCTL_BIN.
func (t *Tree) Self() string { return t.opts.Self }
