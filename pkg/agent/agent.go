// Package agent defines how smctl runs the agents behind its files.
//
// Sysman's model is kept: an agent is a hook on an ordinary stored file,
// found by the pair <file name, operation>. An executable agent is run as
//
//	AGENT -f <virtual path> [-u <user>] [-p <password>] [-i <input>]
//
// (Sysman's Figure 8), with the write input also on its standard input and
// SMCTL_* variables in its environment. The password goes only in
// $SMCTL_PASSWORD unless the agent is opted in to -p, since a command line
// is world-readable in /proc. Built-in agents are Go functions behind the
// same Agent interface, kept in a Registry value; an executable of the same
// name in an agent directory overrides a built-in.
//
// An agent reports through a Result: its output (stdout) and a status (exit
// code and a one-line message, the first line of stderr), which the tree
// stores as the file's content and NAME.status. A run that could not happen
// at all (not executable, timed out, printed too much) is an *Error carrying
// the status code to record (a status.Coder: see package status).
package agent

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/smctl/smctl/pkg/proc"
	"github.com/smctl/smctl/pkg/status"
	"github.com/smctl/smctl/pkg/transport"
	"github.com/smctl/smctl/pkg/trust"
)

// Op is the file operation an agent hooks.
type Op string

// The two operations.
const (
	Read  Op = "read"
	Write Op = "write"
)

// Ran is what a file's status records as having run by op with input:
// the value written (a command); a read is recorded without (the file's
// own read agent is what ran).
func (op Op) Ran(input []byte) string {
	if op == Write {
		return string(input)
	}
	return ""
}

// Request is one agent invocation.
type Request struct {
	Path   string // virtual path of the file, e.g. /systems/servers/n1/power
	Op     Op
	Device string // virtual path of the device directory ("/" at the root)
	Type   string // device type ("" at the root)
	Host   string // address that reaches the device (its "address" file)
	Root   string // state root directory
	// Attrs holds the device's attribute files (address, port, user,
	// transport, bmc, ...), trimmed.
	Attrs map[string]string
	// User and Password are the nearest inherited ids credentials, if any.
	User, Password string
	Input          []byte // the value written (Write only)
	// Transport reaches the device (the driver its transport attribute
	// names), resolved for the request; built-in agents run commands and
	// read files through it. When the device cannot be reached so (an
	// unknown transport, a bad port), its methods return why.
	Transport transport.Transport
	MaxOutput int64 // cap on stdout
	// Timeout is the run's time limit (its context's deadline), for
	// messages: "timed out after 30s".
	Timeout time.Duration
	KeyFile string // key of ids files, passed on as $SMCTL_KEY_FILE
	// Peer looks up another device by its virtual path (a VM's
	// hypervisor): its type, trusted attributes and transport, as its own
	// agents get them (an error says why it may not act). Nil outside the
	// tree.
	Peer func(ctx context.Context, dev string) (Peer, error)
	// Stored reads the stored content of the device's file name (what its
	// last run left: an agent that keeps a record, a hypervisor's events,
	// adds to it; a VM's definition as last read) as attributes are read:
	// only when it and its directories are trusted (written by smctl's
	// owner or root), else a *trust.Error. Nil outside the tree.
	Stored func(name string) ([]byte, error)
}

// Peer is another device as Request.Peer finds it: Type is "" where the
// path is no device.
type Peer struct {
	Type      string
	Attrs     map[string]string
	Transport transport.Transport
}

// Result is what an agent run produced.
type Result struct {
	Output  []byte // becomes the file content (for writes: when non-empty)
	RC      int    // 0 on success
	Message string // one line for NAME.status
	// Keep makes Output the file's content even when RC is not 0: the
	// command file keeps a remote command's output whatever its exit
	// status, which is the command's own and not a failure to run it.
	// Stderr, its whole standard error, is then kept in NAME.stderr.
	Keep   bool
	Stderr []byte
}

// TimedOut is the message of an agent run that outlived its time limit:
// "agent power.read timed out after 30s", followed by what the agent said
// of it when it said more than that its deadline passed (which libvirtd
// it was waiting for).
func TimedOut(label string, limit time.Duration, msg string) string {
	msg = strings.TrimSuffix(strings.TrimSuffix(msg, context.DeadlineExceeded.Error()), ": ")
	if msg == "" || strings.HasPrefix(msg, "agent "+label+" timed out") {
		return fmt.Sprintf("agent %s timed out after %s", label, limit)
	}
	return fmt.Sprintf("agent %s timed out after %s: %s", label, limit, msg)
}

// Agent runs one agent.
type Agent interface {
	Run(ctx context.Context, req *Request) (Result, error)
}

// Func adapts a function to Agent.
type Func func(ctx context.Context, req *Request) (Result, error)

// Run implements Agent.
func (f Func) Run(ctx context.Context, req *Request) (Result, error) { return f(ctx, req) }

// Status codes recorded for runs that failed before an agent could report:
// the codes of package status, as ints.
//
// Compatibility: these, Error and IsLocal predate package status and are
// kept for pkg/vtree until it classifies with status.Of; new code uses the
// status package (and Fail) instead.
const (
	RCFailed        = int(status.Failed)        // generic failure
	RCUntrusted     = int(status.Usage)         // an input that decides what runs is not trusted (StrictModes)
	RCLocal         = int(status.Local)         // a local error (EMFILE, ENOMEM, ...); never "unreachable"
	RCTimeout       = int(status.Timeout)       // as timeout(1)
	RCNotExecutable = int(status.NotExecutable) // as the shell
	RCNotFound      = int(status.NotFound)
	RCInterrupted   = int(status.Interrupted)
	RCUnreachable   = int(status.Unreachable) // as ssh: the node could not be reached
)

// Error is an agent run that failed as a whole; RC is what .status
// records. It is a status.Coder: status.Of(err) is its RC.
//
// Compatibility: it is status.Error with the code field under its old
// name, for pkg/vtree (&agent.Error{RC: ...}, errors.As into *agent.Error);
// agents make it with Fail.
type Error struct {
	RC  int
	Err error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// StatusCode implements status.Coder.
func (e *Error) StatusCode() status.Code { return status.Code(e.RC) }

// Fail is the error of an agent run that failed as a whole with code: what
// built-in agents return when they cannot report through a Result.
func Fail(code status.Code, err error) error { return &Error{RC: int(code), Err: err} }

// RunError is a failed agent run as the tree reports it: RC and Msg are
// what NAME.status holds, Agent names the agent ("power.read"). Without an
// Agent it is a live access to a node that failed so (RC 124).
type RunError struct {
	Agent string
	RC    int
	Msg   string
}

func (e *RunError) Error() string {
	if e.Agent == "" {
		return e.Msg
	}
	if e.Msg == "" {
		return fmt.Sprintf("agent %s: exit %d", e.Agent, e.RC)
	}
	if strings.Contains(e.Msg, e.Agent) {
		return e.Msg
	}
	return fmt.Sprintf("agent %s: exit %d: %s", e.Agent, e.RC, e.Msg)
}

// StatusCode implements status.Coder: the code NAME.status records.
func (e *RunError) StatusCode() status.Code { return status.Code(e.RC) }

// IsLocal is status.IsLocal (compatibility, for pkg/vtree).
func IsLocal(err error) bool { return status.IsLocal(err) }

// Exec is an executable agent.
type Exec struct {
	Path string // file system path of the executable
	// PassPassword adds "-p PASSWORD" to the command line (compatibility).
	PassPassword bool
	// Self is the smctl binary, exported as $SMCTL_BIN so that script
	// agents can reach the tree (e.g. "$SMCTL_BIN" cat "$SMCTL_DEVICE/proc/loadavg").
	Self string
}

// maxArgInput is the largest write input also passed as -i; larger input
// is on standard input only (a single argv string may not exceed 128 KiB).
const maxArgInput = 64 << 10

// Run implements Agent.
func (e *Exec) Run(ctx context.Context, req *Request) (Result, error) {
	name := filepath.Base(e.Path)
	// The agent runs with the caller's credentials: it must be trusted,
	// judged on the open file (its directory is judged by the tree).
	// O_NONBLOCK: a FIFO where the agent belongs is refused, not waited on.
	f, err := os.OpenFile(e.Path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	var st fs.FileInfo
	if err == nil {
		st, err = f.Stat()
		if err == nil {
			err = trust.Info(e.Path, st)
		}
		f.Close()
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return Result{}, Fail(status.NotFound, fmt.Errorf("agent %s: not found", e.Path))
	case errors.Is(err, status.ErrUntrusted):
		return Result{}, Fail(status.Usage, err)
	case err != nil:
		return Result{}, Fail(status.NotExecutable, fmt.Errorf("agent %s: %w", e.Path, err))
	case !st.IsDir() && !st.Mode().IsRegular():
		return Result{}, Fail(status.NotExecutable, fmt.Errorf("agent %s is not a regular file (%v)", e.Path, st.Mode().Type()))
	case st.IsDir() || st.Mode().Perm()&0o111 == 0:
		return Result{}, Fail(status.NotExecutable, fmt.Errorf("agent %s is not executable (chmod +x %s)", e.Path, e.Path))
	}
	args := []string{"-f", req.Path}
	if req.User != "" {
		args = append(args, "-u", req.User)
		if e.PassPassword {
			args = append(args, "-p", req.Password)
		}
	}
	input := strings.TrimRight(string(req.Input), "\n")
	if req.Op == Write && len(input) <= maxArgInput && !strings.ContainsRune(input, 0) {
		args = append(args, "-i", input)
	}
	cmd := exec.Command(e.Path, args...)
	cmd.Dir = req.Root
	cmd.Env = Env(req, e.Self)
	if req.Op == Write {
		cmd.Stdin = strings.NewReader(string(req.Input))
	}
	max := req.MaxOutput
	if max <= 0 {
		max = 16 << 20
	}
	out, err := proc.Run(ctx, cmd, max)
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return Result{}, Fail(status.Timeout, fmt.Errorf("agent %s timed out", name))
	case errors.Is(err, context.Canceled):
		return Result{}, Fail(status.Interrupted, fmt.Errorf("agent %s interrupted", name))
	case errors.Is(err, status.ErrOutputLimit):
		return Result{}, Fail(status.Failed, fmt.Errorf("agent %s: %w; nothing stored", name, err))
	case err != nil:
		return Result{}, Fail(status.NotExecutable, fmt.Errorf("agent %s: %w", name, err))
	}
	msg := proc.FirstLine(out.Stderr)
	if out.Exit != 0 && msg == "" {
		msg = fmt.Sprintf("agent %s exited with status %d", name, out.Exit)
	}
	return Result{Output: out.Stdout, RC: out.Exit, Message: msg}, nil
}

// Env returns the environment of an agent: smctl's own, less any SMCTL_*
// variables it inherited, plus the request's.
func Env(req *Request, self string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SMCTL_") {
			env = append(env, kv)
		}
	}
	add := func(k, v string) { env = append(env, k+"="+v) }
	add("SMCTL_PATH", req.Path)
	add("SMCTL_OP", string(req.Op))
	add("SMCTL_DEVICE", req.Device)
	add("SMCTL_TYPE", req.Type)
	add("SMCTL_HOST", req.Host)
	add("SMCTL_ROOT", req.Root)
	add("SMCTL_BIN", self)
	if req.KeyFile != "" {
		add("SMCTL_KEY_FILE", req.KeyFile)
	}
	if req.User != "" {
		add("SMCTL_USER", req.User)
		add("SMCTL_PASSWORD", req.Password)
	}
	for k, v := range req.Attrs {
		add("SMCTL_ATTR_"+strings.ToUpper(strings.Map(envSafe, k)), v)
	}
	return env
}

func envSafe(r rune) rune {
	if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
		return r
	}
	return '_'
}

// Key names an agent: the device type ("" for files at the root of the
// tree), the file name and the operation.
type Key struct {
	Type string
	Name string
	Op   Op
}

// Registry holds the built-in agents. The zero value is empty and ready.
type Registry struct {
	m map[Key]Agent
}

// Register adds a built-in agent for files called name in devices of
// type typ.
func (r *Registry) Register(typ, name string, op Op, a Agent) {
	if r.m == nil {
		r.m = map[Key]Agent{}
	}
	r.m[Key{typ, name, op}] = a
}

// Lookup returns the built-in agent for k, if any.
func (r *Registry) Lookup(k Key) (Agent, bool) {
	a, ok := r.m[k]
	return a, ok
}

// Names returns the file names that have built-in agents for type typ,
// with the operations they support.
func (r *Registry) Names(typ string) map[string][]Op {
	out := map[string][]Op{}
	for k := range r.m {
		if k.Type == typ {
			out[k.Name] = append(out[k.Name], k.Op)
		}
	}
	return out
}
