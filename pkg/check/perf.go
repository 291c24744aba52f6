package check

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Perf is one item of performance data,
// 'label'=value[UOM];[warn];[crit];[min];[max].
type Perf struct {
	// Label names the item, without quotes ('' in quotes is one ').
	Label string `json:"label"`
	// Value is the measured value; 0 when Undetermined.
	Value float64 `json:"value"`
	// Undetermined reports a value of U: the plugin could not measure it.
	Undetermined bool `json:"undetermined,omitempty"`
	// Unit is the unit of measurement of value, min and max: "", "s",
	// "ms", "us", "%", "B", "KB", "MB", "TB" or "c".
	Unit string `json:"unit,omitempty"`
	// Warn and Crit are the warning and critical ranges, [@]start:end, as
	// the plugin wrote them; empty when it gave none.
	Warn string `json:"warn,omitempty"`
	Crit string `json:"crit,omitempty"`
	// Min and Max are the least and greatest values possible, or nil.
	Min *float64 `json:"min,omitempty"`
	Max *float64 `json:"max,omitempty"`
}

// units are the units of measurement the guidelines allow.
var units = map[string]bool{"": true, "s": true, "ms": true, "us": true, "%": true,
	"B": true, "KB": true, "MB": true, "TB": true, "c": true}

// ParsePerf returns the performance data items of one line of plugin
// output (the part after its "|"), and a description of each malformed
// item, which it leaves out. Items are separated by spaces (or tabs, or
// line breaks); a quoted label ends on the line it starts on.
func ParsePerf(line string) (items []Perf, bad []string) {
	rest := line
	for {
		rest = strings.TrimLeft(rest, space)
		if rest == "" {
			return items, bad
		}
		var (
			token string
			p     Perf
			err   error
		)
		token, rest, p, err = nextPerf(rest)
		if err != nil {
			bad = append(bad, fmt.Sprintf("%q: %v", token, err))
			continue
		}
		items = append(items, p)
	}
}

// nextPerf parses the item that s starts with. It returns the item's
// text, what follows it, and the item or what is wrong with it.
func nextPerf(s string) (token, rest string, p Perf, err error) {
	var data string
	if s[0] == '\'' {
		label, n, ok := unquote(s)
		if !ok {
			return s, "", p, fmt.Errorf("label has no closing quote")
		}
		token, rest = splitSpace(s, n)
		if !strings.HasPrefix(s[n:], "=") {
			return token, rest, p, fmt.Errorf("no = after the quoted label")
		}
		p.Label, data = label, token[n+1:]
	} else {
		token, rest = splitSpace(s, 0)
		label, d, ok := strings.Cut(token, "=")
		if !ok {
			return token, rest, p, fmt.Errorf("no =")
		}
		p.Label, data = label, d
	}
	if p.Label == "" {
		return token, rest, p, fmt.Errorf("empty label")
	}
	return token, rest, p, parseData(&p, data)
}

// unquote returns the label of the quoted label s starts with and the
// length of its quoted form.
func unquote(s string) (label string, n int, ok bool) {
	var b strings.Builder
	for i := 1; i < len(s) && s[i] != '\n'; i++ {
		if s[i] != '\'' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 < len(s) && s[i+1] == '\'' {
			b.WriteByte('\'')
			i++
			continue
		}
		return b.String(), i + 1, true
	}
	return "", 0, false
}

// space is the characters that separate items.
const space = " \t\r\n"

// splitSpace splits s at the first space from index from on.
func splitSpace(s string, from int) (token, rest string) {
	if i := strings.IndexAny(s[from:], space); i >= 0 {
		return s[:from+i], s[from+i:]
	}
	return s, ""
}

// parseData sets p's fields from value[UOM];[warn];[crit];[min];[max].
func parseData(p *Perf, data string) error {
	f := strings.Split(data, ";")
	if len(f) > 5 {
		return fmt.Errorf("%d fields after =, want at most 5", len(f))
	}
	f = append(f, make([]string, 5-len(f))...)
	v := f[0]
	n := len(v) - len(strings.TrimLeft(v, "-0123456789."))
	switch {
	case v == "":
		return fmt.Errorf("no value")
	case v[0] == 'U':
		p.Undetermined, p.Unit = true, v[1:]
	case n == 0:
		return fmt.Errorf("value %q is not a number", v)
	default:
		x, err := number(v[:n])
		if err != nil {
			return fmt.Errorf("value %q: %w", v, err)
		}
		p.Value, p.Unit = x, v[n:]
	}
	if !units[p.Unit] {
		return fmt.Errorf("unknown unit %q (want s, ms, us, %%, B, KB, MB, TB, c or none)", p.Unit)
	}
	for i, r := range []*string{&p.Warn, &p.Crit} {
		if f[1+i] != "" && !validRange(f[1+i]) {
			return fmt.Errorf("%s %q is not a range [@]start:end", [...]string{"warn", "crit"}[i], f[1+i])
		}
		*r = f[1+i]
	}
	for i, m := range []**float64{&p.Min, &p.Max} {
		if f[3+i] == "" {
			continue
		}
		x, err := number(f[3+i])
		if err != nil {
			return fmt.Errorf("%s %q: %w", [...]string{"min", "max"}[i], f[3+i], err)
		}
		*m = &x
	}
	return nil
}

// number parses a number of the class [-0-9.].
func number(s string) (float64, error) {
	if s == "" || strings.Trim(s, "-0123456789.") != "" {
		return 0, fmt.Errorf("not a number of [-0-9.]")
	}
	x, err := strconv.ParseFloat(s, 64)
	if errors.Is(err, strconv.ErrRange) {
		return 0, fmt.Errorf("out of range")
	} else if err != nil {
		return 0, fmt.Errorf("not a number of [-0-9.]")
	}
	return x, nil
}

// validRange reports whether s is a range as the guidelines define it:
// [@]start:end, where start is a number, ~ (negative infinity) or empty
// (0), end a number or empty (infinity), start <= end, and "start:" may
// be left out when start is 0 (then end is required).
func validRange(s string) bool {
	s = strings.TrimPrefix(s, "@")
	start, end, colon := strings.Cut(s, ":")
	if !colon {
		start, end = "0", s
		if end == "" {
			return false
		}
	}
	lo, hi := 0.0, 0.0
	var err error
	if start != "" && start != "~" {
		if lo, err = number(start); err != nil {
			return false
		}
	}
	if end == "" {
		return true
	}
	if hi, err = number(end); err != nil {
		return false
	}
	return start == "~" || lo <= hi
}

// String returns p in the guidelines' format, quoting the label when it
// has to: ParsePerf reads it back as p, if p is an item ParsePerf made.
func (p Perf) String() string {
	var b strings.Builder
	if p.Label == "" || strings.ContainsAny(p.Label, space+"='") {
		b.WriteString("'" + strings.ReplaceAll(p.Label, "'", "''") + "'")
	} else {
		b.WriteString(p.Label)
	}
	b.WriteByte('=')
	if p.Undetermined {
		b.WriteByte('U')
	} else {
		b.WriteString(strconv.FormatFloat(p.Value, 'f', -1, 64))
	}
	b.WriteString(p.Unit)
	f := []string{p.Warn, p.Crit, "", ""}
	for i, m := range []*float64{p.Min, p.Max} {
		if m != nil {
			f[2+i] = strconv.FormatFloat(*m, 'f', -1, 64)
		}
	}
	for len(f) > 0 && f[len(f)-1] == "" {
		f = f[:len(f)-1]
	}
	for _, s := range f {
		b.WriteString(";" + s)
	}
	return b.String()
}
