package filecopy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/smctl/smctl/pkg/ops"
	"github.com/smctl/smctl/pkg/transport"
)

// item is one file or directory of a source, found once for all nodes.
type item struct {
	local string      // its path on this machine
	rel   string      // its slash path below the source's destination; "" for the source itself
	info  fs.FileInfo // as followed: a symlink to a file is that file
}

// Push copies the local files and directories srcs to dest on every
// device of devs (pdcp), handing each device's outcome to emit in input
// order; it returns how many devices failed. The sources are examined
// once, before any node is contacted: a missing one, a directory without
// Options.Recursive, anything that is not a regular file or a directory
// (a symlink to a directory included), or two sources of the same name
// copied into one directory make Push return an error wrapping
// status.ErrUsage, and nothing is copied.
func Push(ctx context.Context, t Tree, devs, srcs []string, dest string, o Options, emit func(ops.Outcome)) (int, error) {
	if len(srcs) == 0 || dest == "" {
		return 0, usageErr("cp: want SRC... DEST")
	}
	p := &pusher{dest: dest, o: o, destDir: strings.HasSuffix(dest, "/") || len(srcs) > 1}
	if d := strings.TrimRight(dest, "/"); d != "" {
		p.dest = d
	} else {
		p.dest = "/"
	}
	seen := map[string]string{}
	for _, src := range srcs {
		items, err := plan(src, o.Recursive)
		if err != nil {
			return 0, err
		}
		base := filepath.Base(filepath.Clean(src))
		if base == ".." {
			return 0, usageErr("cp: %s: name a directory by its own name, not ..", src)
		}
		if prev, ok := seen[base]; ok && p.destDir {
			return 0, usageErr("cp: %s and %s would both be copied to %s", prev, src, path.Join(p.dest, base))
		}
		seen[base] = src
		p.items = append(p.items, items)
		p.bases = append(p.bases, base)
	}
	return run(ctx, t, devs, o, p.node, emit), nil
}

// plan lists what copying src means: src, then with recursive everything
// below it, directories before their contents.
func plan(src string, recursive bool) ([]item, error) {
	info, err := os.Stat(src)
	switch {
	case err != nil:
		return nil, usageErr("cp: %w", err)
	case info.Mode().IsRegular():
		return []item{{local: src, info: info}}, nil
	case !info.IsDir():
		return nil, usageErr("cp: %s: not a regular file or a directory", src)
	case !recursive:
		return nil, usageErr("cp: %s is a directory (give -r to copy it)", src)
	}
	var items []item
	err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		if rel == "." {
			rel = ""
		}
		fi, err := os.Stat(p) // follows a symlink below src
		if err != nil {
			return err
		}
		switch {
		case d.Type()&fs.ModeSymlink != 0 && !fi.Mode().IsRegular():
			return fmt.Errorf("%s: a symlink to a directory or to nothing: copy what it points to instead", p)
		case !fi.Mode().IsRegular() && !fi.IsDir():
			return fmt.Errorf("%s: not a regular file or a directory", p)
		}
		items = append(items, item{local: p, rel: filepath.ToSlash(rel), info: fi})
		return nil
	})
	if err != nil {
		return nil, usageErr("cp: %w", err)
	}
	return items, nil
}

// pusher copies the sources to one node.
type pusher struct {
	dest    string // without trailing slashes
	destDir bool   // dest must be a directory: it ended in / or several sources
	items   [][]item
	bases   []string
	o       Options
}

func (p *pusher) node(ctx context.Context, w *watch, f transport.Files, node string) ([]string, error) {
	destDir := p.destDir
	w.enter(p.dest)
	fi, err := f.Stat(p.dest)
	switch {
	case err == nil && fi.IsDir():
		destDir = true
	case destDir && err == nil:
		return nil, at(p.dest, errors.New("not a directory"))
	case destDir:
		return nil, at(p.dest, err)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return nil, at(p.dest, err)
	}
	var written []string
	for s, items := range p.items {
		target := p.dest
		if destDir {
			target = path.Join(p.dest, p.bases[s])
		}
		if err := p.source(w, f, items, target); err != nil {
			return written, err
		}
		written = append(written, target)
	}
	return written, nil
}

// dirDone is a directory whose mode and times are set once its contents
// are in.
type dirDone struct {
	target  string
	it      item
	created bool
}

// source copies one source's items to target.
func (p *pusher) source(w *watch, f transport.Files, items []item, target string) error {
	var dirs []dirDone
	for _, it := range items {
		t := target
		if it.rel != "" {
			t = path.Join(target, it.rel)
		}
		w.enter(t)
		if !it.info.IsDir() {
			if err := p.putFile(w, f, it, t); err != nil {
				return err
			}
			continue
		}
		created, err := mkdir(f, t)
		if err != nil {
			return err
		}
		dirs = append(dirs, dirDone{t, it, created})
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		d := dirs[i]
		switch {
		case p.o.Preserve:
			if err := f.Chmod(d.target, d.it.info.Mode()&modeBits); err != nil {
				return at(d.target, err)
			}
			if err := f.Chtimes(d.target, atime(d.it.info), d.it.info.ModTime()); err != nil {
				return at(d.target, err)
			}
		case d.created:
			if err := f.Chmod(d.target, d.it.info.Mode().Perm()&^umask()); err != nil {
				return at(d.target, err)
			}
		}
	}
	return nil
}

// mkdir makes directory t on the node, private until its contents are
// in, or finds it there; it reports whether it made it.
func mkdir(f transport.Files, t string) (bool, error) {
	err := f.Mkdir(t)
	if err == nil {
		return true, at(t, f.Chmod(t, 0o700))
	}
	if fi, serr := f.Stat(t); serr == nil {
		if fi.IsDir() {
			return false, nil
		}
		return false, at(t, errors.New("not a directory"))
	}
	return false, at(t, err)
}

// putFile copies one file to t: written under a temporary name beside it,
// given its mode, renamed over t.
func (p *pusher) putFile(w *watch, f transport.Files, it item, t string) error {
	var mode fs.FileMode
	switch fi, err := f.Stat(t); {
	case p.o.Preserve:
		mode = it.info.Mode() & modeBits
	case err == nil && fi.Mode().IsRegular():
		mode = fi.Mode() & modeBits // a replaced file keeps its mode, as cp
	default:
		mode = it.info.Mode().Perm() &^ umask()
	}
	src, err := os.Open(it.local)
	if err != nil {
		return at(t, fmt.Errorf("reading the source: %w", err))
	}
	defer src.Close()
	tmp := tempName(t)
	wc, err := f.CreateNew(tmp)
	if err != nil {
		return at(t, err)
	}
	done := false
	defer func() {
		if !done {
			wc.Close()
			_ = f.Remove(tmp)
		}
	}()
	if mode&0o044 != 0o044 {
		// Not readable by all once in place: nor while it is written.
		if err := f.Chmod(tmp, 0o600); err != nil {
			return at(t, err)
		}
	}
	if _, err := io.Copy(wc, &reader{r: src, w: w, size: it.info.Size()}); err != nil {
		return at(t, err)
	}
	if err := wc.Close(); err != nil {
		done = true
		_ = f.Remove(tmp)
		return at(t, err)
	}
	done = true
	err = f.Chmod(tmp, mode)
	if err == nil && p.o.Preserve {
		err = f.Chtimes(tmp, atime(it.info), it.info.ModTime())
	}
	if err == nil {
		err = f.Rename(tmp, t)
	}
	if err != nil {
		_ = f.Remove(tmp)
		return at(t, err)
	}
	w.tick()
	return nil
}

// atime is a local file's access time; its modification time when the
// system does not say.
func atime(fi fs.FileInfo) time.Time {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return time.Unix(st.Atim.Sec, st.Atim.Nsec)
	}
	return fi.ModTime()
}
