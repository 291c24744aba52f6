package fswatch

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"syscall"

	"golang.org/x/sys/unix"
)

// addDir watches the directory rel, unless it is watched, and marks it to
// be looked at whole.
func (w *Watcher) addDir(rel string, quiet bool, evs *[]Change) error {
	r, err := w.openDir(rel)
	if err != nil {
		return err
	}
	defer r.Close()
	df, err := r.Open(".")
	if err != nil {
		return err
	}
	defer df.Close()
	fi, err := df.Stat()
	if err != nil {
		return err
	}
	ino := inoOf(fi)
	if d := w.dirs[rel]; d != nil && !d.dead && d.ino == ino {
		return nil
	}
	var wd int
	var werr error
	cerr := w.rc.Control(func(fd uintptr) {
		// By descriptor: the directory opened through the root.
		wd, werr = unix.InotifyAddWatch(int(fd), fmt.Sprintf("/proc/self/fd/%d", df.Fd()), watchMask)
		if errors.Is(werr, unix.ENOENT) { // no /proc: by name
			wd, werr = unix.InotifyAddWatch(int(fd), filepath.Join(w.root.Name(), filepath.FromSlash(rel)), watchMask|unix.IN_DONT_FOLLOW)
		}
	})
	if cerr != nil {
		return cerr
	}
	if werr != nil {
		return os.NewSyscallError("inotify_add_watch", werr)
	}
	if old := w.wds[int32(wd)]; old != nil && old.rel != rel {
		// The same directory under a new name (moved): nothing is left
		// under the old one.
		w.dropTree(old.rel, int32(wd), evs)
	}
	if w.dirs[rel] != nil {
		w.dropTree(rel, int32(wd), evs) // replaced
	}
	d := &wdir{rel: rel, wd: int32(wd), ino: ino, ents: map[string]Stat{}}
	w.dirs[rel] = d
	w.wds[d.wd] = d
	w.mark(rel, quiet).all = true
	return nil
}

// openDir opens the directory rel. One that is no directory (any more)
// is an error wrapping syscall.ENOTDIR, which os.Root does not give.
func (w *Watcher) openDir(rel string) (*os.Root, error) {
	r, err := w.root.OpenRoot(rel)
	if err != nil && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, fs.ErrClosed) {
		if fi, lerr := w.root.Lstat(rel); lerr == nil && !fi.IsDir() {
			err = &fs.PathError{Op: "open", Path: rel, Err: syscall.ENOTDIR}
		}
	}
	return r, err
}

func (w *Watcher) rmWatch(wd int32) {
	_ = w.rc.Control(func(fd uintptr) {
		_, _ = unix.InotifyRmWatch(int(fd), uint32(wd))
	})
}

// dropTree forgets the watched directory rel and everything below it,
// reporting each watched path gone (the directory's last). keep is a
// watch descriptor now serving another directory, not to be removed.
func (w *Watcher) dropTree(rel string, keep int32, evs *[]Change) {
	old := Stat{Exists: true, Dir: true}
	if d := w.dirs[rel]; d != nil {
		old.Ino = d.ino
		delete(w.dirs, rel)
		delete(w.dirty, rel)
		if w.wds[d.wd] == d {
			delete(w.wds, d.wd)
		}
		if d.wd != keep && d.wd >= 0 {
			w.rmWatch(d.wd)
		}
		done := map[string]bool{}
		for _, name := range sortedKeys(d.ents) {
			if e := d.ents[name]; e.Dir {
				w.dropTree(joinRel(rel, name), keep, evs)
				continue
			}
			g := w.group(name)
			if done[g[0]] {
				continue
			}
			done[g[0]] = true
			if c := joinRel(rel, g[0]); !w.isUnder(c) {
				continue
			}
			for _, n := range g {
				if e, ok := d.ents[n]; ok && !e.Dir {
					*evs = append(*evs, Change{Path: joinRel(rel, n), Old: e})
				} else {
					*evs = append(*evs, Change{Path: joinRel(rel, n)})
				}
			}
		}
	}
	w.looked(rel, true)
	if rel != "." {
		pdir, base := splitRel(rel)
		if p := w.dirs[pdir]; p != nil {
			if e, ok := p.ents[base]; ok && e.Dir {
				old = e
			}
			delete(p.ents, base)
		}
	}
	if w.isUnder(rel) {
		*evs = append(*evs, Change{Path: rel, Old: old})
	}
}

// gone handles the watched directory d no longer being what was watched:
// its parent, if watched, looks at its name again; otherwise it is
// dropped.
func (w *Watcher) gone(d *wdir, quiet bool, evs *[]Change) {
	if d.rel != "." {
		pdir, base := splitRel(d.rel)
		if p := w.dirs[pdir]; p != nil && !p.dead {
			d.dead = true
			w.mark(pdir, quiet).names[base] = true
			return
		}
	}
	w.dropTree(d.rel, -1, evs)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
