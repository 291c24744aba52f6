package nodeset

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Groups: a pattern "@NAME" of a node set stands for the members of the
// group NAME, which a caller looks up (ExpandWith's group function; smctl
// keeps groups as files, /groups/NAME). A group's definition is a list of
// node sets, one a line (ParseGroup), which may name other groups in turn.

// ErrCycle is wrapped by the error for a group that names itself, directly
// or through others.
var ErrCycle = errors.New("group cycle")

// ErrGroupName is wrapped by the error for an @NAME whose NAME is not a
// valid group name (see ValidGroupName).
var ErrGroupName = errors.New("bad group name")

// ErrNoGroups is wrapped by the error for an @NAME given where no groups
// are known (ExpandWith with a nil group function).
var ErrNoGroups = errors.New("groups are not known here")

// ValidGroupName reports whether name may name a group: letters, digits,
// '_', '-' and '.', not starting with '.' or '-', at most 128 bytes. A group
// name is a file name too: it never holds '/', brackets, ',' or '@'.
func ValidGroupName(name string) bool {
	if name == "" || len(name) > 128 || name[0] == '.' || name[0] == '-' {
		return false
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// ParseGroup returns the node sets of a group's definition: its lines,
// trimmed, less blank lines and comments (from '#' to the end of a line).
func ParseGroup(data string) []string {
	var out []string
	for _, l := range strings.Split(data, "\n") {
		if i := strings.IndexByte(l, '#'); i >= 0 {
			l = l[:i]
		}
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// ExpandWith is Expand where a pattern "@NAME" stands for the members of
// the group NAME: group returns NAME's node sets (each may name groups in
// turn, expanded the same way). A group's own error is returned as it is;
// a group that names itself through others is an error wrapping ErrCycle
// naming the cycle ("@a -> @b -> @a"). A group may be empty; s itself must
// hold a pattern. group is called once per group name.
func ExpandWith(s string, group func(name string) ([]string, error)) ([]string, error) {
	if blank(s) {
		return nil, fmt.Errorf("node set %q: empty", s)
	}
	x := &expander{group: group, done: map[string][]string{}}
	return x.expand(s)
}

// blank reports whether s holds no pattern: only commas and spaces.
func blank(s string) bool {
	for _, pat := range splitTop(s) {
		if strings.TrimSpace(pat) != "" {
			return false
		}
	}
	return true
}

type expander struct {
	group func(string) ([]string, error)
	done  map[string][]string // members of the groups expanded
	stack []string            // the groups being expanded, outermost first
}

func (x *expander) expand(s string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, pat := range splitTop(s) {
		pat = strings.TrimSpace(pat)
		if pat == "" {
			continue
		}
		var names []string
		var err error
		if name, ok := strings.CutPrefix(pat, "@"); ok {
			names, err = x.members(name)
		} else {
			names, err = Expand(pat)
		}
		if err != nil {
			return nil, err
		}
		for _, n := range names {
			if !seen[n] {
				seen[n] = true
				out = append(out, n)
				if len(out) > MaxNodes {
					return nil, fmt.Errorf("node set %q: more than %d nodes", s, MaxNodes)
				}
			}
		}
	}
	return out, nil
}

func (x *expander) members(name string) ([]string, error) {
	if !ValidGroupName(name) {
		return nil, fmt.Errorf("@%s: %w", name, ErrGroupName)
	}
	if names, ok := x.done[name]; ok {
		return names, nil
	}
	if i := slices.Index(x.stack, name); i >= 0 {
		cyc := append(slices.Clone(x.stack[i:]), name)
		return nil, fmt.Errorf("%w: @%s", ErrCycle, strings.Join(cyc, " -> @"))
	}
	if x.group == nil {
		return nil, fmt.Errorf("@%s: %w", name, ErrNoGroups)
	}
	sets, err := x.group(name)
	if err != nil {
		return nil, err
	}
	x.stack = append(x.stack, name)
	defer func() { x.stack = x.stack[:len(x.stack)-1] }()
	var out []string
	seen := map[string]bool{}
	for _, set := range sets {
		names, err := x.expand(set)
		if err != nil {
			if errors.Is(err, ErrCycle) {
				return nil, err
			}
			return nil, fmt.Errorf("group %s: %w", name, err)
		}
		for _, n := range names {
			if !seen[n] {
				seen[n] = true
				out = append(out, n)
			}
		}
		if len(out) > MaxNodes {
			return nil, fmt.Errorf("group %s: more than %d nodes", name, MaxNodes)
		}
	}
	x.done[name] = out
	return out, nil
}

// IsRanges reports whether body, the text between a pair of brackets, is
// a list of numeric ranges as a node set writes them ("1-3,7,010-012",
// "1-9/2"), rather than a glob's character class ("a-z", "!0-9"). A
// caller that takes brackets for either (smctl's paths) tells them apart
// with it.
func IsRanges(body string) bool {
	if body == "" {
		return false
	}
	for _, r := range strings.Split(body, ",") {
		r, step, hasStep := strings.Cut(r, "/")
		if hasStep && !digits(step) {
			return false
		}
		lo, hi, isRange := strings.Cut(r, "-")
		if !digits(lo) || isRange && !digits(hi) {
			return false
		}
	}
	return true
}

// Ranges expands a bracket's range list ("1-3,7", "001-010", "1-9/2") to
// its numbers as strings, zero padding kept, in the order written.
func Ranges(body string) ([]string, error) {
	return expandRanges(body)
}
