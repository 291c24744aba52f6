package cli

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"

	"golang.org/x/term"

	"github.com/smctl/smctl/pkg/agent"
)

// IOStreams are the standard streams of a command, injected so that tests
// can capture them; styling is only for terminals.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	inTTY, outTTY, errTTY bool
	color                 bool
	flushOut              func() error // set by BufferOut
}

// System returns the process's streams.
func System() *IOStreams {
	errTTY := term.IsTerminal(int(os.Stderr.Fd()))
	return &IOStreams{
		In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr,
		inTTY:  term.IsTerminal(int(os.Stdin.Fd())),
		outTTY: term.IsTerminal(int(os.Stdout.Fd())),
		errTTY: errTTY,
		color:  errTTY && os.Getenv("NO_COLOR") == "" && os.Getenv("TERM") != "dumb",
	}
}

// Test returns streams over buffers, none a terminal.
func Test(in string) (*IOStreams, *bytes.Buffer, *bytes.Buffer) {
	out, errOut := &bytes.Buffer{}, &bytes.Buffer{}
	return &IOStreams{In: bytes.NewBufferString(in), Out: out, ErrOut: errOut}, out, errOut
}

// InIsTerminal reports whether standard input is a terminal.
func (s *IOStreams) InIsTerminal() bool { return s.inTTY }

// BufferOut makes Out buffered when it is not a terminal (a pipe or a file
// gets one write per 64 KiB, not one per line; a terminal still gets each
// line as it comes), and returns the flush to call when the verb is done.
// Errorf flushes it first, so that what was printed keeps its order with
// the errors when both streams go to one file.
func (s *IOStreams) BufferOut() func() error {
	if s.outTTY {
		return func() error { return nil }
	}
	bw := bufio.NewWriterSize(s.Out, 64<<10)
	s.Out, s.flushOut = bw, bw.Flush
	return bw.Flush
}

// Errorf prints one "smctl: ..." line on ErrOut, first clearing a progress
// line a terminal may show.
func (s *IOStreams) Errorf(format string, args ...any) {
	if s.flushOut != nil {
		_ = s.flushOut()
	}
	prefix := ""
	if s.errTTY {
		prefix = "\r\x1b[K"
	}
	// Messages carry text from nodes and agents: never raw escape
	// sequences on the admin's terminal.
	fmt.Fprint(s.ErrOut, prefix+"smctl: "+agent.Escape(fmt.Sprintf(format, args...))+"\n")
}
