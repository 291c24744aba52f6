package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/smctl/smctl/pkg/fanout"
	"github.com/smctl/smctl/pkg/vtree"
)

// outcome is the result of one path of a fan-out.
type outcome struct {
	path    string
	op      string
	content []byte
	err     error
	elapsed time.Duration
}

// jsonLine is one line of -o json output.
type jsonLine struct {
	Path      string  `json:"path"`
	Op        string  `json:"op"`
	RC        int     `json:"rc"`
	Content   *string `json:"content,omitempty"`
	Error     string  `json:"error,omitempty"`
	ElapsedMS int64   `json:"elapsed_ms"`
}

func writeJSON(w io.Writer, o outcome) {
	l := jsonLine{Path: o.path, Op: o.op, RC: vtree.RC(o.err), ElapsedMS: o.elapsed.Milliseconds()}
	if o.err != nil {
		l.Error = o.err.Error()
	} else {
		s := string(o.content)
		l.Content = &s
	}
	b, _ := json.Marshal(l)
	fmt.Fprintf(w, "%s\n", b)
}

// runAll applies fn to every path through the fan-out and hands each
// outcome to emit in input order. It returns the number that failed.
func runAll(ctx context.Context, ios *IOStreams, width int, verb string, paths []string,
	fn func(ctx context.Context, p string) ([]byte, error), emit func(outcome)) int {
	prog := startProgress(ios, len(paths), verb)
	failed := 0
	fanout.Each(ctx, len(paths), width, func(ctx context.Context, i int) (outcome, error) {
		start := time.Now()
		b, err := fn(ctx, paths[i])
		prog.add(err == nil)
		return outcome{path: paths[i], content: b, err: err, elapsed: time.Since(start)}, nil
	}, func(r fanout.Result[outcome]) {
		o := r.Value
		if r.Err != nil { // cancelled before it started
			o = outcome{path: paths[r.Index], err: r.Err}
		}
		if o.err != nil {
			failed++
		}
		emit(o)
	})
	prog.finish()
	return failed
}
