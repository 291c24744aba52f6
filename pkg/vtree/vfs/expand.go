package vfs

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/smctl/smctl/pkg/nodeset"
	"github.com/smctl/smctl/pkg/vtree"
)

// Paths as smctl's verbs take them (Expand): node sets and groups first,
// then globs.
//
//   - A bracket holding a range or a list of numbers is a node-set range,
//     as in ClusterShell: /systems/servers/n[0001-0005]/command names five
//     paths, n[1,3,5-7] five names, whether they exist or not; the ones
//     that do not are then reported by the operation, as any missing path
//     is ("no such file"). Ranges multiply: rack[1-2]/n[1-3] is six paths.
//   - A path element "@NAME", where it names a device (its directory holds
//     devices: /systems/servers/@web/command), stands for the members of
//     the group NAME, read from /groups/NAME (Group); they too are named
//     whether they exist or not. Elsewhere, or where an entry of that name
//     exists, "@NAME" is an ordinary name.
//   - What is left is a glob: *, ?, and brackets that are not ranges
//     ([a-z], [!0-9], and digits alone: n0[12] is n01 and n02, the
//     shell's class) match what exists, as the shell does (Glob). An
//     element that mixes both, n[01-10]*, is one glob per number (n01*,
//     n02*, ...): each must match something, or it is reported.

// ErrTooMany is wrapped by the error for a path pattern naming more than
// nodeset.MaxNodes paths.
var ErrTooMany = errors.New("too many paths")

// DeviceTyper is the ability to tell a device directory from others;
// *vtree.Tree has it. A tree without it takes every directory for one
// that may hold devices.
type DeviceTyper interface {
	DeviceType(p string) string
}

var _ DeviceTyper = (*vtree.Tree)(nil)

// HasPattern reports whether p holds anything Expand expands: glob
// metacharacters or a bracket (HasMeta), or an element starting with '@'.
func HasPattern(p string) bool {
	return HasMeta(p) || strings.HasPrefix(p, "@") || strings.Contains(p, "/@")
}

// Expand returns the paths the pattern names (see above), in the order its
// node sets and groups are written, each glob's matches sorted, without
// duplicates. It runs no agents. errs are the parts that failed, each an
// *fs.PathError naming the pattern (or the glob it became): a bad node
// set, a missing or untrusted group (wrapping status.ErrUsage), a glob
// matching nothing. paths holds what the other parts named.
func Expand(ctx context.Context, t Tree, pattern string) (paths []string, errs []error) {
	clean, err := vtree.Clean(pattern)
	if err != nil {
		return nil, []error{err}
	}
	pats, err := expandSets(ctx, t, clean)
	if err != nil {
		return nil, []error{&fs.PathError{Op: "expand", Path: pattern, Err: err}}
	}
	seen := map[string]bool{}
	add := func(p string) {
		if !seen[p] {
			seen[p] = true
			paths = append(paths, p)
		}
	}
	for _, p := range pats {
		if !HasMeta(p) {
			add(p)
			continue
		}
		ms, err := Glob(ctx, t, p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, m := range ms {
			add(m)
		}
	}
	if len(paths) == 0 && len(errs) == 0 {
		errs = append(errs, &fs.PathError{Op: "expand", Path: pattern, Err: errors.New("no match (the group is empty)")})
	}
	return paths, errs
}

// expandSets expands the node-set ranges and @groups of the clean pattern
// p, element by element, into patterns holding globs only.
func expandSets(ctx context.Context, t Tree, p string) ([]string, error) {
	if p == "/" {
		return []string{p}, nil
	}
	out := []string{""}
	for _, el := range strings.Split(p[1:], "/") {
		var next []string
		for _, pre := range out {
			alts, err := expandElement(ctx, t, pre, el)
			if err != nil {
				return nil, err
			}
			if len(next)+len(alts) > nodeset.MaxNodes {
				return nil, fmt.Errorf("%w: more than %d", ErrTooMany, nodeset.MaxNodes)
			}
			for _, a := range alts {
				next = append(next, pre+"/"+a)
			}
		}
		out = next
	}
	return out, nil
}

// expandElement returns what the path element el stands for below the
// pattern dir: the members of a group, the names of its node-set ranges,
// or el itself.
func expandElement(ctx context.Context, t Tree, dir, el string) ([]string, error) {
	if name, ok := strings.CutPrefix(el, "@"); ok && nodeset.ValidGroupName(name) {
		if !groupPosition(ctx, t, dir, el) {
			return []string{el}, nil
		}
		names, err := ExpandNodes(ctx, t, el)
		if err != nil {
			return nil, err
		}
		for _, n := range names {
			if strings.Contains(n, "/") || strings.HasPrefix(n, ".") {
				return nil, fmt.Errorf("group %s: %q is not a node name", name, n)
			}
		}
		return names, nil
	}
	return expandRanges(el)
}

// expandRanges expands the node-set ranges of the path element el, its
// other brackets (glob classes) and escaped characters left as they are.
func expandRanges(el string) ([]string, error) {
	out := []string{""}
	lit := 0 // start of the text not yet added
	for i := 0; i < len(el); i++ {
		switch el[i] {
		case '\\':
			i++
			continue
		case '[':
		default:
			continue
		}
		end := strings.IndexByte(el[i+1:], ']')
		if end < 0 {
			break // Glob reports the syntax error
		}
		body := el[i+1 : i+1+end]
		if !isRangeBracket(body) {
			i += end + 1
			continue
		}
		nums, err := nodeset.Ranges(body)
		if err != nil {
			return nil, fmt.Errorf("node set %q: %w", el, err)
		}
		if len(out)*len(nums) > nodeset.MaxNodes {
			return nil, fmt.Errorf("node set %q: %w: more than %d", el, ErrTooMany, nodeset.MaxNodes)
		}
		prefix := el[lit:i]
		next := make([]string, 0, len(out)*len(nums))
		for _, o := range out {
			for _, n := range nums {
				next = append(next, o+prefix+n)
			}
		}
		out = next
		i += end + 1
		lit = i + 1
	}
	for k := range out {
		out[k] += el[lit:]
	}
	return out, nil
}

// isRangeBracket reports whether a bracket holding body is a node-set
// range: a range or a list of numbers ("0001-0005", "1,3,5-7", "1-9/2").
// Digits alone ("12") are the shell's class of those digits, as they were
// before ranges: n0[12] is n01 and n02, not n012.
func isRangeBracket(body string) bool {
	return strings.ContainsAny(body, "-,") && nodeset.IsRanges(body)
}

// groupPosition reports whether the element el ("@NAME") of the pattern
// dir names a device, and so a group: dir (or, when it is a glob, one of
// its matches) is a stored directory holding devices and no entry el.
func groupPosition(ctx context.Context, t Tree, dir, el string) bool {
	if dir == "" {
		return false // the root holds no devices
	}
	dirs := []string{dir}
	if HasMeta(dir) {
		var err error
		if dirs, err = Glob(ctx, t, dir); err != nil {
			return false
		}
	}
	for _, d := range dirs {
		if holdsDevices(ctx, t, d, el) {
			return true
		}
	}
	return false
}

func holdsDevices(ctx context.Context, t Tree, dir, el string) bool {
	r, err := t.Resolve(ctx, dir)
	if err != nil || r.Live || !r.Dir {
		return false
	}
	es, err := t.ReadDir(ctx, dir)
	if err != nil {
		return false
	}
	dt, typed := t.(DeviceTyper)
	for _, e := range es {
		if e.Name() == el {
			return false // a real entry: el is its name
		}
	}
	for _, e := range es {
		if e.IsDir() && !e.Live() && (!typed || dt.DeviceType(path.Join(dir, e.Name())) != "") {
			return true
		}
	}
	return false
}
