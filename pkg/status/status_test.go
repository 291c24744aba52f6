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
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Of(tt.err); got != tt.want {
				t.Errorf("Of(%v) = %d, want %d", tt.err, got, tt.want)
			}
		})
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
