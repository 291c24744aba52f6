package sshx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
	"time"

	"github.com/pkg/sftp"

	"github.com/smctl/smctl/pkg/status"
	"github.com/smctl/smctl/pkg/transport"
)

var _ transport.FileOpener = (*Transport)(nil)

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
	c, release, err := t.Pool.Client(ctx, t.Target)
	if err != nil {
		return nil, nil, reachErr(err)
	}
	sess, err := c.NewSession()
	if err != nil {
		release()
		return nil, nil, reachErr(fmt.Errorf("session: %w", err))
	}
	stop := context.AfterFunc(ctx, func() { sess.Close() })
	fail := func(err error) (*sftp.Client, func(), error) {
		stop()
		sess.Close()
		release()
		if ctx.Err() != nil {
			return nil, nil, context.Cause(ctx)
		}
		return nil, nil, err
	}
	w, err := sess.StdinPipe()
	if err != nil {
		return fail(reachErr(fmt.Errorf("session: %w", err)))
	}
	r, err := sess.StdoutPipe()
	if err != nil {
		return fail(reachErr(fmt.Errorf("session: %w", err)))
	}
	if err := sess.RequestSubsystem("sftp"); err != nil {
		if errors.Is(err, io.EOF) {
			return fail(reachErr(fmt.Errorf("sftp: %w", err)))
		}
		return fail(fmt.Errorf("the node refused the sftp subsystem (its sshd needs a Subsystem sftp line): %w", err))
	}
	sc, err := sftp.NewClientPipe(r, w, sftpOptions...)
	if err != nil {
		return fail(fmt.Errorf("sftp: %w (does a login script print to standard output?)", err))
	}
	var once sync.Once
	return sc, func() {
		once.Do(func() {
			stop()
			sc.Close()
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
