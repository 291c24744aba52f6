package transport

import (
	"context"
	"errors"
	"strings"
)

// Writer is the optional ability of a transport to act on writes to some
// paths of its node, the ones a driver presents as writable files (the
// linux driver's os/hostname, proc/sys/..., processes/PID/nice).
type Writer interface {
	// WriteFile does what writing data to name means on the node and
	// returns what to show for it: the value now in effect, or nothing. A
	// path it does not act on gives an error wrapping ErrNotWritable,
	// having done nothing.
	WriteFile(ctx context.Context, name string, data []byte) ([]byte, error)
	// Writable reports whether the path name is one WriteFile acts on.
	Writable(name string) bool
	// Destructive lists the values (their first word; "*" any value)
	// whose write to name destroys or interrupts something: a reboot, a
	// SIGKILL, a partition removed. smctl write asks before writing one
	// to many devices.
	Destructive(name string) []string
}

// ErrNotWritable is wrapped by the error of a Writer for a path it does
// not act on.
var ErrNotWritable = errors.New("not writable")

// Quote quotes s as one word for a POSIX shell.
func Quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
