package transport

import (
	"context"
	"errors"
	"io"

	"github.com/smctl/smctl/pkg/status"
)

// Stream is what a caller adds to one command's run: writers that receive
// its output as it arrives (besides Output, which still holds it all),
// bytes for its standard input, and a request for a pseudo-terminal.
// Transports read it from the context of Exec (StreamOf); a transport that
// cannot give a pty fails the command with ErrNoPty.
type Stream struct {
	Stdout, Stderr io.Writer
	Stdin          []byte
	Pty            bool
}

// ErrNoPty is the error of a command that asked for a pty on a transport
// that cannot give one.
// It is a usage error (status.ErrUsage): nothing ran.
var ErrNoPty = status.Mark(errors.New("this transport cannot give a command a pty (-t needs ssh)"), status.ErrUsage)

type streamKey struct{}

type streamsKey struct{}

// WithStream returns ctx carrying s for the commands run under it.
func WithStream(ctx context.Context, s Stream) context.Context {
	return context.WithValue(ctx, streamKey{}, s)
}

// StreamOf returns the Stream ctx carries (the zero Stream if none).
func StreamOf(ctx context.Context) Stream {
	s, _ := ctx.Value(streamKey{}).(Stream)
	return s
}

// WithStreams returns ctx carrying one Stream per device, made by of from
// the device's virtual path: a fan-out streams each node's output to its
// own prefixed writers. The agent that runs a device's command picks its
// Stream (StreamFor) and hands it to the transport (WithStream).
func WithStreams(ctx context.Context, of func(device string) Stream) context.Context {
	return context.WithValue(ctx, streamsKey{}, of)
}

// StreamFor returns the Stream of device that ctx carries, if any.
func StreamFor(ctx context.Context, device string) (Stream, bool) {
	of, ok := ctx.Value(streamsKey{}).(func(string) Stream)
	if !ok {
		return Stream{}, false
	}
	return of(device), true
}
