package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDefaultRoundTrip(t *testing.T) {
	b, err := Default().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	c, err := Parse(b)
	if err != nil {
		t.Fatalf("Parse(Default().Marshal()): %v\n%s", err, b)
	}
	if c.Fanout != 64 || c.Timeout.Duration != 30*time.Second || c.MaxOutput != 16<<20 {
		t.Errorf("defaults lost: %+v", c)
	}
	if c.Types["server"].Dir != "/systems/servers" || !c.Types["server"].Live {
		t.Errorf("server type lost: %+v", c.Types["server"])
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"fanout: 8\nfanuot: 9\n", `:2:1: unknown key "fanuot"`},
		{"fanout: many\n", `:1:9: want a whole number, got "many"`},
		{"timeout: soon\n", `:1:10: bad duration "soon"`},
		{"cache:\n  - match: power\n    model: sometimes\n", `:2:5: cache rule "power": unknown model "sometimes"`},
		{"cache:\n  - match: power\n    model: ttl\n", `:2:5: cache rule "power": model ttl needs ttl`},
		{"max_output: lots\n", `:1:13: bad size "lots"`},
		{"types:\n  switch:\n    lock: true\n", `:3:5: type "switch" needs dir`},
		{"fanout: 0\n", `:1:9: fanout must be at least 1`},
		{"agent_dirs: agents.d\n", `:1:13: want a list`},
		{"fanout: 8\n  timeout: [\n", `smctl.yaml:2:10: syntax error: mapping values are not allowed`},
		{"fanout: 8\ntimeout: 30s: x\n", `smctl.yaml:2:13: syntax error: mapping values are not allowed in this context (in "timeout: 30s: x")`},
		{"fanout: 8\ncache:\n  - match: 'power\n", `smctl.yaml:3:`},
		{"fanout: 8\nfanout: 9\n", `:2:1: key "fanout" already set at line 1`},
		{"types:\n  a: {dir: /a}\n  a: {dir: /b}\n", `:3:3: key "a" already set at line 2`},
	}
	for _, tt := range tests {
		dir := t.TempDir()
		f := filepath.Join(dir, FileName)
		os.WriteFile(f, []byte(tt.in), 0o644)
		_, err := Load(f)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Load(%q) error = %v, want it to contain %q", tt.in, err, tt.want)
		}
	}
}

func TestCachePolicy(t *testing.T) {
	c, err := Parse([]byte("cache:\n  - match: /systems/chassis/*/eventlog\n    model: cached\n  - match: power\n    model: ttl\n    ttl: 5s\n"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path, model string
		ttl         time.Duration
	}{
		{"/systems/servers/n1/power", TTL, 5 * time.Second},
		{"/systems/chassis/c1/eventlog", Cached, 0},
		{"/systems/servers/n1/eventlog", Refresh, 0},
	}
	for _, tt := range tests {
		m, ttl := c.CachePolicy(tt.path)
		if m != tt.model || ttl != tt.ttl {
			t.Errorf("CachePolicy(%s) = %s %v, want %s %v", tt.path, m, ttl, tt.model, tt.ttl)
		}
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"16MiB": 16 << 20, "512KiB": 512 << 10, "100": 100, "1GiB": 1 << 30} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "-1", "12XB", "0"} {
		if _, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) succeeded", in)
		}
	}
}
