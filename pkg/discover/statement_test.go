package discover

import (
	"strings"
	"testing"
)

// dupAttrs is a tree whose attribute list repeats names, as the tree's,
// the drivers' and a type's lists may (transport is the tree's and the
// server type's).
type dupAttrs struct{ Tree }

func (d dupAttrs) DeviceAttrs(typ string) []string {
	return append(d.Tree.DeviceAttrs(typ), "transport", "port", "address")
}

// The "unknown key" error lists the attributes a type may be given, each
// once and sorted, whatever the tree's lists repeat.
func TestUnknownKeyAttrs(t *testing.T) {
	tr, d := newTree(t, "")
	for _, tc := range []struct {
		name string
		tree Tree
	}{{"tree", vtreeTree{tr}}, {"repeating", dupAttrs{vtreeTree{tr}}}} {
		t.Run(tc.name, func(t *testing.T) {
			d.Bind(tc.tree)
			_, err := d.parseStatement("server n1 foo=bar")
			if err == nil {
				t.Fatal("server n1 foo=bar: no error")
			}
			msg := err.Error()
			_, list, ok := strings.Cut(msg, "(attributes: ")
			if !ok || !strings.HasPrefix(msg, `unknown key "foo=bar" for type server `) {
				t.Fatalf("error %q", msg)
			}
			names := strings.Split(strings.TrimSuffix(list, ")"), ", ")
			seen := map[string]bool{}
			for i, n := range names {
				if seen[n] {
					t.Errorf("%s named twice in %q", n, msg)
				}
				seen[n] = true
				if i > 0 && names[i-1] > n {
					t.Errorf("not sorted: %q", msg)
				}
			}
			for _, want := range []string{"address", "transport", "port", "user", "ssh_config"} {
				if !seen[want] {
					t.Errorf("%s missing from %q", want, msg)
				}
			}
		})
	}
}
