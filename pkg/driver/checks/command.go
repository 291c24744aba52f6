package checks

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/smctl/smctl/pkg/transport"
)

// A check's command is split into words here, as a POSIX shell would
// split it, but no shell ever runs it: single quotes keep everything,
// double quotes keep everything but $VAR, ${VAR} and backslash before \ " $
// and a newline, a backslash outside quotes keeps the next character. The
// variables are the SMCTL_* ones a plugin gets in its environment, and
// each expands inside its word: never split, never globbed, so that an
// address cannot add words, options or file names. Shell operators
// outside quotes (; & | < > ( ) and `) are refused rather than passed
// on as words, since nothing would run them as the shell does.

// ErrCommand is wrapped by every error about a check's command.
var ErrCommand = errors.New("bad check command")

// part is a piece of a word: literal text, or the variable named v.
type part struct {
	lit, v string
}

// word is one word of a command, before expansion.
type word []part

// literal returns the word's text when it has no variable.
func (w word) literal() (string, bool) {
	var b strings.Builder
	for _, p := range w {
		if p.v != "" {
			return "", false
		}
		b.WriteString(p.lit)
	}
	return b.String(), true
}

// expand returns each word with its variables replaced by their values
// in vars ("" for one not there).
func expand(ws []word, vars map[string]string) []string {
	out := make([]string, len(ws))
	for i, w := range ws {
		var b strings.Builder
		for _, p := range w {
			if p.v != "" {
				b.WriteString(vars[p.v])
			} else {
				b.WriteString(p.lit)
			}
		}
		out[i] = b.String()
	}
	return out
}

// varName is a variable name as the shell reads one.
var varName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*`)

// attrVar is the variable of an attribute file (agent.Env's spelling).
var attrVar = regexp.MustCompile(`^SMCTL_ATTR_[A-Z0-9_]+$`)

// knownVars are the variables a command may name besides SMCTL_ATTR_*.
var knownVars = map[string]bool{"SMCTL_HOST": true, "SMCTL_DEVICE": true, "SMCTL_TYPE": true,
	"SMCTL_PATH": true, "SMCTL_ROOT": true, "SMCTL_OP": true, "SMCTL_USER": true, "SMCTL_CHECK": true}

// checkVar says why a command may not name variable v, nil if it may.
func checkVar(v string) error {
	switch {
	case knownVars[v] || attrVar.MatchString(v):
		return nil
	case v == "SMCTL_PASSWORD":
		return fmt.Errorf("%w: $SMCTL_PASSWORD would be on the plugin's command line, which every user may read: a plugin finds it in its environment", ErrCommand)
	}
	return fmt.Errorf("%w: $%s: only these variables are expanded: $SMCTL_HOST, $SMCTL_DEVICE, $SMCTL_TYPE, $SMCTL_PATH, $SMCTL_ROOT, $SMCTL_OP, $SMCTL_USER, $SMCTL_CHECK, $SMCTL_ATTR_NAME", ErrCommand, v)
}

// variable reads the variable reference that s starts with ("$" ...): its
// length and name, or name "" for a lone "$", which is literal.
func variable(s string) (int, string, error) {
	if len(s) > 1 && s[1] == '{' {
		end := strings.IndexByte(s, '}')
		if end < 0 {
			return 0, "", fmt.Errorf("%w: %q has no closing }", ErrCommand, s)
		}
		name := s[2:end]
		if varName.FindString(name) != name || name == "" {
			return 0, "", fmt.Errorf("%w: %q: only ${NAME} is expanded", ErrCommand, s[:end+1])
		}
		return end + 1, name, checkVar(name)
	}
	if len(s) > 1 && s[1] == '(' {
		return 0, "", fmt.Errorf("%w: $(...): no shell runs the command, so nothing substitutes commands", ErrCommand)
	}
	name := varName.FindString(s[1:])
	if name == "" {
		return 1, "", nil
	}
	return 1 + len(name), name, checkVar(name)
}

// parseCommand splits s into words (see the rules above). The first word,
// the plugin, must be literal: a plain name or an absolute path.
func parseCommand(s string) ([]word, error) {
	var (
		words []word
		cur   word
		lit   strings.Builder
		in    bool // inside a word
	)
	flush := func() {
		if lit.Len() > 0 {
			cur = append(cur, part{lit: lit.String()})
			lit.Reset()
		}
	}
	ref := func(s string) (int, error) {
		n, v, err := variable(s)
		if err != nil {
			return 0, err
		}
		if v == "" {
			lit.WriteByte('$')
		} else {
			flush()
			cur = append(cur, part{v: v})
		}
		return n, nil
	}
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\n' && strings.TrimSpace(s[i:]) != "":
			return nil, fmt.Errorf("%w: a newline would end a shell command: one command per check (a YAML > block folds its lines)", ErrCommand)
		case c == ' ' || c == '\t' || c == '\n':
			if in {
				flush()
				words, cur, in = append(words, cur), nil, false
			}
			i++
			continue
		case c == '\'':
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				return nil, fmt.Errorf("%w: a ' quote is not closed", ErrCommand)
			}
			lit.WriteString(s[i+1 : i+1+end])
			i += end + 2
		case c == '"':
			n, err := doubleQuoted(s[i:], &lit, ref)
			if err != nil {
				return nil, err
			}
			i += n
		case c == '\\':
			if i+1 >= len(s) {
				return nil, fmt.Errorf("%w: it ends in a backslash", ErrCommand)
			}
			if s[i+1] != '\n' {
				lit.WriteByte(s[i+1])
			}
			i += 2
		case c == '$':
			n, err := ref(s[i:])
			if err != nil {
				return nil, err
			}
			i += n
		case strings.IndexByte(";&|<>()`", c) >= 0:
			return nil, fmt.Errorf("%w: %q: no shell runs the command; quote it to pass it to the plugin, or make the pipeline a plugin of its own", ErrCommand, c)
		default:
			lit.WriteByte(c)
			i++
		}
		in = true
	}
	if in {
		flush()
		words = append(words, cur)
	}
	if len(words) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrCommand)
	}
	prog, ok := words[0].literal()
	switch {
	case !ok:
		return nil, fmt.Errorf("%w: the plugin must be named as written, not by a variable", ErrCommand)
	case prog == "" || prog == "." || prog == "..":
		return nil, fmt.Errorf("%w: no plugin named", ErrCommand)
	case strings.Contains(prog, "/") && !strings.HasPrefix(prog, "/"):
		return nil, fmt.Errorf("%w: plugin %q: want a plain name (looked up in the plugin directories) or an absolute path", ErrCommand, prog)
	}
	return words, nil
}

// doubleQuoted reads the double-quoted string s starts with into lit,
// variables through ref, and returns its length with the quotes.
func doubleQuoted(s string, lit *strings.Builder, ref func(string) (int, error)) (int, error) {
	for i := 1; i < len(s); {
		switch c := s[i]; {
		case c == '"':
			return i + 1, nil
		case c == '\\' && i+1 < len(s) && strings.IndexByte("\\\"$`\n", s[i+1]) >= 0:
			if s[i+1] != '\n' {
				lit.WriteByte(s[i+1])
			}
			i += 2
		case c == '`':
			return 0, fmt.Errorf("%w: `...`: no shell runs the command, so nothing substitutes commands", ErrCommand)
		case c == '$':
			n, err := ref(s[i:])
			if err != nil {
				return 0, err
			}
			i += n
		default:
			lit.WriteByte(c)
			i++
		}
	}
	return 0, fmt.Errorf("%w: a \" quote is not closed", ErrCommand)
}

// remoteDirs are added to the node's PATH for a remote check: where
// Debian and others install the Monitoring Plugins.
const remoteDirs = "/usr/lib/nagios/plugins:/usr/lib/monitoring-plugins"

// remoteCommand is the shell command that runs words on a node: each word
// quoted for its shell, the plugin found on its PATH or in remoteDirs.
func remoteCommand(words []string) string {
	var b strings.Builder
	b.WriteString(`PATH="$PATH:` + remoteDirs + `"; export PATH; LC_ALL=C; export LC_ALL; exec`)
	for _, w := range words {
		b.WriteString(" " + transport.Quote(w))
	}
	return b.String()
}
