package nodeset

import (
	"slices"
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
