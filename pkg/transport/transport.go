// Package transport reaches a managed node: run a shell command on it, list
// and read its files (for the live proc/ and sys/ directories).
//
// Local reaches the machine smctl runs on, with no SSH; it backs the
// built-in localhost server. Every method takes a context and honours its
// cancellation; a command's process group is killed when it ends.
package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"sort"
	"strings"
	"time"

	"github.com/smctl/smctl/pkg/proc"
)

// Output is the result of a command.
type Output struct {
	Stdout []byte
	Stderr []byte
	Exit   int
}

// Entry describes a file on a node.
type Entry struct {
	Name    string
	Mode    fs.FileMode // type bits and permissions; symlinks are not followed
	Size    int64
	ModTime time.Time
}

// Transport reaches one node.
type Transport interface {
	// Exec runs command through the node's shell. A non-zero exit is
	// reported in Output.Exit, not as an error.
	Exec(ctx context.Context, command string, stdin []byte, maxOut int64) (Output, error)
	// ReadFile reads an absolute path on the node, failing past max bytes.
	ReadFile(ctx context.Context, name string, max int64) ([]byte, error)
	// ReadDir lists an absolute directory on the node, sorted by name.
	ReadDir(ctx context.Context, name string) ([]Entry, error)
	// Stat describes an absolute path on the node without following a
	// final symlink.
	Stat(ctx context.Context, name string) (Entry, error)
}

// ErrTooLarge is returned by ReadFile past its limit.
var ErrTooLarge = errors.New("file larger than the output limit")

// Local is the machine smctl runs on.
type Local struct{}

var _ Transport = Local{}

// Exec implements Transport.
func (Local) Exec(ctx context.Context, command string, stdin []byte, maxOut int64) (Output, error) {
	s := StreamOf(ctx)
	if s.Pty {
		return Output{}, ErrNoPty
	}
	cmd := exec.Command("/bin/sh", "-c", command)
	if stdin != nil {
		cmd.Stdin = strings.NewReader(string(stdin))
	}
	out, err := proc.RunTee(ctx, cmd, maxOut, s.Stdout, s.Stderr)
	return Output{Stdout: out.Stdout, Stderr: out.Stderr, Exit: out.Exit}, err
}

// ReadFile implements Transport.
func (Local) ReadFile(ctx context.Context, name string, max int64) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.IsDir() {
		return nil, &fs.PathError{Op: "read", Path: name, Err: errors.New("is a directory")}
	}
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s: %w (%d bytes)", name, ErrTooLarge, max)
	}
	return b, ctx.Err()
}

// ReadDir implements Transport.
func (Local) ReadDir(ctx context.Context, name string) ([]Entry, error) {
	des, err := os.ReadDir(name)
	if err != nil {
		return nil, err
	}
	out := make([]Entry, 0, len(des))
	for _, de := range des {
		e := Entry{Name: de.Name(), Mode: de.Type()}
		if info, err := de.Info(); err == nil {
			e.Mode, e.Size, e.ModTime = info.Mode(), info.Size(), info.ModTime()
		}
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, ctx.Err()
}

// Stat implements Transport.
func (Local) Stat(ctx context.Context, name string) (Entry, error) {
	info, err := os.Lstat(name)
	if err != nil {
		return Entry{}, err
	}
	return Entry{Name: info.Name(), Mode: info.Mode(), Size: info.Size(), ModTime: info.ModTime()}, ctx.Err()
}

// Broken is a transport that cannot be had: every method returns Err (an
// unknown transport, a bad port attribute). Built-in agents meet the
// reason when they use it, not before.
type Broken struct{ Err error }

var _ Transport = Broken{}

// Exec implements Transport.
func (b Broken) Exec(context.Context, string, []byte, int64) (Output, error) { return Output{}, b.Err }

// ReadFile implements Transport.
func (b Broken) ReadFile(context.Context, string, int64) ([]byte, error) { return nil, b.Err }

// ReadDir implements Transport.
func (b Broken) ReadDir(context.Context, string) ([]Entry, error) { return nil, b.Err }

// Stat implements Transport.
func (b Broken) Stat(context.Context, string) (Entry, error) { return Entry{}, b.Err }
