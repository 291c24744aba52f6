package nodeset

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// FuzzRoundTrip checks that Expand never panics or loops, and that Fold
// is its inverse: the folded form expands to exactly the same names (not
// just as many), in Fold's order whatever the order given, and folds back
// to itself.
func FuzzRoundTrip(f *testing.F) {
	for _, s := range []string{
		"n[001-100]", "a,b[1-3]", "r[1-2]n[1-2],login1", "n[08-10]", "n[1-9/2]",
		"n[099-100]", "n01,n1,n[1-3]", "n0,n00", "n[0-1]0", "a-[1-2]", "10.1.0.[7-9]:623",
		"127.0.0.1:[16231-16244]", "x[3-1]", "x[", "x]", "[1-2]", "n[1-3],n2",
		"n99999999999999999999",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		// Expansions are bounded (MaxNodes, a million names) but slow at
		// that size: fuzz small ones.
		if len(s) > 200 || !AtMost(s, 5000) {
			return
		}
		names, err := Expand(s)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, n := range names {
			if n == "" || seen[n] {
				t.Fatalf("Expand(%q): empty or repeated name %q", s, n)
			}
			seen[n] = true
		}
		folded := Fold(names)
		back, err := Expand(folded)
		if err != nil {
			t.Fatalf("Expand(Fold(Expand(%q))) = Expand(%q): %v", s, folded, err)
		}
		want, got := slices.Clone(names), slices.Clone(back)
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Fatalf("round trip of %q through %q:\n got %q\nwant %q", s, folded, got, want)
		}
		// Fold's order does not depend on the order of its input.
		rev := slices.Clone(names)
		slices.Reverse(rev)
		if f2 := Fold(rev); f2 != folded {
			t.Fatalf("Fold of %q reversed = %q, want %q", s, f2, folded)
		}
		if f2 := Fold(back); f2 != folded {
			t.Fatalf("Fold(Expand(%q)) = %q, want it unchanged", folded, f2)
		}
		again, err := Expand(Fold(back))
		if err != nil || !slices.Equal(again, back) {
			t.Fatalf("Expand(%q) twice: %q then %q (%v)", folded, back, again, err)
		}
	})
}

// FuzzExpandWith checks group expansion over two groups g and h whose
// definitions the fuzzer writes (they may name each other, or themselves):
// it never panics or loops, looks each group up once, returns no empty,
// repeated or "@" name, and agrees with Expand where no group is named
// and with the union of the lines of a group's definition.
func FuzzExpandWith(f *testing.F) {
	for _, s := range [][3]string{
		{"@g", "n[1-3]\n@h", "x1"},
		{"@g,n9", "@h", "@g"},
		{"n[1-2],@h", "", "# c\nn[3-4] # d\n"},
		{"@g", "@g", ""},
		{"@x", "", ""},
		{"n[001-003]", "", ""},
		{"@g", "n[3-1]", ""},
		{"@", "@@", "@ h"},
	} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, s, g, h string) {
		for _, x := range []string{s, g, h} {
			if len(x) > 200 || !AtMost(strings.ReplaceAll(x, "\n", ","), 2000) {
				return
			}
		}
		defs := map[string]string{"g": g, "h": h}
		calls := map[string]int{}
		group := func(name string) ([]string, error) {
			calls[name]++
			if calls[name] > 1 {
				t.Fatalf("group %s looked up twice expanding %q", name, s)
			}
			def, ok := defs[name]
			if !ok {
				return nil, errors.New("no group " + name)
			}
			return ParseGroup(def), nil
		}
		names, err := ExpandWith(s, group)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, n := range names {
			if n == "" || seen[n] || strings.HasPrefix(n, "@") {
				t.Fatalf("ExpandWith(%q): empty, repeated or group name %q", s, n)
			}
			seen[n] = true
		}
		if !strings.Contains(s, "@") {
			want, err := Expand(s)
			if err != nil || !slices.Equal(names, want) {
				t.Fatalf("ExpandWith(%q) = %q, Expand = %q, %v", s, names, want, err)
			}
		}
		if strings.TrimSpace(s) == "@g" {
			var union []string
			in := map[string]bool{}
			for _, line := range ParseGroup(g) {
				if blank(line) {
					continue // a line of commas names nobody, as in a group
				}
				ns, err := ExpandWith(line, func(name string) ([]string, error) {
					if name == "g" {
						return nil, ErrCycle // g's lines name g: a cycle
					}
					def, ok := defs[name]
					if !ok {
						return nil, errors.New("no group " + name)
					}
					return ParseGroup(def), nil
				})
				if err != nil {
					t.Fatalf("@g expanded to %q, but its line %q fails: %v", names, line, err)
				}
				for _, n := range ns {
					if !in[n] {
						in[n] = true
						union = append(union, n)
					}
				}
			}
			if !slices.Equal(names, union) {
				t.Fatalf("@g = %q, the union of its lines %q", names, union)
			}
		}
	})
}
