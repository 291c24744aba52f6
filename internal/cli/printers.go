package cli

import (
	"encoding/json"
	"fmt"
	"io"

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
		// grep's exit status says whether a line was selected and every
		// file read; cat -b also fails on a stored failed status.
		return &gatherPrinter{ios: ios, verb: f.verb, json: f.json, storedFails: f.verb == "cat"}
	case f.json:
		return jsonPrinter{w: ios.Out}
	case f.verb == "write":
		return &writePrinter{ios: ios, many: f.many}
	case f.list:
		return listPrinter{ios: ios}
	case f.count:
		return countPrinter{ios: ios, prefix: f.prefix}
	}
	return contentPrinter{ios: ios, prefix: f.prefix}
}

// contentPrinter prints contents (cat) or selected lines (grep), each line
// prefixed with its path when asked; failures go to stderr.
type contentPrinter struct {
	ios    *IOStreams
	prefix bool
}

func (p contentPrinter) Print(o ops.Outcome) {
	switch {
	case o.Err != nil:
		p.ios.Errorf("%v", o.Err)
	case p.prefix:
		for _, l := range ops.SplitLines(o.Content) {
			fmt.Fprintf(p.ios.Out, "%s:%s\n", o.Path, l)
		}
	default:
		p.ios.Out.Write(o.Content)
	}
}

func (contentPrinter) Finish() error { return nil }

// listPrinter is grep -l: the paths with a selected line.
type listPrinter struct{ ios *IOStreams }

func (p listPrinter) Print(o ops.Outcome) {
	switch {
	case o.Err != nil:
		p.ios.Errorf("%v", o.Err)
	case o.Matches > 0:
		fmt.Fprintln(p.ios.Out, o.Path)
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
	case o.Err != nil:
		p.ios.Errorf("%v", o.Err)
	case p.prefix:
		fmt.Fprintf(p.ios.Out, "%s:%d\n", o.Path, o.Matches)
	default:
		fmt.Fprintf(p.ios.Out, "%d\n", o.Matches)
	}
}

func (countPrinter) Finish() error { return nil }

// quietPrinter is grep -q: nothing; the exit status tells.
type quietPrinter struct{}

func (quietPrinter) Print(ops.Outcome) {}
func (quietPrinter) Finish() error     { return nil }

// writePrinter reports failed writes, and over many paths one folded line
// naming them by class.
type writePrinter struct {
	ios   *IOStreams
	many  bool
	tally ops.Tally
}

func (p *writePrinter) Print(o ops.Outcome) {
	p.tally.Add(o.Class, o.Label)
	if o.Err != nil {
		p.ios.Errorf("%v", o.Err)
	}
}

func (p *writePrinter) Finish() error {
	if p.many && p.tally.Failed() {
		p.ios.Errorf("write: %s", &p.tally)
	}
	return nil
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
	l := jsonLine{Path: o.Path, Op: string(o.Op), RC: int(o.RC), ElapsedMS: o.Elapsed.Milliseconds()}
	if o.Err != nil {
		l.Error = o.Err.Error()
	} else {
		s := string(o.Content)
		l.Content = &s
	}
	b, _ := json.Marshal(l)
	fmt.Fprintf(w, "%s\n", b)
}

// gatherPrinter is -b: identical contents (cat) or selected lines (grep)
// once each, headed by the folded node set and its count, as clush -b;
// then the summary by class on stderr. With -o json each group is an
// object {"nodes","count","content"} and a last object {"summary": [...]}
// lists the classes.
type gatherPrinter struct {
	ios  *IOStreams
	verb string
	json bool
	// storedFails makes a path counted as failed (a read whose stored
	// status failed) fail the run.
	storedFails bool
	tally       ops.Tally
	gather      ops.Gather
}

func (p *gatherPrinter) Print(o ops.Outcome) {
	p.tally.Add(o.Class, o.Label)
	switch {
	case o.Err != nil:
		p.ios.Errorf("%v", o.Err)
	case o.Op == ops.Grep:
		if o.Matches > 0 {
			p.gather.Add(o.Content, o.Label)
		}
	case o.Class == status.ClassOK:
		p.gather.Add(o.Content, o.Label)
	}
}

// jsonGroup is one gathered group of -b -o json.
type jsonGroup struct {
	Nodes   string `json:"nodes"`
	Count   int    `json:"count"`
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
			line, _ := json.Marshal(jsonGroup{Nodes: g.Nodes, Count: g.Count, Content: string(b)})
			fmt.Fprintf(p.ios.Out, "%s\n", line)
			return nil
		}
		fmt.Fprintf(p.ios.Out, "---------------\n%s (%d)\n---------------\n", g.Nodes, g.Count)
		if _, err := io.Copy(p.ios.Out, g.Content); err != nil {
			return fmt.Errorf("gather: reading back the spill file: %w", err)
		}
		if g.Unterminated {
			fmt.Fprintln(p.ios.Out)
		}
		return nil
	})
	if p.json {
		line, _ := json.Marshal(struct {
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
	if failed || p.storedFails && p.tally.Failed() {
		return errSomeFailed
	}
	return nil
}
