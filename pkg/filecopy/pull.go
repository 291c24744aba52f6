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

	"github.com/smctl/smctl/pkg/ops"
	"github.com/smctl/smctl/pkg/transport"
)

// MaxDepth bounds how deep Pull descends into a node's directories: a
// node serving an endless tree fails instead of filling the disk.
const MaxDepth = 256

// Pull copies the files remotes of every device of devs into the local
// directory dir (rpdcp), each saved under its base name followed by a dot
// and the node's name (NodeName): /etc/hosts of n0042 becomes
// dir/hosts.n0042, and with Options.Recursive a directory /etc/ssh
// becomes dir/ssh.n0042/. It hands each device's outcome to emit in input
// order and returns how many failed. A dir that is not a directory, a
// remote path with no base name of its own (/, ..), two remote paths of
// the same base name, or two devices of the same name make Pull return an
// error wrapping status.ErrUsage, and nothing is copied.
//
// Everything is written inside dir whatever a node sends (see the package
// comment, Trust). Symlinks and special files met inside a directory are
// not copied.
func Pull(ctx context.Context, t Tree, devs, remotes []string, dir string, o Options, emit func(ops.Outcome)) (int, error) {
	if len(remotes) == 0 || dir == "" {
		return 0, usageErr("cp --from: want REMOTE... LOCALDIR")
	}
	p := &puller{dir: dir, remotes: remotes, o: o}
	seen := map[string]string{}
	for _, r := range remotes {
		base := path.Base(path.Clean(r))
		if base == "/" || base == "." || base == ".." {
			return 0, usageErr("cp --from: %s: no name of its own to save it under (name a file or a directory)", r)
		}
		if prev, ok := seen[base]; ok {
			return 0, usageErr("cp --from: %s and %s would both be saved as %s.NODE", prev, r, base)
		}
		seen[base] = r
		p.bases = append(p.bases, base)
	}
	names := map[string]string{}
	for _, d := range devs {
		n := NodeName(d)
		if prev, ok := names[n]; ok {
			return 0, usageErr("cp --from: devices %s and %s are both named %s: their copies would overwrite each other", prev, d, n)
		}
		names[n] = d
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return 0, usageErr("cp --from: %w", err)
	}
	defer root.Close()
	p.root = root
	return run(ctx, t, devs, o, p.node, emit), nil
}

// puller copies from one node into the local directory.
type puller struct {
	dir     string
	root    *os.Root
	remotes []string
	bases   []string
	o       Options
}

func (p *puller) node(ctx context.Context, w *watch, f transport.Files, node string) ([]string, error) {
	var written []string
	for i, r := range p.remotes {
		local := p.bases[i] + "." + node
		w.enter(r)
		fi, err := f.Stat(r)
		switch {
		case err != nil:
			return written, at(r, err)
		case fi.IsDir() && !p.o.Recursive:
			return written, at(r, errors.New("is a directory (give -r to copy it)"))
		case fi.IsDir():
			err = p.getDir(w, f, r, fi, local, 0)
		case fi.Mode().IsRegular():
			err = p.getFile(w, f, r, fi, local)
		default:
			err = at(r, errors.New("not a regular file or a directory"))
		}
		if err != nil {
			return written, err
		}
		written = append(written, filepath.Join(p.dir, local))
	}
	return written, nil
}

// safeName reports whether a name from a node's directory listing names
// an entry of that directory and nothing else.
func safeName(name string) bool {
	return name != "" && name != "." && name != ".." && !strings.ContainsAny(name, "/\x00")
}

// getDir copies the remote directory r to local (relative to the local
// directory), then gives local its mode (and times, with -p).
func (p *puller) getDir(w *watch, f transport.Files, r string, fi fs.FileInfo, local string, depth int) error {
	if depth >= MaxDepth {
		return at(r, fmt.Errorf("more than %d directories deep: not copied further", MaxDepth))
	}
	created, err := p.mkdir(local)
	if err != nil {
		return at(r, err)
	}
	entries, err := f.ReadDir(r)
	if err != nil {
		return at(r, err)
	}
	for _, e := range entries {
		name := e.Name()
		if !safeName(name) {
			return at(r, fmt.Errorf("the node listed an entry named %q: refused (a name must not be empty, . or .., nor hold a /)", name))
		}
		er, el := path.Join(r, name), local+"/"+name
		w.enter(er)
		switch {
		case e.IsDir():
			err = p.getDir(w, f, er, e, el, depth+1)
		case e.Mode().IsRegular():
			err = p.getFile(w, f, er, e, el)
		}
		if err != nil {
			return err
		}
	}
	mode := fi.Mode().Perm()
	if !p.o.Preserve {
		if !created {
			return nil
		}
		mode &^= umask()
	}
	if err := p.root.Chmod(local, mode); err != nil {
		return at(r, localErr(err))
	}
	if p.o.Preserve {
		if err := p.root.Chtimes(local, fi.ModTime(), fi.ModTime()); err != nil {
			return at(r, localErr(err))
		}
	}
	return nil
}

// mkdir makes the local directory local, private until its contents are
// in, or finds it there: a directory, not a symlink to one. It reports
// whether it made it.
func (p *puller) mkdir(local string) (bool, error) {
	err := p.root.Mkdir(local, 0o700)
	if err == nil {
		return true, nil
	}
	fi, lerr := p.root.Lstat(local)
	switch {
	case lerr != nil:
		return false, localErr(err)
	case fi.Mode()&fs.ModeSymlink != 0:
		return false, localErr(fmt.Errorf("%s is a symlink: not followed", filepath.Join(p.dir, local)))
	case !fi.IsDir():
		return false, localErr(fmt.Errorf("%s is not a directory", filepath.Join(p.dir, local)))
	}
	return false, nil
}

// localErr is an error on this machine's side of a copy.
func localErr(err error) error {
	return fmt.Errorf("local: %s", cause(err))
}

// getFile copies the remote file r to local: a new file under a temporary
// name (O_EXCL: never through a symlink), given its mode, renamed over
// local (a symlink there is replaced, not followed).
func (p *puller) getFile(w *watch, f transport.Files, r string, fi fs.FileInfo, local string) error {
	rc, err := f.Open(r)
	if err != nil {
		return at(r, err)
	}
	defer rc.Close()
	tmp := tempName(local)
	lf, err := p.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return at(r, localErr(err))
	}
	done := false
	defer func() {
		if !done {
			lf.Close()
			_ = p.root.Remove(tmp)
		}
	}()
	if _, err := io.Copy(&writer{wr: lf, w: w}, rc); err != nil {
		return at(r, err)
	}
	mode := fi.Mode().Perm() // never setuid, setgid or sticky from a node
	if !p.o.Preserve {
		mode &^= umask()
	}
	if err := lf.Chmod(mode); err != nil {
		return at(r, localErr(err))
	}
	err = lf.Close()
	done = true
	if err == nil && p.o.Preserve {
		err = p.root.Chtimes(tmp, fi.ModTime(), fi.ModTime())
	}
	if err == nil {
		err = p.root.Rename(tmp, local)
	}
	if err != nil {
		_ = p.root.Remove(tmp)
		return at(r, localErr(err))
	}
	w.tick()
	return nil
}
