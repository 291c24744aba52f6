package checks

import (
	"path"
	"strings"

	"github.com/smctl/smctl/pkg/check"
)

// The content of a file checks/NAME is a result in lines:
//
//	STATE MESSAGE
//	LONG OUTPUT ...
//	| PERFORMANCE DATA ...
//
// the first line the state's word and the plugin's message (so that grep
// CRITICAL finds the checks in that state), then its long output, then
// each piece of its performance data as it printed it, on a line starting
// with "| " (a plugin's message and long output never hold a '|').
// ParseContent reads it back.

// Content is the content of checks/NAME for result r, whose plugin printed
// the performance data perf (perfText).
func Content(r check.Result, perf []string) []byte {
	var b strings.Builder
	b.WriteString(r.State.String())
	if r.Message != "" {
		b.WriteString(" " + r.Message)
	}
	b.WriteByte('\n')
	if r.Long != "" {
		b.WriteString(r.Long + "\n")
	}
	for _, p := range perf {
		if p = strings.TrimSpace(p); p != "" {
			b.WriteString("| " + p + "\n")
		}
	}
	return []byte(b.String())
}

// ParseContent reads back the result the content of a file checks/NAME
// holds (see Content), false if it holds none.
func ParseContent(content []byte) (check.Result, bool) {
	s := strings.TrimSuffix(string(content), "\n")
	if s == "" {
		return check.Result{}, false
	}
	lines := strings.Split(s, "\n")
	word, msg, _ := strings.Cut(lines[0], " ")
	st, err := check.ParseState(word)
	if err != nil {
		return check.Result{}, false
	}
	r := check.Result{State: st, Message: msg}
	i := 1
	for ; i < len(lines) && !strings.HasPrefix(lines[i], "|"); i++ {
	}
	r.Long = strings.Join(lines[1:i], "\n")
	for ; i < len(lines); i++ {
		p, ok := strings.CutPrefix(lines[i], "|")
		if !ok {
			return check.Result{}, false
		}
		items, bad := check.ParsePerf(p)
		r.Perf, r.Bad = append(r.Perf, items...), append(r.Bad, bad...)
	}
	return r, true
}

// ResultOf is ParseContent for the file at virtual path p when it is a
// check's (DEVICE/checks/NAME), for smctl's -o json.
func ResultOf(p string, content []byte) (check.Result, bool) {
	if path.Base(path.Dir(p)) != dirName || !ValidName(path.Base(p)) {
		return check.Result{}, false
	}
	return ParseContent(content)
}

// perfText returns the performance data in a plugin's output, as
// check.Parse finds it: after the "|" of the first line, and after the
// first "|" of a later line and on every line after that, one piece per
// line.
func perfText(stdout []byte) []string {
	lines := check.Lines(stdout)
	if len(lines) == 0 {
		return nil
	}
	var perf []string
	if _, p, ok := strings.Cut(lines[0], "|"); ok {
		perf = append(perf, p)
	}
	for i, l := range lines[1:] {
		if _, p, ok := strings.Cut(l, "|"); ok {
			return append(append(perf, p), lines[i+2:]...)
		}
	}
	return perf
}
