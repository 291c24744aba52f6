package sshx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"github.com/smctl/smctl/pkg/status"
	"github.com/smctl/smctl/pkg/transport"
)

var _ transport.FileOpener = (*Transport)(nil)

// RemotePipe is the ability of a Remote to open a subsystem (sftp) on a
// node over its connections: what r reads the subsystem printed, what is
// written to w it reads; closePipe ends it. An error wrapping
// ErrNoRemote opened nothing: the subsystem is opened here instead.
type RemotePipe interface {
	Subsystem(ctx context.Context, opts Options, t Target, name string) (r io.Reader, w io.WriteCloser, closePipe func(), err error)
}

// sftpOptions tune the SFTP clients: writes of one file in flight at once
// (a file is written under a temporary name and renamed only once whole,
// so a write that fails part-way leaves nothing in place).
var sftpOptions = []sftp.ClientOption{sftp.UseConcurrentWrites(true)}

// SFTP opens an SFTP client on a new session of the node's pooled
// connection: the same connection, ssh_config and known_hosts as Exec.
// When ctx ends the session is closed, so that calls in progress fail
// instead of waiting on the node. release closes the client and gives the
// connection back to the pool; call it once done.
//
// A node that refuses the "sftp" subsystem fails with an error saying so
// (status 1); one that cannot be reached wraps status.ErrUnreachable.
func (t *Transport) SFTP(ctx context.Context) (*sftp.Client, func(), error) {
	if rp, ok := t.Remote.(RemotePipe); ok {
		r, w, closePipe, err := rp.Subsystem(ctx, t.Pool.Options(), t.Target, "sftp")
		switch {
		case err == nil:
			sc, err := sftp.NewClientPipe(r, w, sftpOptions...)
			if err != nil {
				closePipe()
				return nil, nil, fmt.Errorf("sftp: %w (does a login script print to standard output?)", err)
			}
			var once sync.Once
			return sc, func() { once.Do(func() { sc.Close(); closePipe() }) }, nil
		case !errors.Is(err, ErrNoRemote):
			return nil, nil, err
		}
	}
	r, w, closePipe, err := t.Subsystem(ctx, "sftp")
	if err != nil {
		return nil, nil, err
	}
	sc, err := sftp.NewClientPipe(r, w, sftpOptions...)
	if err != nil {
		closePipe()
		if ctx.Err() != nil {
			return nil, nil, context.Cause(ctx)
		}
		return nil, nil, fmt.Errorf("sftp: %w (does a login script print to standard output?)", err)
	}
	var once sync.Once
	return sc, func() { once.Do(func() { sc.Close(); closePipe() }) }, nil
}

// Subsystem opens the subsystem name (sftp) on a new session of the node's
// pooled connection: r reads what it prints, w is its input; closePipe
// ends the session and gives the connection back. When ctx ends the
// session is closed, so that reads and writes fail instead of waiting on
// the node. A node that refuses the subsystem fails with an error saying
// so (status 1); one that cannot be reached wraps status.ErrUnreachable.
func (t *Transport) Subsystem(ctx context.Context, name string) (r io.Reader, w io.WriteCloser, closePipe func(), err error) {
	c, release, err := t.Pool.Client(ctx, t.Target)
	if err != nil {
		return nil, nil, nil, reachErr(err)
	}
	sess, err := c.NewSession()
	if err != nil {
		release()
		return nil, nil, nil, reachErr(fmt.Errorf("session: %w", err))
	}
	stop := context.AfterFunc(ctx, func() { sess.Close() })
	fail := func(err error) (io.Reader, io.WriteCloser, func(), error) {
		stop()
		sess.Close()
		release()
		if ctx.Err() != nil {
			return nil, nil, nil, context.Cause(ctx)
		}
		return nil, nil, nil, err
	}
	if w, err = sess.StdinPipe(); err != nil {
		return fail(reachErr(fmt.Errorf("session: %w", err)))
	}
	if r, err = sess.StdoutPipe(); err != nil {
		return fail(reachErr(fmt.Errorf("session: %w", err)))
	}
	if err := sess.RequestSubsystem(name); err != nil {
		if errors.Is(err, io.EOF) {
			return fail(reachErr(fmt.Errorf("%s: %w", name, err)))
		}
		return fail(fmt.Errorf("the node refused the %s subsystem (its sshd needs a Subsystem %s line): %w", name, name, err))
	}
	var once sync.Once
	return r, w, func() {
		once.Do(func() {
			stop()
			sess.Close()
			release()
		})
	}, nil
}

// OpenFiles implements transport.FileOpener over SFTP (see SFTP).
func (t *Transport) OpenFiles(ctx context.Context) (transport.Files, error) {
	c, release, err := t.SFTP(ctx)
	if err != nil {
		return nil, err
	}
	return &sftpFiles{c: c, release: release}, nil
}

// sftpFiles are a node's files through one SFTP client. Errors name the
// operation and the path; a lost connection wraps status.ErrUnreachable.
type sftpFiles struct {
	c       *sftp.Client
	release func()
}

func sftpErr(op, name string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sftp.ErrSSHFxConnectionLost) {
		err = status.Mark(err, status.ErrUnreachable)
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return err
	}
	return &fs.PathError{Op: op, Path: name, Err: err}
}

func (f *sftpFiles) Stat(name string) (fs.FileInfo, error) {
	fi, err := f.c.Stat(name)
	return fi, sftpErr("stat", name, err)
}

func (f *sftpFiles) Lstat(name string) (fs.FileInfo, error) {
	fi, err := f.c.Lstat(name)
	return fi, sftpErr("lstat", name, err)
}

func (f *sftpFiles) ReadDir(name string) ([]fs.FileInfo, error) {
	fis, err := f.c.ReadDir(name)
	return fis, sftpErr("readdir", name, err)
}

func (f *sftpFiles) Open(name string) (io.ReadCloser, error) {
	r, err := f.c.Open(name)
	if err != nil {
		return nil, sftpErr("open", name, err)
	}
	return r, nil
}

func (f *sftpFiles) CreateNew(name string) (io.WriteCloser, error) {
	w, err := f.c.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
	if err != nil {
		return nil, sftpErr("create", name, err)
	}
	return w, nil
}

func (f *sftpFiles) Mkdir(name string) error {
	return sftpErr("mkdir", name, f.c.Mkdir(name))
}

func (f *sftpFiles) Chmod(name string, mode fs.FileMode) error {
	return sftpErr("chmod", name, f.c.Chmod(name, mode))
}

func (f *sftpFiles) Chtimes(name string, atime, mtime time.Time) error {
	return sftpErr("chtimes", name, f.c.Chtimes(name, atime, mtime))
}

// Rename replaces newname in one rename(2) where the server offers
// posix-rename@openssh.com (OpenSSH does); SFTP's own rename refuses an
// existing newname, so without the extension newname is removed first.
func (f *sftpFiles) Rename(oldname, newname string) error {
	if _, ok := f.c.HasExtension("posix-rename@openssh.com"); ok {
		return sftpErr("rename", newname, f.c.PosixRename(oldname, newname))
	}
	if err := f.c.Remove(newname); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return sftpErr("rename", newname, err)
	}
	return sftpErr("rename", newname, f.c.Rename(oldname, newname))
}

func (f *sftpFiles) Remove(name string) error {
	return sftpErr("remove", name, f.c.Remove(name))
}

func (f *sftpFiles) Close() error {
	f.release()
	return nil
}

// DialUnix implements transport.UnixDialer: a stream to the UNIX socket
// path on the node, forwarded over the node's connection from the pool
// (direct-streamlocal@openssh.com, as ssh -L does with a socket; the
// node's sshd must allow it: AllowStreamLocalForwarding, on by default).
// Closing the stream gives the connection back. The path must be
// absolute. With a Remote that can forward (UnixForwarder), the stream
// goes over the other process's connection (smctl serve's), unless it
// opened nothing (ErrNoRemote).
//
// A kept client whose connection was lost is dropped and dialled again,
// once, as for Exec; a stream the node refuses (no such socket, not
// allowed) is an error naming the socket and the node.
func (t *Transport) DialUnix(ctx context.Context, path string) (net.Conn, error) {
	if !strings.HasPrefix(path, "/") {
		return nil, status.Mark(fmt.Errorf("forwarding %q on %s: not an absolute path", path, t.Target.Alias), status.ErrUsage)
	}
	if f, ok := t.Remote.(UnixForwarder); ok {
		conn, err := f.DialUnix(ctx, t.Pool.Options(), t.Target, path)
		if !errors.Is(err, ErrNoRemote) {
			return conn, err
		}
	}
	for try := 0; ; try++ {
		c, release, err := t.Pool.Client(ctx, t.Target)
		if err != nil {
			return nil, reachErr(err)
		}
		conn, err := c.Dial("unix", path)
		if err == nil {
			return &releasingConn{Conn: conn, release: release}, nil
		}
		release()
		err = fmt.Errorf("forwarding %s on %s: %w", path, t.Target.Alias, err)
		var refused *ssh.OpenChannelError
		if errors.As(err, &refused) {
			return nil, err // the node answered: no stream there
		}
		if try > 0 || ctx.Err() != nil {
			return nil, reachErr(err)
		}
		t.Pool.drop(t.Target, c)
	}
}

// releasingConn is a forwarded stream that gives its SSH connection back
// to the pool once closed.
type releasingConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *releasingConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
