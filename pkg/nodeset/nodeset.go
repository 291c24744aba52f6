// Package nodeset expands and folds ClusterShell-style node sets.
//
// A node set is a comma-separated list of patterns; a pattern is a name in
// which bracketed range lists stand for numbers: "n[001-100]" is n001..n100
// (zero padding is kept, taken from the lower bound), "rack[1-2]-n[1,3]" is
// the cross product, "a,b[1-3]" a union. Fold is the inverse: it groups
// names that differ only in their last number into one bracketed pattern.
package nodeset

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// MaxNodes bounds the size of one expansion so that a typo such as
// "n[1-99999999]" fails instead of exhausting memory.
const MaxNodes = 1 << 20

// Expand returns the names of the node set s, in the order written, without
// duplicates.
func Expand(s string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, pat := range splitTop(s) {
		pat = strings.TrimSpace(pat)
		if pat == "" {
			continue
		}
		names, err := expandPattern(pat)
		if err != nil {
			return nil, fmt.Errorf("node set %q: %w", s, err)
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
	if len(out) == 0 {
		return nil, fmt.Errorf("node set %q: empty", s)
	}
	return out, nil
}

// splitTop splits s at commas that are not inside brackets.
func splitTop(s string) []string {
	var parts []string
	depth, start := 0, 0
	for i, c := range s {
		switch c {
		case '[':
			depth++
		case ']':
			depth--
		case ',':
			if depth == 0 {
				parts = append(parts, s[start:i])
				start = i + 1
			}
		}
	}
	return append(parts, s[start:])
}

func expandPattern(p string) ([]string, error) {
	open := strings.IndexByte(p, '[')
	if open < 0 {
		if strings.ContainsRune(p, ']') {
			return nil, errors.New("unbalanced ']'")
		}
		return []string{p}, nil
	}
	end := strings.IndexByte(p[open:], ']')
	if end < 0 {
		return nil, errors.New("unbalanced '['")
	}
	end += open
	prefix, body, rest := p[:open], p[open+1:end], p[end+1:]
	if strings.ContainsRune(prefix, ']') {
		return nil, errors.New("unbalanced ']'")
	}
	nums, err := expandRanges(body)
	if err != nil {
		return nil, err
	}
	tails, err := expandPattern(rest)
	if err != nil {
		return nil, err
	}
	if len(nums)*len(tails) > MaxNodes {
		return nil, fmt.Errorf("more than %d nodes", MaxNodes)
	}
	out := make([]string, 0, len(nums)*len(tails))
	for _, n := range nums {
		for _, t := range tails {
			out = append(out, prefix+n+t)
		}
	}
	return out, nil
}

// expandRanges expands "1-3,7,010-012" (optionally "1-9/2" steps).
func expandRanges(body string) ([]string, error) {
	if strings.TrimSpace(body) == "" {
		return nil, errors.New("empty range []")
	}
	var out []string
	for _, r := range strings.Split(body, ",") {
		r = strings.TrimSpace(r)
		step := 1
		if i := strings.IndexByte(r, '/'); i >= 0 {
			s, err := strconv.Atoi(r[i+1:])
			if err != nil || s < 1 {
				return nil, fmt.Errorf("bad step in %q", r)
			}
			step, r = s, r[:i]
		}
		lo, hi, found := strings.Cut(r, "-")
		if !found {
			hi = lo
		}
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 || !digits(lo) {
			return nil, fmt.Errorf("bad range %q", r)
		}
		b, err := strconv.Atoi(hi)
		if err != nil || b < 0 || !digits(hi) {
			return nil, fmt.Errorf("bad range %q", r)
		}
		if b < a {
			return nil, fmt.Errorf("bad range %q: end before start", r)
		}
		if (b-a)/step >= MaxNodes { // not (b-a)/step+1 > MaxNodes, which wraps
			return nil, fmt.Errorf("range %q: more than %d nodes", r, MaxNodes)
		}
		width := 0
		if len(lo) > 1 && lo[0] == '0' {
			width = len(lo)
		}
		// Counted, not compared with b: n += step would wrap past the
		// largest int and never end.
		for i := 0; i <= (b-a)/step; i++ {
			out = append(out, fmt.Sprintf("%0*d", width, a+i*step))
		}
	}
	return out, nil
}

func digits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// Fold returns the shortest usual form of names: names that differ only in
// their last run of digits are grouped as prefix[ranges]suffix, with
// zero-padded numbers grouped only with numbers of the same width. The
// result is sorted and has no duplicates.
func Fold(names []string) string {
	type key struct {
		prefix, suffix string
		width          int
	}
	groups := map[key][]int{}
	var plain []string
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] {
			continue
		}
		seen[n] = true
		i, j := lastDigits(n)
		if i < 0 {
			plain = append(plain, n)
			continue
		}
		num := n[i:j]
		v, err := strconv.Atoi(num)
		if err != nil {
			plain = append(plain, n)
			continue
		}
		w := 0
		if len(num) > 1 && num[0] == '0' {
			w = len(num)
		}
		k := key{n[:i], n[j:], w}
		groups[k] = append(groups[k], v)
	}
	// Unpadded numbers of a width equal to a padded group's width fold into it.
	for k, vs := range groups {
		if k.width != 0 {
			continue
		}
		for k2 := range groups {
			if k2.width != 0 && k2.prefix == k.prefix && k2.suffix == k.suffix {
				var keep []int
				for _, v := range vs {
					if len(strconv.Itoa(v)) == k2.width {
						groups[k2] = append(groups[k2], v)
					} else {
						keep = append(keep, v)
					}
				}
				vs = keep
			}
		}
		if len(vs) == 0 {
			delete(groups, k)
		} else {
			groups[k] = vs
		}
	}
	var parts []string
	for k, vs := range groups {
		sort.Ints(vs)
		if len(vs) == 1 {
			parts = append(parts, fmt.Sprintf("%s%0*d%s", k.prefix, k.width, vs[0], k.suffix))
			continue
		}
		var rs []string
		for i := 0; i < len(vs); {
			j := i
			for j+1 < len(vs) && vs[j+1] == vs[j]+1 {
				j++
			}
			if i == j {
				rs = append(rs, fmt.Sprintf("%0*d", k.width, vs[i]))
			} else {
				rs = append(rs, fmt.Sprintf("%0*d-%0*d", k.width, vs[i], k.width, vs[j]))
			}
			i = j + 1
		}
		parts = append(parts, k.prefix+"["+strings.Join(rs, ",")+"]"+k.suffix)
	}
	parts = append(parts, plain...)
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

// lastDigits returns the bounds of the last run of ASCII digits in s, or -1.
func lastDigits(s string) (int, int) {
	j := len(s)
	for j > 0 && (s[j-1] < '0' || s[j-1] > '9') {
		j--
	}
	if j == 0 {
		return -1, -1
	}
	i := j
	for i > 0 && s[i-1] >= '0' && s[i-1] <= '9' {
		i--
	}
	return i, j
}

// AtMost reports whether the node set s expands to at most limit names,
// by an upper bound computed without expanding it: the patterns of a union
// add up, the brackets of a pattern multiply, the ranges in a bracket add
// up (steps ignored). Malformed ranges count as one name (Expand reports
// them). It lets a caller refuse a huge node set cheaply.
func AtMost(s string, limit int) bool {
	sum := 0
	for _, pat := range splitTop(s) {
		prod := 1
		for {
			i := strings.IndexByte(pat, '[')
			if i < 0 {
				break
			}
			j := strings.IndexByte(pat[i:], ']')
			if j < 0 {
				break
			}
			n := 0
			for _, r := range strings.Split(pat[i+1:i+j], ",") {
				r, _, _ = strings.Cut(strings.TrimSpace(r), "/")
				lo, hi, found := strings.Cut(r, "-")
				if !found {
					hi = lo
				}
				a, err1 := strconv.Atoi(strings.TrimSpace(lo))
				b, err2 := strconv.Atoi(strings.TrimSpace(hi))
				if err1 != nil || err2 != nil || b < a {
					n++
					continue
				}
				// Each count is compared with what is left of limit
				// before it grows (here, then limit/m and limit-sum),
				// so that none wraps past the largest int.
				if b-a >= limit-n {
					return false
				}
				n += b - a + 1
			}
			m := max(n, 1)
			if prod > limit/m {
				return false
			}
			prod *= m
			pat = pat[i+j:]
		}
		if prod > limit-sum {
			return false
		}
		sum += prod
	}
	return true
}
