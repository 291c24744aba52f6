package vtree

import (
	"maps"
	"slices"

	"github.com/smctl/smctl/pkg/vtree/store"
	"github.com/smctl/smctl/pkg/vtree/vpath"
)

// The tree's own tests make devices as pkg/vtree/devices does (which
// imports this package, so they cannot call it): a directory, its
// attributes, its lock, its line in the parent's index.

func (t *Tree) MakeDirs(p string) error { return t.store.Root().MkdirAll(vpath.Rel(p), 0o777) }

func (t *Tree) AddDevice(p, typ string, attrs map[string]string) (bool, error) {
	r := vpath.Rel(p)
	isNew := t.typeOf(r) == ""
	if err := t.store.Root().MkdirAll(r, 0o777); err != nil {
		return false, err
	}
	_, name := vpath.Split(p)
	all := map[string]string{"address": name}
	maps.Copy(all, t.Config.Types[typ].Attrs)
	maps.Copy(all, attrs)
	for _, k := range slices.Sorted(maps.Keys(all)) {
		_, overwrite := attrs[k]
		if _, err := t.store.WriteAttr(store.JoinRel(r, k), all[k], overwrite); err != nil {
			return false, err
		}
	}
	if t.Config.Types[typ].Lock {
		if err := t.store.CreateLock(store.JoinRel(r, LockName)); err != nil {
			return false, err
		}
	}
	if isNew {
		parent, _ := store.SplitRel(r)
		if err := t.store.IndexAdd(parent, name, typ); err != nil {
			return false, err
		}
	}
	t.ForgetDevice(p)
	return isNew, nil
}
