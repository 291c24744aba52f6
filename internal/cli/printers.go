package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/smctl/smctl/pkg/check"
	"github.com/smctl/smctl/pkg/driver/all"
	"github.com/smctl/smctl/pkg/ops"
	"github.com/smctl/smctl/pkg/status"
)

// printer prints the outcomes of one verb over many paths. A verb chooses
// one from its flags, once (choosePrinter); every combination of flags
// maps to one printer, so none is silently dropped.
type printer interface {
	// Print prints one outcome; outcomes come in input order.
	Print(o ops.Outcome)
	// Finish prints what needs every outcome (gathered groups, the
	// summary). It returns errSomeFailed when the summary counted a
	// failure the outcomes did not (a command whose stored status failed).
	Finish() error
}

// printFlags are the output flags the verbs share.
type printFlags struct {
	verb   string // cat, grep, write
	json   bool   // -o json
	gather bool   // -b
	prefix bool   // -H, or many paths without -h
	many   bool   // more than one path
	quiet  bool   // grep -q
	list   bool   // grep -l
	count  bool   // grep -c
}

// choosePrinter is the one place output flags become a printer.
func choosePrinter(ios *IOStreams, f printFlags) printer {
	switch {
	case f.quiet:
		return quietPrinter{}
	case f.gather:
		return &gatherPrinter{ios: ios, verb: f.verb, json: f.json}
	case f.json:
		return jsonPrinter{w: ios.Out}
	case f.verb == "write" || f.verb == "cp":
		return &writePrinter{ios: ios, verb: f.verb, many: f.many}
	case f.list:
		return listPrinter{ios: ios}
	case f.count:
		return countPrinter{ios: ios, prefix: f.prefix}
	}
	return contentPrinter{ios: ios, prefix: f.prefix}
}

// contentPrinter prints contents (cat) or selected lines (grep), each line
// prefixed with its path when asked; failures go to stderr, after what
// the file holds (a failed command's output, the last value of a read
// agent that failed).
type contentPrinter struct {
	ios    *IOStreams
	prefix bool
}

func (p contentPrinter) Print(o ops.Outcome) {
	switch {
	case !o.HasContent:
	case p.prefix:
		for _, l := range ops.SplitLines(o.Content) {
			fmt.Fprintf(p.ios.Out, "%s:%s\n", o.Path, l)
		}
	default:
		p.ios.Out.Write(o.Content)
	}
	if o.Err != nil {
		p.ios.Errorf("%v", o.Err)
	}
}

func (contentPrinter) Finish() error { return nil }

// listPrinter is grep -l: the paths with a selected line.
type listPrinter struct{ ios *IOStreams }

func (p listPrinter) Print(o ops.Outcome) {
	if o.Matches > 0 {
		fmt.Fprintln(p.ios.Out, o.Path)
	}
	if o.Err != nil {
		p.ios.Errorf("%v", o.Err)
	}
}

func (listPrinter) Finish() error { return nil }

// countPrinter is grep -c: the number of selected lines of every file
// read, zero included.
type countPrinter struct {
	ios    *IOStreams
	prefix bool
}

func (p countPrinter) Print(o ops.Outcome) {
	switch {
	case !o.HasContent:
	case p.prefix:
		fmt.Fprintf(p.ios.Out, "%s:%d\n", o.Path, o.Matches)
	default:
		fmt.Fprintf(p.ios.Out, "%d\n", o.Matches)
	}
	if o.Err != nil {
		p.ios.Errorf("%v", o.Err)
	}
}

func (countPrinter) Finish() error { return nil }

// quietPrinter is grep -q: nothing; the exit status tells.
type quietPrinter struct{}

func (quietPrinter) Print(ops.Outcome) {}
func (quietPrinter) Finish() error     { return nil }

// writePrinter reports failed writes (and copies: cp), and over many
// paths one folded line naming them by class.
type writePrinter struct {
	ios   *IOStreams
	verb  string // write, cp
	many  bool
	tally ops.Tally
}

func (p *writePrinter) Print(o ops.Outcome) {
	p.tally.Add(o.Class, o.Label)
	switch {
	case o.Err == nil:
	case p.verb == "write": // the error names the path and the operation
		p.ios.Errorf("%v", o.Err)
	default:
		p.ios.Errorf("%s: %v", p.verb, o.Err)
	}
}

func (p *writePrinter) Finish() error {
	if p.many && p.tally.Failed() {
		p.ios.Errorf("%s: %s", p.verb, &p.tally)
	}
	return nil
}

// jsonLine is one line of -o json output. rc is the operation's code; for
// a stored file whose last run failed, that run's. message, ran and at
// are what the file's last agent run left (its status); stale says the
// content is older than a failure; stderr is a command's whole stderr;
// check is the result a device's checks/NAME holds, read back.
type jsonLine struct {
	Path      string        `json:"path"`
	Op        string        `json:"op"`
	RC        int           `json:"rc"`
	Content   *string       `json:"content,omitempty"`
	Error     string        `json:"error,omitempty"`
	Message   string        `json:"message,omitempty"`
	Ran       string        `json:"ran,omitempty"`
	At        string        `json:"at,omitempty"`
	Stale     bool          `json:"stale,omitempty"`
	Stderr    *string       `json:"stderr,omitempty"`
	Check     *check.Result `json:"check,omitempty"`
	ElapsedMS int64         `json:"elapsed_ms"`
}

// jsonPrinter is -o json: one object per path (for grep, per path with a
// selected line or an error).
type jsonPrinter struct{ w io.Writer }

func (p jsonPrinter) Print(o ops.Outcome) {
	if o.Op == ops.Grep && o.Err == nil && o.Matches == 0 {
		return
	}
	writeJSON(p.w, o)
}

func (jsonPrinter) Finish() error { return nil }

func writeJSON(w io.Writer, o ops.Outcome) {
	l := jsonLine{Path: o.Path, Op: string(o.Op), RC: int(o.RC), Stale: o.Stale, ElapsedMS: o.Elapsed.Milliseconds()}
	if o.Err != nil {
		l.Error = o.Err.Error()
	}
	if o.HasContent {
		s := string(o.Content)
		l.Content = &s
		if r, ok := all.CheckResult(o.Path, o.Content); ok {
			l.Check = &r
		}
	}
	if o.Last != nil {
		l.Message, l.Ran = o.Last.Message, o.Last.Ran
		if !o.Last.At.IsZero() {
			l.At = o.Last.At.UTC().Format(time.RFC3339Nano)
		}
	}
	if o.Stderr != nil {
		s := string(o.Stderr)
		l.Stderr = &s
	}
	b, _ := jsonLineOf(l)
	fmt.Fprintf(w, "%s\n", b)
}

// gatherPrinter is -b: identical contents (cat) or selected lines (grep)
// once each, headed by the folded node set and its count, as clush -b;
// then the summary by class on stderr. With -o json each group is an
// object {"nodes","count","content"} and a last object {"summary": [...]}
// lists the classes.
type gatherPrinter struct {
	ios    *IOStreams
	verb   string
	json   bool
	tally  ops.Tally
	gather ops.Gather
}

// missing counts a node named that does not exist (run -w) as failed.
func (p *gatherPrinter) missing(name string) { p.tally.Add(status.ClassFailed, name) }

// Print gathers what o's file holds, with its exit code: a failed run's
// output is shown in its own group, headed with the code (clush's
// "exited with exit code 3"), never among the successes; a failure that
// left no output is reported on stderr and in the summary only.
func (p *gatherPrinter) Print(o ops.Outcome) {
	p.tally.Add(o.Class, o.Label)
	switch {
	case o.Err == nil:
	case p.verb == "run": // by node, in the words of clush
		p.ios.Errorf("%s: %s", o.Label, runFailure(o.Err))
	default:
		p.ios.Errorf("%v", o.Err)
	}
	switch {
	case !o.HasContent:
	case o.Op == ops.Grep:
		if o.Matches > 0 {
			p.gather.AddStatus(o.Content, o.Label, int(o.RC))
		}
	case o.Err == nil || len(o.Content) > 0:
		p.gather.AddStatus(o.Content, o.Label, int(o.RC))
	}
}

// jsonGroup is one gathered group of -b -o json.
type jsonGroup struct {
	Nodes   string `json:"nodes"`
	Count   int    `json:"count"`
	RC      int    `json:"rc"`
	Content string `json:"content"`
}

func (p *gatherPrinter) Finish() error {
	defer p.gather.Close()
	err := p.gather.Each(func(g ops.Group) error {
		if p.json {
			b, err := io.ReadAll(g.Content)
			if err != nil {
				return fmt.Errorf("gather: reading back the spill file: %w", err)
			}
			line, _ := jsonLineOf(jsonGroup{Nodes: g.Nodes, Count: g.Count, RC: g.RC, Content: string(b)})
			fmt.Fprintf(p.ios.Out, "%s\n", line)
			return nil
		}
		head := fmt.Sprintf("%s (%d)", g.Nodes, g.Count)
		if g.RC != 0 {
			head += fmt.Sprintf(" exit %d", g.RC)
		}
		fmt.Fprintf(p.ios.Out, "---------------\n%s\n---------------\n", head)
		if _, err := io.Copy(p.ios.Out, g.Content); err != nil {
			return fmt.Errorf("gather: reading back the spill file: %w", err)
		}
		if g.Unterminated {
			fmt.Fprintln(p.ios.Out)
		}
		return nil
	})
	if p.json {
		line, _ := jsonLineOf(struct {
			Summary []ops.Class `json:"summary"`
		}{p.tally.Classes()})
		fmt.Fprintf(p.ios.Out, "%s\n", line)
	}
	failed := false
	if err != nil {
		p.ios.Errorf("%s: %v", p.verb, err)
		failed = true
	}
	p.ios.Errorf("%s: %s", p.verb, &p.tally)
	if failed {
		return errSomeFailed
	}
	return nil
}

// jsonLineOf is json.Marshal without HTML escaping: a command such as
// "echo x >&2" reads as it was written, not as "\u003e\u00262".
func jsonLineOf(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
