package status

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"syscall"
	"testing"
)

func TestOf(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want Code
	}{
		{"nil", nil, OK},
		{"plain", errors.New("boom"), Failed},
		{"error code", New(Timeout, errors.New("x")), Timeout},
		{"wrapped error code", fmt.Errorf("node n1: %w", New(NotFound, errors.New("x"))), NotFound},
		{"outermost error wins", New(Failed, New(Unreachable, errors.New("x"))), Failed},
		{"code beats sentinel", New(Failed, fmt.Errorf("%w", ErrUnreachable)), Failed},
		{"untrusted", fmt.Errorf("a: %w", ErrUntrusted), Usage},
		{"usage", fmt.Errorf("a: %w", ErrUsage), Usage},
		{"emfile", &fs.PathError{Op: "open", Path: "x", Err: syscall.EMFILE}, Local},
		{"enfile", syscall.ENFILE, Local},
		{"enomem", syscall.ENOMEM, Local},
		{"enobufs", syscall.ENOBUFS, Local},
		{"local beats unreachable", fmt.Errorf("%w: %w", ErrUnreachable, syscall.EMFILE), Local},
		{"timeout", fmt.Errorf("x: %w", ErrTimeout), Timeout},
		{"deadline", fmt.Errorf("x: %w", context.DeadlineExceeded), Timeout},
		{"interrupted", ErrInterrupted, Interrupted},
		{"canceled", fmt.Errorf("x: %w", context.Canceled), Interrupted},
		{"unreachable", fmt.Errorf("dial: %w", ErrUnreachable), Unreachable},
		{"output limit", fmt.Errorf("cmd: %w", ErrOutputLimit), Failed},
		{"econnrefused alone", syscall.ECONNREFUSED, Failed},
		{"coder", &legacy{rc: 126, err: errors.New("x")}, NotExecutable},
		{"wrapped coder", fmt.Errorf("run: %w", &legacy{rc: 127, err: errors.New("x")}), NotFound},
		{"outermost coder wins", &legacy{rc: 1, err: New(Timeout, errors.New("x"))}, Failed},
		{"outermost error wins over coder", New(Unreachable, &legacy{rc: 1, err: errors.New("x")}), Unreachable},
		{"coder beats local", &legacy{rc: 255, err: syscall.EMFILE}, Unreachable},
		{"marked unreachable", Mark(errors.New("connect: refused"), ErrUnreachable), Unreachable},
		{"marked local wins", Mark(fmt.Errorf("dial: %w", syscall.EMFILE), ErrUnreachable), Local},
		{"marked usage", Mark(errors.New("bad value"), ErrUsage), Usage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Of(tt.err); got != tt.want {
				t.Errorf("Of(%v) = %d, want %d", tt.err, got, tt.want)
			}
		})
	}
}

// legacy is an error type of another package with a code field of its
// own, made a Coder.
type legacy struct {
	rc  int
	err error
}

func (e *legacy) Error() string    { return e.err.Error() }
func (e *legacy) Unwrap() error    { return e.err }
func (e *legacy) StatusCode() Code { return Code(e.rc) }

func TestMark(t *testing.T) {
	if Mark(nil, ErrUnreachable) != nil {
		t.Fatal("Mark(nil) is not nil")
	}
	cause := &fs.PathError{Op: "dial", Path: "n1", Err: syscall.ECONNREFUSED}
	err := Mark(cause, ErrUnreachable)
	if err.Error() != cause.Error() {
		t.Errorf("Mark changed the message: %q, want %q", err, cause)
	}
	if !errors.Is(err, ErrUnreachable) || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("Mark: Is(ErrUnreachable) = %v, Is(ECONNREFUSED) = %v", errors.Is(err, ErrUnreachable), errors.Is(err, syscall.ECONNREFUSED))
	}
	var pe *fs.PathError
	if !errors.As(err, &pe) || pe != cause {
		t.Errorf("Mark: As(*fs.PathError) lost the cause")
	}
	if errors.Is(err, ErrTimeout) {
		t.Error("Mark: Is(ErrTimeout) for an unrelated sentinel")
	}
	wrapped := fmt.Errorf("node n1: %w", err)
	if wrapped.Error() != "node n1: "+cause.Error() || Of(wrapped) != Unreachable {
		t.Errorf("wrapped mark: %q, code %d", wrapped, Of(wrapped))
	}
}

func TestCoder(t *testing.T) {
	var _ Coder = (*Error)(nil)
	var _ Coder = (*legacy)(nil)
	if c := New(Interrupted, errors.New("x")).StatusCode(); c != Interrupted {
		t.Errorf("StatusCode() = %d", c)
	}
}

func TestClass(t *testing.T) {
	tests := []struct {
		c    Code
		want string
	}{
		{OK, "ok"}, {Failed, "failed"}, {Usage, "failed"}, {Local, "local error"},
		{Timeout, "timed out"}, {NotExecutable, "failed"}, {NotFound, "failed"},
		{Interrupted, "interrupted"}, {Unreachable, "unreachable"}, {3, "failed"}, {-1, "failed"},
	}
	for _, tt := range tests {
		if got := tt.c.Class(); got != tt.want {
			t.Errorf("Code(%d).Class() = %q, want %q", tt.c, got, tt.want)
		}
	}
	seen := map[string]bool{}
	for _, c := range Classes() {
		if seen[c] {
			t.Errorf("class %q twice", c)
		}
		seen[c] = true
	}
	for _, tt := range tests {
		if !seen[tt.want] {
			t.Errorf("class %q missing from Classes()", tt.want)
		}
	}
}

func TestErrorUnwrap(t *testing.T) {
	cause := errors.New("cause")
	e := New(Timeout, cause)
	if e.Error() != "cause" || !errors.Is(e, cause) {
		t.Fatalf("Error() = %q, Is(cause) = %v", e.Error(), errors.Is(e, cause))
	}
}
