package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// probe is a section as a driver would own one.
type probe struct {
	Timeout Duration `yaml:"timeout"`
	Retries int      `yaml:"retries"`
	Hosts   []string `yaml:"hosts,omitempty"`
}

func (p *probe) Validate(at func(key, format string, args ...any) error) error {
	if p.Retries < 0 || p.Retries > 10 {
		return at("retries", "probe retries must be 0..10")
	}
	if p.Timeout.Duration <= 0 {
		return at("timeout", "probe timeout must be positive")
	}
	return nil
}

func testSchema() (Schema, *probe) {
	p := &probe{Timeout: Duration{2 * time.Second}, Retries: 1}
	return Schema{
		Sections: []Section{{Key: "probe", Value: p, Doc: "# probe         timeout and retries of a probe\n"}},
		Types: map[string]Type{
			"server":  {Dir: "/systems/servers", Attrs: map[string]string{"transport": "ssh"}, Live: true, Builtins: []string{"command", "bmc"}},
			"chassis": {Dir: "/systems/chassis", Lock: true, Builtins: []string{"chassis"}},
		},
	}, p
}

func TestDefaultRoundTrip(t *testing.T) {
	sc, _ := testSchema()
	b, err := sc.Marshal(sc.Default())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "# probe         timeout and retries of a probe\n") || !strings.Contains(string(b), "\nprobe:\n  timeout: 2s\n  retries: 1\n") {
		t.Errorf("section or its doc missing:\n%s", b)
	}
	sc2, p2 := testSchema()
	p2.Retries = 7 // the file's value must win
	c, err := sc2.Parse(b)
	if err != nil {
		t.Fatalf("Parse(Marshal(Default())): %v\n%s", err, b)
	}
	if c.Fanout != 64 || c.Timeout.Duration != 30*time.Second || c.MaxOutput != 16<<20 {
		t.Errorf("defaults lost: %+v", c)
	}
	if st := c.Types["server"]; st.Dir != "/systems/servers" || !st.Live || strings.Join(st.Builtins, ",") != "command,bmc" {
		t.Errorf("server type lost: %+v", st)
	}
	if p2.Retries != 1 || p2.Timeout.Duration != 2*time.Second {
		t.Errorf("section not decoded from the file: %+v", p2)
	}
	if len(Default().Types) != 0 {
		t.Errorf("the core schema has types: %v", Default().Types)
	}
}

func TestSchema(t *testing.T) {
	tests := []struct {
		name, in string
		want     string // error substring, "" for none
		check    func(t *testing.T, c *Config, p *probe)
	}{
		{name: "section decoded", in: "probe:\n  retries: 3\n", check: func(t *testing.T, c *Config, p *probe) {
			if p.Retries != 3 || p.Timeout.Duration != 2*time.Second {
				t.Errorf("probe = %+v, want retries 3 and the default timeout", p)
			}
		}},
		{name: "section validated at its key", in: "fanout: 8\nprobe:\n  retries: 11\n", want: ":3:12: probe retries must be 0..10"},
		{name: "section validated at the section", in: "probe:\n  timeout: 0s\n", want: ":2:12: probe timeout must be positive"},
		{name: "unknown key in a section", in: "probe:\n  retires: 3\n", want: `:2:3: unknown key "retires" (known: timeout, retries, hosts)`},
		{name: "wrong kind in a section", in: "probe:\n  hosts: a\n", want: ":2:10: want a list"},
		{name: "unknown top-level key names the sections", in: "prob: {}\n", want: `unknown key "prob" (known: tree, agent_dirs, key_file, fanout, confirm_over, timeout, max_output, live_dirs, cache, password_argv, types, serve, probe)`},
		{name: "section twice", in: "probe: {}\nprobe: {}\n", want: `:2:1: key "probe" already set at line 1`},
		{name: "no section key: defaults stay", in: "fanout: 9\n", check: func(t *testing.T, c *Config, p *probe) {
			if p.Retries != 1 || c.Fanout != 9 {
				t.Errorf("probe = %+v, fanout %d", p, c.Fanout)
			}
		}},
		{name: "types replace the defaults; builtins by name", in: "types:\n  server: {dir: /s}\n  switch: {dir: /w}\n  chassis: {dir: /c, builtins: []}\n", check: func(t *testing.T, c *Config, p *probe) {
			if len(c.Types) != 3 {
				t.Errorf("types = %v, want server, switch and chassis only", c.Types)
			}
			if got := strings.Join(c.Types["server"].Builtins, ","); got != "command,bmc" || c.Types["server"].Dir != "/s" || c.Types["server"].Live {
				t.Errorf("server = %+v, want dir /s, builtins of the default server type, no live", c.Types["server"])
			}
			if len(c.Types["switch"].Builtins) != 0 {
				t.Errorf("switch has builtins %v, want none", c.Types["switch"].Builtins)
			}
			if len(c.Types["chassis"].Builtins) != 0 {
				t.Errorf("chassis lists builtins: [] and got %v", c.Types["chassis"].Builtins)
			}
		}},
		{name: "explicit builtins kept", in: "types:\n  server: {dir: /s, builtins: [bmc]}\n", check: func(t *testing.T, c *Config, p *probe) {
			if got := strings.Join(c.Types["server"].Builtins, ","); got != "bmc" {
				t.Errorf("server builtins = %s, want bmc", got)
			}
		}},
		{name: "no types key: default types", in: "fanout: 9\n", check: func(t *testing.T, c *Config, p *probe) {
			if len(c.Types) != 2 || c.Types["chassis"].Dir != "/systems/chassis" {
				t.Errorf("types = %v, want the schema's", c.Types)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc, p := testSchema()
			c, err := sc.Parse([]byte(tt.in))
			if tt.want != "" {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("Parse(%q) error = %v, want it to contain %q", tt.in, err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			tt.check(t, c, p)
		})
	}
	// The schema's default types are not shared with the configurations
	// made from it.
	sc, _ := testSchema()
	c := sc.Default()
	c.Types["server"].Attrs["transport"] = "local"
	if sc.Types["server"].Attrs["transport"] != "ssh" {
		t.Error("Default shares the schema's attrs map")
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"fanout: 8\nfanuot: 9\n", `:2:1: unknown key "fanuot"`},
		{"fanout: many\n", `:1:9: want a whole number, got "many"`},
		{"timeout: soon\n", `:1:10: bad duration "soon"`},
		{"cache:\n  - match: power\n    model: sometimes\n", `:2:5: cache rule "power": unknown model "sometimes"`},
		{"cache:\n  - match: power\n    model: ttl\n", `:2:5: cache rule "power": model ttl needs ttl`},
		{"cache:\n  - match: loadavg\n    model: periodic\n", `:2:5: cache rule "loadavg": model periodic needs every`},
		{"max_output: lots\n", `:1:13: bad size "lots"`},
		{"types:\n  switch:\n    lock: true\n", `:3:5: type "switch" needs dir`},
		{"fanout: 0\n", `:1:9: fanout must be at least 1`},
		{"serve:\n  idle_timeout: 0s\n", `:2:3: serve: idle_timeout must be positive`},
		{"serve:\n  idle_time: 1m\n", `:2:3: unknown key "idle_time"`},
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
	c, err := Parse([]byte("cache:\n  - match: /systems/chassis/*/eventlog\n    model: cached\n  - match: power\n    model: ttl\n    ttl: 5s\n  - match: loadavg\n    model: periodic\n    every: 30s\n    ttl: 1s\n"))
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
		{"/systems/servers/n1/loadavg", Periodic, 30 * time.Second}, // its period, not its ttl
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

// TestSyntaxColumnBounded: the column of a syntax error is searched by
// parsing the document once per column; on a long line (here 1000 nested
// sequences, each parse of which is not linear) it is not searched, and the
// error names the line alone.
func TestSyntaxColumnBounded(t *testing.T) {
	long := strings.Repeat("- ", 1000) + "x: ["
	_, err := Parse([]byte(long))
	var ce *Error
	if !errors.As(err, &ce) || ce.Line != 1 || ce.Col != 0 {
		t.Fatalf("Parse(long line) = %v, want line 1 and no column", err)
	}
	short := "fanout: 8\ntimeout: 30s: x\n"
	if _, err := Parse([]byte(short)); !errors.As(err, &ce) || ce.Line != 2 || ce.Col != 13 {
		t.Errorf("Parse(short line) = %v, want 2:13", err)
	}
}

// TestRoles: a builtins entry no driver provides is refused at its place.
func TestRoles(t *testing.T) {
	sc, _ := testSchema()
	sc.Roles = []string{"bmc", "chassis", "command"}
	_, err := sc.Parse([]byte("types:\n  sw:\n    dir: /w\n    builtins: [command, outlets]\n"))
	if err == nil || err.Error() != `:4:25: type sw: unknown builtins "outlets" (known: bmc, chassis, command)` {
		t.Errorf("unknown role: %v", err)
	}
	if _, err := sc.Parse([]byte("types:\n  server: {dir: /s}\n")); err != nil {
		t.Errorf("a type taking its default builtins: %v", err)
	}
	sc.Roles = []string{"bmc"}
	if _, err := sc.Parse([]byte("types:\n  server: {dir: /s}\n")); err == nil || err.Error() != `:2:3: type server: unknown builtins "command" (known: bmc)` {
		t.Errorf("a default builtins no driver provides: %v", err)
	}
}

func TestValidTypeName(t *testing.T) {
	for s, want := range map[string]bool{
		"server": true, "bmc-2": true, "a_b": true, "0": true,
		"": false, "Server": false, "a/b": false, "..": false, "a b": false, "é": false,
	} {
		if got := ValidTypeName(s); got != want {
			t.Errorf("ValidTypeName(%q) = %v, want %v", s, got, want)
		}
	}
}
