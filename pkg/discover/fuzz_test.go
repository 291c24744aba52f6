package discover

import (
	"strings"
	"testing"

	"github.com/smctl/smctl/pkg/nodeset"
	"github.com/smctl/smctl/pkg/vtree"
)

// FuzzStatement checks the discovery statement parser on a tree opened on
// a temporary state root: it never panics, and a statement it accepts
// names a known type, at least one device, only valid device names, and
// as many values of each ranged attribute as devices.
func FuzzStatement(f *testing.F) {
	for _, s := range []string{
		"server n[001-100]",
		"server 10.10.2.15",
		"server r[1-2]n[1-2],login1 port=2222 user=ops",
		"server bmcnode[1-3] bmc=10.1.0.[7-9]:623 port=2200",
		"server x[1-3] bmc=10.1.0.[1-2]",
		"chassis 10.10.1.1 blades=127.0.0.1:[16231-16244]",
		"remove server n007",
		"remove server n[1-2] port=1",
		"server", "server .", "server ..", "server a/b", "server .hidden",
		"server n[1-3] address=",
		"nosuchtype x",
		"server n[3-1]", "server n[1-", "server ]n[",
		"server a key=v=w", "server a =v", "chassis c1 blades=",
	} {
		f.Add(s)
	}
	// One state root for every input; parsing changes nothing in it.
	tr, d := newTree(f, "")
	f.Fuzz(func(t *testing.T, line string) {
		// Bound the work of one input: a node set of up to a million
		// names is allowed, and slow.
		if len(line) > 1000 || !nodeset.AtMost(line, 5000) {
			return
		}
		st, err := d.parseStatement(line)
		if err != nil {
			if st != nil {
				t.Fatalf("parseStatement(%q): statement with error %v", line, err)
			}
			return
		}
		if _, ok := tr.Config.Types[st.typ]; !ok {
			t.Fatalf("parseStatement(%q): unknown type %q accepted", line, st.typ)
		}
		if len(st.names) == 0 {
			t.Fatalf("parseStatement(%q): no devices", line)
		}
		for _, n := range st.names {
			if err := validName(n); err != nil {
				t.Fatalf("parseStatement(%q): %v", line, err)
			}
			if _, err := vtree.Clean("/systems/" + n); err != nil {
				t.Fatalf("parseStatement(%q): device name %q is no path name: %v", line, n, err)
			}
		}
		keys := map[string]bool{}
		fields := strings.Fields(line)
		if st.remove {
			fields = fields[1:]
		}
		for _, kv := range fields[2:] {
			k, _, _ := strings.Cut(kv, "=")
			if keys[k] {
				t.Fatalf("parseStatement(%q): key %q given twice accepted", line, k)
			}
			keys[k] = true
		}
		if st.remove && (len(st.attrs) > 0 || len(st.each) > 0 || len(st.opts) > 0) {
			t.Fatalf("parseStatement(%q): remove with key=value", line)
		}
		for k, vs := range st.each {
			if len(vs) != len(st.names) {
				t.Fatalf("parseStatement(%q): %s has %d values for %d devices", line, k, len(vs), len(st.names))
			}
			if _, dup := st.attrs[k]; dup {
				t.Fatalf("parseStatement(%q): %s both ranged and single", line, k)
			}
		}
		for k, v := range st.attrs {
			if v == "" || strings.ContainsAny(v, "\n\x00") || strings.ContainsAny(k, "/\x00") || k == "" {
				t.Fatalf("parseStatement(%q): attribute %q=%q", line, k, v)
			}
		}
	})
}
