package sim

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// SFTP: every node serves the "sftp" subsystem (for smctl cp, scp,
// clush --copy) over a file space of its own, DIR/nodes/NAME (made on
// first use, with an empty /tmp), so that a copy to 200 nodes leaves 200 files. Like a disk it
// outlives the simulator: a node started again on the same DIR finds its
// files. The node's simulated /proc and /sys are there too, read-only,
// with the contents cat shows. A node that fails refuses the subsystem; one
// that hangs accepts it and never answers; Delay slows its start.

// NodesDir is the directory of DIR holding the nodes' file spaces.
const NodesDir = "nodes"

// request answers a session request other than exec, env and pty-req:
// the "sftp" subsystem is served until the client ends it, then the
// channel is closed; anything else is refused.
func (c *Cluster) request(ch ssh.Channel, req *ssh.Request, reqs <-chan *ssh.Request, n *Node) {
	var p struct{ Name string }
	if req.Type != "subsystem" || ssh.Unmarshal(req.Payload, &p) != nil || p.Name != "sftp" || n.Behaviour == Fail {
		req.Reply(false, nil)
		return
	}
	req.Reply(true, nil)
	defer ch.Close()
	go ssh.DiscardRequests(reqs) // with the session's loop, once this returns
	if n.Behaviour == Hang {
		io.Copy(io.Discard, ch) // until the client gives up
		return
	}
	if c.opts.Delay > 0 {
		select {
		case <-time.After(c.opts.Delay):
		case <-c.ctx.Done():
			return
		}
	}
	code := uint32(0)
	if err := c.serveSFTP(ch, n); err != nil {
		code = 1
	}
	status := make([]byte, 4)
	binary.BigEndian.PutUint32(status, code)
	ch.SendRequest("exit-status", false, status)
}

// serveSFTP serves SFTP on ch over n's file space until the client ends.
func (c *Cluster) serveSFTP(ch ssh.Channel, n *Node) error {
	dir := filepath.Join(c.Dir, NodesDir, n.Name)
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o755); err != nil {
		return err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	fsys := &nodeFS{root: root, n: n.state}
	// The server closes what it serves when it ends: not the channel,
	// which still has the exit status to send.
	rw := struct {
		io.Reader
		io.Writer
		io.Closer
	}{ch, ch, noClose{}}
	srv := sftp.NewRequestServer(rw, sftp.Handlers{FileGet: fsys, FilePut: fsys, FileCmd: fsys, FileList: fsys})
	stop := context.AfterFunc(c.ctx, func() { ch.Close() })
	defer stop()
	err = srv.Serve()
	srv.Close()
	if errors.Is(err, io.EOF) {
		return nil
	}
	return err
}

type noClose struct{}

func (noClose) Close() error { return nil }

// nodeFS is one node's files for its SFTP server: a directory on disk
// (an os.Root: nothing a client names leaves it) with the simulated /proc
// and /sys over it.
type nodeFS struct {
	root *os.Root
	n    *node
}

// rel is the client's path p (absolute and clean) in the root.
func rel(p string) string {
	if p = strings.TrimPrefix(path.Clean("/"+p), "/"); p == "" {
		return "."
	}
	return p
}

// virtual reports whether p is in the simulated /proc or /sys.
func (f *nodeFS) virtual(p string) bool {
	return p != "/" && (f.n.isDir[p] || f.n.files[p] != nil)
}

func (f *nodeFS) Fileread(r *sftp.Request) (io.ReaderAt, error) {
	if content, ok := f.n.files[r.Filepath]; ok {
		return strings.NewReader(content()), nil
	}
	if f.virtual(r.Filepath) {
		return nil, errors.New("is a directory")
	}
	return f.root.Open(rel(r.Filepath))
}

func (f *nodeFS) Filewrite(r *sftp.Request) (io.WriterAt, error) {
	if f.virtual(r.Filepath) {
		return nil, os.ErrPermission
	}
	fl := r.Pflags()
	flags := os.O_WRONLY
	if fl.Read {
		flags = os.O_RDWR
	}
	for _, b := range []struct {
		on   bool
		flag int
	}{{fl.Creat, os.O_CREATE}, {fl.Trunc, os.O_TRUNC}, {fl.Excl, os.O_EXCL}} {
		if b.on {
			flags |= b.flag
		}
	}
	return f.root.OpenFile(rel(r.Filepath), flags, 0o644)
}

func (f *nodeFS) Filecmd(r *sftp.Request) error {
	if f.virtual(r.Filepath) || (r.Target != "" && f.virtual(r.Target)) {
		return os.ErrPermission
	}
	p := rel(r.Filepath)
	switch r.Method {
	case "Setstat":
		return f.setstat(p, r)
	case "Rename":
		if _, err := f.root.Lstat(rel(r.Target)); err == nil {
			return os.ErrExist // SFTP's rename never replaces
		}
		return f.root.Rename(p, rel(r.Target))
	case "Rmdir", "Remove":
		return f.root.Remove(p)
	case "Mkdir":
		return f.root.Mkdir(p, 0o755)
	}
	return sftp.ErrSSHFxOpUnsupported
}

// PosixRename implements sftp.PosixRenameFileCmder: rename(2), replacing
// the target.
func (f *nodeFS) PosixRename(r *sftp.Request) error {
	if f.virtual(r.Filepath) || f.virtual(r.Target) {
		return os.ErrPermission
	}
	return f.root.Rename(rel(r.Filepath), rel(r.Target))
}

func (f *nodeFS) setstat(p string, r *sftp.Request) error {
	flags, a := r.AttrFlags(), r.Attributes()
	if flags.Size {
		file, err := f.root.OpenFile(p, os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		err = file.Truncate(int64(a.Size))
		file.Close()
		if err != nil {
			return err
		}
	}
	if flags.Permissions {
		if err := f.root.Chmod(p, a.FileMode()&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)); err != nil {
			return err
		}
	}
	if flags.Acmodtime {
		return f.root.Chtimes(p, time.Unix(int64(a.Atime), 0), time.Unix(int64(a.Mtime), 0))
	}
	return nil
}

func (f *nodeFS) Filelist(r *sftp.Request) (sftp.ListerAt, error) {
	p := r.Filepath
	switch r.Method {
	case "List":
		if f.virtual(p) {
			return f.virtualList(p), nil
		}
		des, err := f.root.FS().(fs.ReadDirFS).ReadDir(rel(p))
		if err != nil {
			return nil, err
		}
		var out lister
		for _, de := range des {
			if info, err := de.Info(); err == nil {
				out = append(out, info)
			}
		}
		if p == "/" {
			out = append(out, f.virtualList("/")...)
		}
		return out, nil
	case "Stat", "Lstat":
		if f.virtual(p) {
			return lister{f.info(p)}, nil
		}
		stat := f.root.Stat
		if r.Method == "Lstat" {
			stat = f.root.Lstat
		}
		info, err := stat(rel(p))
		if err != nil {
			return nil, err
		}
		return lister{info}, nil
	}
	return nil, sftp.ErrSSHFxOpUnsupported
}

// Lstat implements sftp.LstatFileLister.
func (f *nodeFS) Lstat(r *sftp.Request) (sftp.ListerAt, error) { return f.Filelist(r) }

// virtualList lists the simulated directory p (for /: proc and sys).
func (f *nodeFS) virtualList(p string) lister {
	var out lister
	for _, name := range f.n.dirs[p] {
		out = append(out, f.info(path.Join(p, name)))
	}
	return out
}

// info describes a simulated file or directory.
func (f *nodeFS) info(p string) os.FileInfo {
	if f.n.isDir[p] {
		return simInfo{name: path.Base(p), mode: fs.ModeDir | 0o555, mtime: f.n.boot}
	}
	return simInfo{name: path.Base(p), mode: 0o444, size: int64(len(f.n.files[p]())), mtime: time.Now()}
}

type simInfo struct {
	name  string
	mode  fs.FileMode
	size  int64
	mtime time.Time
}

func (i simInfo) Name() string       { return i.name }
func (i simInfo) Size() int64        { return i.size }
func (i simInfo) Mode() fs.FileMode  { return i.mode }
func (i simInfo) ModTime() time.Time { return i.mtime }
func (i simInfo) IsDir() bool        { return i.mode.IsDir() }
func (i simInfo) Sys() any           { return nil }

// lister is a listing, for sftp.ListerAt.
type lister []os.FileInfo

func (l lister) ListAt(out []os.FileInfo, offset int64) (int, error) {
	if offset >= int64(len(l)) {
		return 0, io.EOF
	}
	n := copy(out, l[offset:])
	if n < len(out) {
		return n, io.EOF
	}
	return n, nil
}
