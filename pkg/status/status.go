// Package status is smctl's one vocabulary for how an operation on a file
// ended: a Code (the number NAME.status records and the exit status a
// script agent returns), the sentinel errors transports and drivers wrap,
// and Of, the one function from an error to its Code.
//
// Codes follow the conventions administrators already read: 0 ok, 1
// failed, 2 usage or configuration (an untrusted input is a configuration
// error), 71 a local error (sysexits' EX_OSERR: this machine ran out of
// descriptors or memory, which says nothing of the node), 124 timed out (as
// timeout(1)), 126 and 127 not executable and not found (as the shell), 130
// interrupted (as a shell's SIGINT), 255 unreachable (as ssh).
//
// Errors are classified with errors.Is and errors.As only, never by their
// text: a package that fails in one of these ways wraps the sentinel
// (fmt.Errorf("...: %w", status.ErrUnreachable), or Mark to keep the
// message as it is) or returns an error carrying its code: an *Error, or
// any error with a StatusCode method (Coder).
package status

import (
	"context"
	"errors"
	"syscall"
)

// Code is the status of one operation on one file.
type Code int

// The named codes.
const (
	OK            Code = 0
	Failed        Code = 1
	Usage         Code = 2 // usage or configuration error, untrusted input included
	Local         Code = 71
	Timeout       Code = 124
	NotExecutable Code = 126
	NotFound      Code = 127
	Interrupted   Code = 130
	Unreachable   Code = 255
)

// Sentinel errors, wrapped by the packages that fail so.
var (
	// ErrOutputLimit: a command or agent printed more than allowed.
	ErrOutputLimit = errors.New("output limit exceeded")
	// ErrUnreachable: the node could not be reached (connection refused,
	// no route, handshake or authentication failed).
	ErrUnreachable = errors.New("unreachable")
	// ErrTimeout: an operation exceeded its time bound.
	ErrTimeout = errors.New("timed out")
	// ErrInterrupted: the operation was cancelled before it finished.
	ErrInterrupted = errors.New("interrupted")
	// ErrUntrusted: an input that decides what runs, where it connects or
	// what it sends is not trusted (the OpenSSH StrictModes rule).
	ErrUntrusted = errors.New("untrusted file")
	// ErrUsage: a bad value given to an agent or a command.
	ErrUsage = errors.New("usage")
)

// Coder is an error that carries its own code. *Error is one; a package
// whose error type predates this one (with a code field of another name)
// implements it so that Of reads that code.
type Coder interface {
	error
	StatusCode() Code
}

// Error is an operation that failed with a given code.
type Error struct {
	Code Code
	Err  error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// StatusCode implements Coder.
func (e *Error) StatusCode() Code { return e.Code }

// New returns an *Error with code and cause err.
func New(code Code, err error) *Error { return &Error{Code: code, Err: err} }

// IsLocal reports errors of the machine smctl runs on (out of descriptors
// or memory), which say nothing about the node.
func IsLocal(err error) bool {
	for _, e := range []error{syscall.EMFILE, syscall.ENFILE, syscall.ENOMEM, syscall.ENOBUFS} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// Mark returns err also wrapping sentinel, its message unchanged: for a
// failure whose text is already what the user should read (fmt.Errorf
// with %w would append the sentinel's). errors.Is and errors.As see err's
// chain and the sentinel; Mark(nil, s) is nil.
func Mark(err, sentinel error) error {
	if err == nil {
		return nil
	}
	return &marked{err: err, sentinel: sentinel}
}

type marked struct{ err, sentinel error }

func (m *marked) Error() string   { return m.err.Error() }
func (m *marked) Unwrap() []error { return []error{m.err, m.sentinel} }

// Of is the code of err: nil is OK; a Coder (the outermost: an *Error or
// another package's coded error) gives its own code; then the sentinels,
// local errors and context errors; anything else is Failed. A local error
// wins over ErrUnreachable (running out of descriptors while dialling says
// nothing of the node).
func Of(err error) Code {
	var c Coder
	switch {
	case err == nil:
		return OK
	case errors.As(err, &c):
		return c.StatusCode()
	case errors.Is(err, ErrUntrusted), errors.Is(err, ErrUsage):
		return Usage
	case IsLocal(err):
		return Local
	case errors.Is(err, ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return Timeout
	case errors.Is(err, ErrInterrupted), errors.Is(err, context.Canceled):
		return Interrupted
	case errors.Is(err, ErrUnreachable):
		return Unreachable
	}
	return Failed
}

// Class is how a summary counts a code: "ok", "timed out", "unreachable",
// "local error", "interrupted" or "failed".
func (c Code) Class() string {
	switch c {
	case OK:
		return ClassOK
	case Timeout:
		return ClassTimedOut
	case Unreachable:
		return ClassUnreachable
	case Local:
		return ClassLocal
	case Interrupted:
		return ClassInterrupted
	}
	return ClassFailed
}

// The classes, in the order summaries print them.
const (
	ClassOK          = "ok"
	ClassFailed      = "failed"
	ClassTimedOut    = "timed out"
	ClassUnreachable = "unreachable"
	ClassLocal       = "local error"
	ClassInterrupted = "interrupted"
)

// Classes lists the classes in summary order.
func Classes() []string {
	return []string{ClassOK, ClassFailed, ClassTimedOut, ClassUnreachable, ClassLocal, ClassInterrupted}
}
