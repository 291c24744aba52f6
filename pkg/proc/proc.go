// Package proc runs a child process the way smctl runs every agent and
// local command: in its own process group, killed as a group when its
// context ends, with stdout capped and stderr reduced to what a status
// line needs.
package proc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/smctl/smctl/pkg/status"
)

// ErrOutputLimit is returned when a command printed more than allowed:
// status.ErrOutputLimit, the one sentinel every transport wraps.
var ErrOutputLimit = status.ErrOutputLimit

// Output is what a finished child left.
type Output struct {
	Stdout []byte
	Stderr []byte // at most the first 64 KiB
	Exit   int    // exit code; 128+N when killed by signal N
}

// FirstLine returns the first non-empty line of b, trimmed.
func FirstLine(b []byte) string {
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			return l
		}
	}
	return ""
}

type capWriter struct {
	buf    bytes.Buffer
	max    int64
	over   bool
	onOver func()
}

func (w *capWriter) Write(p []byte) (int, error) {
	if w.over {
		return 0, ErrOutputLimit
	}
	if room := w.max - int64(w.buf.Len()); int64(len(p)) > room {
		w.buf.Write(p[:max(room, 0)]) // what fits is kept
		w.over = true
		w.onOver()
		return 0, ErrOutputLimit
	}
	return w.buf.Write(p)
}

type headWriter struct {
	buf bytes.Buffer
	max int
}

func (w *headWriter) Write(p []byte) (int, error) {
	if room := w.max - w.buf.Len(); room > 0 {
		if len(p) > room {
			w.buf.Write(p[:room])
		} else {
			w.buf.Write(p)
		}
	}
	return len(p), nil
}

// Run starts cmd (whose Stdin the caller may set) and waits for it. When ctx
// ends, the whole process group gets SIGKILL. maxOut bounds stdout: past
// it the group is killed and ErrOutputLimit returned. A non-zero exit is not
// an error: it is reported in Output.Exit. Errors are for a child that could
// not run, was killed by ctx (ctx.Err() wrapped) or printed too much.
func Run(ctx context.Context, cmd *exec.Cmd, maxOut int64) (Output, error) {
	return run(ctx, cmd, maxOut, 64<<10, nil, nil)
}

// RunTee is Run for a command whose whole stderr matters (a command file's
// NAME.stderr): stderr is kept up to maxOut like stdout, rather than its
// first 64 KiB, and teeOut and teeErr, when set, also receive stdout and
// stderr as they arrive.
func RunTee(ctx context.Context, cmd *exec.Cmd, maxOut int64, teeOut, teeErr io.Writer) (Output, error) {
	return run(ctx, cmd, maxOut, int(max(maxOut, 64<<10)), teeOut, teeErr)
}

func run(ctx context.Context, cmd *exec.Cmd, maxOut int64, maxErr int, teeOut, teeErr io.Writer) (Output, error) {
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stdout := &capWriter{max: maxOut, onOver: cancel}
	stderr := &headWriter{max: maxErr}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if teeOut != nil {
		cmd.Stdout = io.MultiWriter(stdout, teeOut)
	}
	if teeErr != nil {
		cmd.Stderr = io.MultiWriter(stderr, teeErr)
	}
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	// Once the leader has exited, descendants still holding the output pipes
	// get one second before the pipes are closed under them.
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		return Output{}, err
	}
	// The exec.CommandContext machinery kills only the leader; kill the group.
	stop := context.AfterFunc(cctx, func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	defer stop()
	werr := cmd.Wait()
	if errors.Is(werr, exec.ErrWaitDelay) {
		werr = nil
	}
	// Reap the rest of the group too if the leader exited but left children
	// holding our pipes (waitBounded gave up on them).
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	out := Output{Stdout: stdout.buf.Bytes(), Stderr: stderr.buf.Bytes()}
	if stdout.over {
		return out, fmt.Errorf("%w: printed more than %d bytes", ErrOutputLimit, maxOut)
	}
	if err := ctx.Err(); err != nil {
		return out, err
	}
	var ee *exec.ExitError
	if errors.As(werr, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			out.Exit = 128 + int(ws.Signal())
		} else {
			out.Exit = ee.ExitCode()
		}
		return out, nil
	}
	return out, werr
}
