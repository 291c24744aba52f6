package config

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLoad checks smctl.yaml loading: Load never panics; an error names
// the file (a *Error with File set for what is in it); a configuration it
// accepts is valid, and marshals to text that loads again to the same
// text.
func FuzzLoad(f *testing.F) {
	def, err := Default().Marshal()
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{
		string(def), "", "# nothing\n", "fanout: 8\n", "fanout: 8\nfanuot: 9\n",
		"timeout: soon\n", "max_output: 1KiB\n", "types:\n  switch:\n    lock: true\n",
		"types:\n  switch:\n    dir: /systems/switches\n    attrs: {transport: local}\n",
		"cache:\n  - match: power\n    model: ttl\n    ttl: 5s\n",
		"cache:\n  - match: '['\n    model: cached\n",
		"fanout: 8\n  timeout: [\n", "- a\n- b\n", "x", "{", "agent_dirs: agents.d\n",
		"ssh:\n  strict_host_key_checking: maybe\n",
		"discovery:\n  scan:\n    - hosts: 10.0.0.[1-9]\n      ports: [22, 70000]\n",
		"a: &x {fanout: 8}\nb: *x\n", "fanout: &n 8\nipmi:\n  retries: *n\n",
	} {
		f.Add([]byte(s))
	}
	file := filepath.Join(f.TempDir(), FileName)
	f.Fuzz(func(t *testing.T, b []byte) {
		// A syntax error's column is found by reparsing prefixes of its
		// line: keep inputs small.
		if len(b) > 2048 {
			return
		}
		if err := os.WriteFile(file, b, 0o644); err != nil {
			t.Fatal(err)
		}
		c, err := Load(file)
		if err != nil {
			if c != nil {
				t.Fatalf("Load: a configuration and an error %v", err)
			}
			var ce *Error
			if !errors.As(err, &ce) || ce.File != file {
				t.Fatalf("Load: error %v (%T) is not an *Error naming %s", err, err, file)
			}
			if !strings.HasPrefix(err.Error(), file+":") {
				t.Fatalf("Load: error %q does not start with the file name", err)
			}
			return
		}
		if c.Fanout < 1 || c.Timeout.Duration <= 0 || c.Tree == "" || c.MaxOutput <= 0 {
			t.Fatalf("Load accepted an invalid configuration: %+v", c)
		}
		for name, ty := range c.Types {
			if name == "" || ty.Dir == "" {
				t.Fatalf("Load accepted type %q with dir %q", name, ty.Dir)
			}
		}
		out, err := c.Marshal()
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		c2, err := Parse(out)
		if err != nil {
			t.Fatalf("what Load accepted does not load again: %v\n%s", err, out)
		}
		out2, err := c2.Marshal()
		if err != nil || !bytes.Equal(out, out2) {
			t.Fatalf("marshal, parse, marshal changed the text (%v):\n%s\n---\n%s", err, out, out2)
		}
	})
}
