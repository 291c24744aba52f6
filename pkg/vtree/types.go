package vtree

import (
	"errors"
	"fmt"
	"github.com/smctl/smctl/pkg/config"
	"maps"
	"slices"
	"strings"
	"syscall"

	"github.com/smctl/smctl/pkg/status"
	"github.com/smctl/smctl/pkg/trust"
	"github.com/smctl/smctl/pkg/vtree/store"
)

// Device types and trust: what a directory's type marker says, which
// names decide what smctl runs, and the per-command caches of both.

// typeInfo is what a directory's type marker says.
type typeInfo struct {
	typ string
	err error // the marker is not trusted or names no declared type
}

// typeOf returns the device type of the backing directory rel, "" if it is
// not a device or its marker is not to be trusted (see typeInfoOf).
func (t *Tree) typeOf(rel string) string {
	typ, err := t.typeInfoOf(rel)
	if err != nil {
		return ""
	}
	return typ
}

// typeInfoOf returns the device type of the backing directory rel (see
// store.DeviceType), "" if it is not a device. A marker not trusted or not
// naming a declared type is an error: the device refuses every operation.
func (t *Tree) typeInfoOf(rel string) (string, error) {
	t.mu.Lock()
	ti, ok := t.types[rel]
	t.mu.Unlock()
	if ok {
		return ti.typ, ti.err
	}
	typ, indexed, err := t.store.DeviceType(rel)
	if ti = (typeInfo{typ: typ, err: err}); err == nil && typ != "" {
		ti.err = t.checkType(rel, indexed, typ)
	}
	if ti.err != nil {
		ti.typ = ""
	}
	t.mu.Lock()
	t.types[rel] = ti
	t.mu.Unlock()
	return ti.typ, ti.err
}

// ErrBadType is wrapped by the error for a type marker that names no type
// declared in smctl.yaml.
var ErrBadType = status.Mark(errors.New("not a declared device type"), status.ErrUntrusted)

// checkType accepts only type names declared in smctl.yaml, which are
// plain names ([a-z0-9_-]+), never paths, for the directory rel typed by
// its index line (indexed) or its own marker.
func (t *Tree) checkType(rel string, indexed bool, typ string) error {
	if _, ok := t.Config.Types[typ]; ok && config.ValidTypeName(typ) {
		return nil
	}
	q := typ
	if len(q) > 40 {
		q = q[:40] + "..."
	}
	return fmt.Errorf("type marker /%s: %q: %w (declared: %s)", store.MarkerName(rel, indexed), q, ErrBadType, strings.Join(t.TypeNames(), ", "))
}

// trustedName reports the file names that decide what smctl runs, where it
// connects or what it sends: the type marker, ids, attribute, group and
// subscription files.
func (t *Tree) trustedName(dir, name string) bool {
	if name == typeFile || name == IDsName || "/"+dir == GroupsDir || "/"+dir == SubscriptionsDir || slices.Contains(t.attrList, name) {
		return true
	}
	for _, tc := range t.Config.Types {
		if _, ok := tc.Attrs[name]; ok {
			return true
		}
	}
	return false
}

// dirTrust judges the backing directory rel and those above it up to the
// tree: each must be owned by a trusted owner, and one that group or others
// may write must be sticky, or the files in it (attributes, ids, locks)
// could be removed or renamed by others. Answers are kept per command.
func (t *Tree) dirTrust(rel string) error {
	if rel == "" {
		rel = "."
	}
	t.agentMu.Lock()
	err, ok := t.dirErr[rel]
	t.agentMu.Unlock()
	if ok {
		return err
	}
	if rel != "." {
		parent, _ := store.SplitRel(rel)
		err = t.dirTrust(parent)
	}
	if err == nil {
		var st *syscall.Stat_t
		st, err = t.store.DirStat(rel)
		if err == nil {
			err = trust.Dir("/"+strings.TrimPrefix(rel, "."), st)
		}
	}
	t.agentMu.Lock()
	t.dirErr[rel] = err
	t.agentMu.Unlock()
	return err
}

// forgetType drops what the caches know of rel and everything below it.
func (t *Tree) forgetType(rel string) {
	t.store.ForgetDirs(rel)
	t.mu.Lock()
	defer t.mu.Unlock()
	for k := range t.types {
		if k == rel || strings.HasPrefix(k, rel+"/") {
			delete(t.types, k)
		}
	}
	vp := "/" + rel
	under := func(k string) bool { return k == vp || strings.HasPrefix(k, vp+"/") }
	maps.DeleteFunc(t.devices, func(k string, _ Device) bool { return under(k) })
	maps.DeleteFunc(t.dirs, func(k string, _ *node) bool { return under(k) })
}
