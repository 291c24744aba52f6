package driver

import (
	"errors"
	"io"
	"sync"
)

// Keeper holds what drivers keep for a process's whole life across the
// trees it opens and closes: smctl serve opens a tree for each pass of
// its periodic refresh, and a driver whose connections listen (the
// libvirt driver's lifecycle events) keeps them in serve's Keeper rather
// than in the tree's Set, which closes them with the tree.
type Keeper struct {
	mu   sync.Mutex
	kept map[string]io.Closer
}

// Get returns what is kept under name, made by mk the first time.
func (k *Keeper) Get(name string, mk func() io.Closer) io.Closer {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.kept == nil {
		k.kept = map[string]io.Closer{}
	}
	c, ok := k.kept[name]
	if !ok {
		c = mk()
		k.kept[name] = c
	}
	return c
}

// Close closes everything kept (when the process ends).
func (k *Keeper) Close() error {
	k.mu.Lock()
	kept := k.kept
	k.kept = nil
	k.mu.Unlock()
	var errs []error
	for _, c := range kept {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}
