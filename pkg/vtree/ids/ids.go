// Package ids keeps the credentials of a smctl tree: the ids files of the
// backing tree (user:password pairs sealed by pkg/creds with the key file,
// bound to their virtual directory and inherited downwards), the key, and
// writing them masked. A Keyring lives as long as its tree, one command:
// it decrypts each ids file and loads the key once.
package ids

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"
	"sync"
	"syscall"

	"github.com/smctl/smctl/pkg/creds"
	"github.com/smctl/smctl/pkg/status"
	"github.com/smctl/smctl/pkg/vtree/store"
)

// Keyring reads and writes the ids files of one backing store.
type Keyring struct {
	store   *store.Store
	keyFile string
	has     func(dir string) bool // whether backing dir holds an ids file
	changed func(dir string)      // forget that answer after a write

	mu    sync.Mutex
	pairs map[string][]creds.Pair // decrypted ids by backing rel path
	key   *creds.Key              // loaded once it loads
}

// New returns the keyring of the backing store s, whose key is the file
// keyFile. has tells whether a backing directory holds an ids file (the
// tree's cache of that answer), changed drops that answer after an ids
// file of the directory was written.
func New(s *store.Store, keyFile string, has func(dir string) bool, changed func(dir string)) *Keyring {
	return &Keyring{store: s, keyFile: keyFile, has: has, changed: changed, pairs: map[string][]creds.Pair{}}
}

// Write parses data as user:password lines and stores them sealed, bound
// to the virtual directory of vpath, as the ids file at backing path rel
// (0600, as the store writes every ids file). It returns the pairs
// masked; errors name vpath.
//
// An empty value (nothing but white space) removes the ids file: the
// directory inherits the credentials above it again. It returns nothing
// (the file holds nothing now); an ids file that is not there is no error.
// Only a user who may write the ids file may remove it, as only they may
// replace it: write permission on its directory is not enough.
func (k *Keyring) Write(rel, vpath string, data []byte) ([]byte, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, k.remove(rel, vpath)
	}
	pairs, err := creds.Parse(data)
	if err != nil {
		return nil, pathErr("write", vpath, fmt.Errorf("ids: %w", err))
	}
	key, err := k.loadKey()
	if err != nil {
		return nil, pathErr("write", vpath, err)
	}
	sealed, err := key.Seal(pairs, path.Dir(vpath))
	if err != nil {
		return nil, pathErr("write", vpath, err)
	}
	if err := k.store.WriteFile(rel, sealed); err != nil {
		return nil, pathErr("write", vpath, unwrapPath(err))
	}
	dir, _ := store.SplitRel(rel)
	k.changed(dir)
	k.ForgetAll()
	return creds.Masked(pairs), nil
}

// remove removes the ids file at backing path rel (Write of an empty
// value) and forgets it.
func (k *Keyring) remove(rel, vpath string) error {
	root := k.store.Root()
	st, err := root.Lstat(rel)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return pathErr("write", vpath, unwrapPath(err))
	case st.IsDir():
		return pathErr("write", vpath, syscall.EISDIR)
	case st.Mode().IsRegular():
		// May this user write the file itself? Opening it for writing
		// (without truncating: nothing changes) asks the kernel.
		f, err := root.OpenFile(rel, os.O_WRONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
		if err != nil {
			return pathErr("write", vpath, fmt.Errorf("removing ids: %w: only a user who may write the ids file removes it", unwrapPath(err)))
		}
		f.Close()
	}
	// Anything else planted here (a symlink) is removed, as a write
	// replaces it.
	if err := root.Remove(rel); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return pathErr("write", vpath, fmt.Errorf("removing ids: %w", unwrapPath(err)))
	}
	dir, _ := store.SplitRel(rel)
	k.changed(dir)
	k.ForgetAll()
	return nil
}

// Nearest returns the first pair of the nearest ids file at or above the
// backing directory dir that the running user may read, nil if there is
// none. Credentials this user may not read are not theirs to send: a
// delegated member acts with its own, found further up or none.
func (k *Keyring) Nearest(dir string) (*creds.Pair, error) {
	for {
		if k.has(dir) {
			rel := store.JoinRel(dir, store.IDsName)
			pairs, err := k.At(rel)
			switch {
			case errors.Is(err, fs.ErrPermission):
			case err != nil && status.Of(err) == status.Usage:
				return nil, err // names the file already
			case err != nil:
				return nil, fmt.Errorf("ids %s: %w", vpathOf(rel), err)
			case len(pairs) > 0:
				return &pairs[0], nil
			}
		}
		if dir == "." {
			return nil, nil
		}
		dir, _ = store.SplitRel(dir)
	}
}

// At decrypts the ids file at backing path rel (nil, nil if absent). The
// file must be trusted, and sealed for its own directory; a file of the
// first format is rewritten bound to its place on first use.
func (k *Keyring) At(rel string) ([]creds.Pair, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if p, ok := k.pairs[rel]; ok {
		return p, nil
	}
	b, err := k.store.ReadTrusted(rel, 1<<20)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, unwrapPath(err)
	}
	key, err := k.loadKeyLocked()
	if err != nil {
		return nil, err
	}
	place := path.Dir(vpathOf(rel))
	pairs, old, err := key.Open(b, place)
	if err != nil {
		return nil, err
	}
	if old {
		sealed, err := key.Seal(pairs, place)
		if err == nil {
			err = k.store.WriteFile(rel, sealed)
		}
		if err != nil {
			file := path.Join(place, store.IDsName)
			return nil, fmt.Errorf("ids file %s is of the first format and could not be rewritten bound to its place (%v): rewrite it with smctl write %s --prompt USER", file, unwrapPath(err), file)
		}
	}
	k.pairs[rel] = pairs
	return pairs, nil
}

// Forget drops the decrypted ids of the file at backing path rel, after it
// changed.
func (k *Keyring) Forget(rel string) {
	k.mu.Lock()
	delete(k.pairs, rel)
	k.mu.Unlock()
}

// ForgetUnder drops the decrypted ids at or below the backing path dir.
func (k *Keyring) ForgetUnder(dir string) {
	k.mu.Lock()
	for rel := range k.pairs {
		if rel == dir || strings.HasPrefix(rel, dir+"/") {
			delete(k.pairs, rel)
		}
	}
	k.mu.Unlock()
}

// ForgetAll drops every decrypted ids.
func (k *Keyring) ForgetAll() {
	k.mu.Lock()
	clear(k.pairs)
	k.mu.Unlock()
}

func (k *Keyring) loadKey() (*creds.Key, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.loadKeyLocked()
}

// loadKeyLocked loads the key file once it loads: a failure is not kept,
// the next use tries again.
func (k *Keyring) loadKeyLocked() (*creds.Key, error) {
	if k.key == nil {
		key, err := creds.LoadKey(k.keyFile)
		if err != nil {
			return nil, err
		}
		k.key = key
	}
	return k.key, nil
}

// vpathOf is the virtual path of the backing path rel.
func vpathOf(rel string) string { return "/" + strings.TrimPrefix(rel, "./") }

// pathErr names the virtual path p in err, unless err names it already.
func pathErr(op, p string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) && pe.Path == p {
		return err
	}
	return &fs.PathError{Op: op, Path: p, Err: err}
}

// unwrapPath strips a backing-store *fs.PathError so that the caller can
// name the virtual path instead.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
