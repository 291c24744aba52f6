package vtree

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/smctl/smctl/pkg/creds"
	"github.com/smctl/smctl/pkg/status"
	"github.com/smctl/smctl/pkg/vtree/store"
)

// Credentials: the ids files (encrypted user:password pairs, inherited
// downwards), their key, and writing them masked.

func (t *Tree) writeIDs(n *node, data []byte) (*Result, error) {
	pairs, err := creds.Parse(data)
	if err != nil {
		return nil, pathErr("write", n.path, fmt.Errorf("ids: %w", err))
	}
	k, err := t.loadKey()
	if err != nil {
		return nil, pathErr("write", n.path, err)
	}
	dir, _ := splitPath(n.path)
	sealed, err := k.Seal(pairs, dir)
	if err != nil {
		return nil, pathErr("write", n.path, err)
	}
	if err := t.store.WriteFile(n.rel, sealed); err != nil {
		return nil, pathErr("write", n.path, unwrapPath(err))
	}
	rdir, _ := store.SplitRel(n.rel)
	t.forgetSpecial(rdir, IDsName)
	t.idsMu.Lock()
	t.ids = map[string][]creds.Pair{}
	t.idsMu.Unlock()
	return &Result{Content: creds.Masked(pairs)}, nil
}

// credsFor returns the first pair of the nearest ids file at or above n's
// directory, nil if there is none.
func (t *Tree) credsFor(n *node) (*creds.Pair, error) {
	dir, _ := store.SplitRel(n.rel)
	return t.credsIn(dir)
}

// credsIn returns the first pair of the nearest ids file at or above the
// backing directory dir that the running user may read. Credentials this
// user may not read are not theirs to send: a delegated member acts with
// its own, found further up or none.
func (t *Tree) credsIn(dir string) (*creds.Pair, error) {
	for {
		if t.hasSpecial(dir, IDsName) {
			idsRel := store.JoinRel(dir, IDsName)
			pairs, err := t.idsAt(idsRel)
			switch {
			case errors.Is(err, fs.ErrPermission):
			case err != nil && RC(err) == int(status.Usage):
				return nil, err // names the file already
			case err != nil:
				return nil, fmt.Errorf("ids %s: %w", "/"+strings.TrimPrefix(idsRel, "./"), err)
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

// idsAt decrypts the ids file at backing path rel (nil, nil if absent). The
// file must be trusted, and sealed for its own directory; a file of the
// first format is rewritten bound to its place on first use.
func (t *Tree) idsAt(rel string) ([]creds.Pair, error) {
	t.idsMu.Lock()
	defer t.idsMu.Unlock()
	if p, ok := t.ids[rel]; ok {
		return p, nil
	}
	b, err := t.store.ReadTrusted(rel, 1<<20)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, unwrapPath(err)
	}
	k, err := t.loadKeyLocked()
	if err != nil {
		return nil, err
	}
	place, _ := splitPath("/" + strings.TrimPrefix(rel, "./"))
	pairs, old, err := k.Open(b, place)
	if err != nil {
		return nil, err
	}
	if old {
		sealed, err := k.Seal(pairs, place)
		if err == nil {
			err = t.store.WriteFile(rel, sealed)
		}
		if err != nil {
			return nil, fmt.Errorf("ids file %s is of the first format and could not be rewritten bound to its place (%v): rewrite it with smctl write %s --prompt USER", join(place, IDsName), unwrapPath(err), join(place, IDsName))
		}
	}
	t.ids[rel] = pairs
	return pairs, nil
}

func (t *Tree) loadKey() (*creds.Key, error) {
	t.idsMu.Lock()
	defer t.idsMu.Unlock()
	return t.loadKeyLocked()
}

func (t *Tree) loadKeyLocked() (*creds.Key, error) {
	if !t.keyOK {
		t.key, t.keyErr = creds.LoadKey(t.keyFile)
		t.keyOK = t.keyErr == nil
		if !t.keyOK {
			return nil, t.keyErr
		}
	}
	return t.key, nil
}
