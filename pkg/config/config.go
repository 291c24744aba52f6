// Package config loads smctl.yaml, the single configuration file of a state
// root, in the spirit of Sysman's one configuration file: where the agents
// and the backing tree are, how each file is cached, how wide the fan-out
// is, how long an agent may run, and which device types exist.
//
// Loading is strict: an unknown key, a value of the wrong kind or an
// unknown caching model is an error naming smctl.yaml with the line and
// column of the offending node, so a typo never silently becomes a default.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"path"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// FileName is the name of the configuration file in a state root.
const FileName = "smctl.yaml"

// Config is the parsed smctl.yaml.
type Config struct {
	// Tree is the backing tree directory, relative to the state root.
	Tree string `yaml:"tree"`
	// AgentDirs are searched in order for executable agents; relative
	// entries are relative to the state root.
	AgentDirs []string `yaml:"agent_dirs"`
	// KeyFile holds the key that encrypts ids files; relative to the state
	// root. $SMCTL_KEY_FILE overrides it.
	KeyFile string `yaml:"key_file"`
	// Fanout is how many agents run at once.
	Fanout int `yaml:"fanout"`
	// Timeout bounds every agent run, including the wait for locks.
	Timeout Duration `yaml:"timeout"`
	// MaxOutput caps what one agent may print; past it nothing is stored.
	MaxOutput Size `yaml:"max_output"`
	// LiveDirs are directories of a device read live from the node on
	// every access (Sysman's proc and sys).
	LiveDirs []string `yaml:"live_dirs"`
	// Cache lists caching rules; the first whose match fits a file wins.
	Cache []CacheRule `yaml:"cache"`
	// PasswordArgv names agents (by file name, e.g. "power.read") that get
	// the password as "-p PASSWORD" on their command line too, for agents
	// written for Sysman. Others get it only in $SMCTL_PASSWORD.
	PasswordArgv []string `yaml:"password_argv,omitempty"`
	// Types are the device types discovery can create.
	Types map[string]Type `yaml:"types"`
	// Discovery tunes prompted discovery.
	Discovery Discovery `yaml:"discovery"`
}

// Section is a part of smctl.yaml owned by a package outside config (a
// driver's ssh: or ipmi:, discovery's discovery:): its key and a pointer
// to a struct holding its settings, set to their defaults. Loading decodes
// the section into it as strictly as the rest of the file; a value that
// implements Validator is then checked.
type Section struct {
	Key   string
	Value any
	// Doc documents the section in the header of a new smctl.yaml: lines
	// of "# key  what it sets", each ending in a newline.
	Doc string
}

// Validator is a section value that checks itself once decoded. at makes
// an error positioned at one of the section's keys (at the section when
// the key is not in the file).
type Validator interface {
	Validate(at func(key, format string, args ...any) error) error
}

// Schema is what packages outside config add to smctl.yaml: the sections
// they own and their default device types. The zero Schema is the core
// file alone.
type Schema struct {
	Sections []Section
	// Types are default device types, used when smctl.yaml has no types:
	// key; a type of smctl.yaml that lists no builtins takes those of the
	// default type of the same name.
	Types map[string]Type
}

// Discovery tunes prompted discovery ("1" written to /discover_master).
type Discovery struct {
	// Scan lists the address ranges and ports probed for SSH servers.
	Scan []ScanRule `yaml:"scan,omitempty"`
	// ScanTimeout bounds one probe.
	ScanTimeout Duration `yaml:"scan_timeout"`
}

// ScanRule is one range of prompted discovery.
type ScanRule struct {
	Hosts string `yaml:"hosts"` // a node set: 10.0.0.[1-254], n[001-100]
	Ports []int  `yaml:"ports,omitempty"`
}

// Type describes one device type.
type Type struct {
	// Dir is where new devices of this type go: an absolute virtual path
	// ("/systems/servers") or, for devices found inside a container by its
	// discovery, a path relative to the container ("blades").
	Dir string `yaml:"dir"`
	// Attrs are attribute files written into every new device, e.g.
	// transport: ssh. "address" defaults to the device name.
	Attrs map[string]string `yaml:"attrs,omitempty"`
	// Lock makes discovery create a lock file in every new device, so all
	// agent runs on it and below are serialised.
	Lock bool `yaml:"lock,omitempty"`
	// Live says whether the device has the live directories (LiveDirs).
	Live bool `yaml:"live,omitempty"`
	// Builtins lists the roles whose built-in agents the type's devices
	// get (command, bmc, chassis, ...: see smctl's drivers).
	Builtins []string `yaml:"builtins,omitempty"`
}

// Caching models.
const (
	Refresh = "refresh" // run the read agent on every read
	Cached  = "cached"  // run it only while the file has no content
	TTL     = "ttl"     // run it when the content is older than TTL
)

// CacheRule sets the caching model of the files it matches.
type CacheRule struct {
	// Match is a glob: with a '/', matched against the whole virtual path,
	// otherwise against the file name.
	Match string   `yaml:"match"`
	Model string   `yaml:"model"`
	TTL   Duration `yaml:"ttl,omitempty"`

	line, col int
}

// Duration is a time.Duration written as "30s", "5m".
type Duration struct{ time.Duration }

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil || v < 0 {
		return posErr(n, "bad duration %q (want e.g. 30s, 5m)", n.Value)
	}
	d.Duration = v
	return nil
}

// MarshalYAML implements yaml.Marshaler.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// Size is a byte count written as "16MiB", "512KiB" or plain bytes.
type Size int64

// UnmarshalYAML implements yaml.Unmarshaler.
func (s *Size) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseSize(n.Value)
	if err != nil {
		return posErr(n, "%v", err)
	}
	*s = Size(v)
	return nil
}

// ParseSize parses "16MiB", "64KiB", "1GiB" or a plain byte count.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range []struct {
		suf string
		m   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}} {
		if strings.HasSuffix(t, u.suf) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suf)), u.m
			break
		}
	}
	v, err := strconv.ParseInt(t, 10, 64)
	if err != nil || v <= 0 || v > math.MaxInt64/mult {
		return 0, fmt.Errorf("bad size %q (want e.g. 16MiB)", s)
	}
	return v * mult, nil
}

// Error is a configuration error at a position in smctl.yaml.
type Error struct {
	File      string
	Line, Col int
	Msg       string
}

func (e *Error) Error() string {
	switch {
	case e.Line > 0 && e.Col > 0:
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg)
	case e.Line > 0:
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

func posErr(n *yaml.Node, format string, args ...any) error {
	return &Error{Line: n.Line, Col: n.Column, Msg: fmt.Sprintf(format, args...)}
}

// Default returns the core configuration: Schema{}.Default().
func Default() *Config { return Schema{}.Default() }

// Default returns the configuration of a file with no keys, which smctl
// init writes: the core defaults and the schema's types (sections keep
// their current values).
func (sc Schema) Default() *Config {
	c := &Config{
		Tree:      "tree",
		AgentDirs: []string{"agents.d"},
		KeyFile:   "key",
		Fanout:    64,
		Timeout:   Duration{30 * time.Second},
		MaxOutput: 16 << 20,
		LiveDirs:  []string{"proc", "sys"},
		Cache: []CacheRule{
			{Match: "temperature*", Model: TTL, TTL: Duration{10 * time.Second}},
		},
		Types:     map[string]Type{},
		Discovery: Discovery{ScanTimeout: Duration{2 * time.Second}},
	}
	for name, t := range sc.Types {
		t.Attrs = maps.Clone(t.Attrs)
		t.Builtins = slices.Clone(t.Builtins)
		c.Types[name] = t
	}
	return c
}

// Load reads and validates the configuration file at file.
func Load(file string) (*Config, error) { return Schema{}.Load(file) }

// Load reads and parses file (see Parse).
func (sc Schema) Load(file string) (*Config, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	c, err := sc.Parse(b)
	var ce *Error
	if errors.As(err, &ce) {
		ce.File = file
	}
	return c, err
}

// Parse parses configuration text. Keys it does not set keep their
// defaults.
func Parse(b []byte) (*Config, error) { return Schema{}.Parse(b) }

// Parse parses smctl.yaml's content with the schema's sections and
// default types; the sections' values are decoded in place.
func (sc Schema) Parse(b []byte) (*Config, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		line := 0
		if rest, ok := strings.CutPrefix(msg, "line "); ok {
			if num, m, ok := strings.Cut(rest, ": "); ok {
				if l, err := strconv.Atoi(num); err == nil {
					line, msg = l, m
					if src := sourceLine(b, l); src != "" {
						msg += fmt.Sprintf(" (in %q)", src)
					}
				}
			}
		}
		return nil, &Error{Line: line, Col: syntaxColumn(b, line, err.Error()), Msg: "syntax error: " + msg}
	}
	c := sc.Default()
	if len(doc.Content) == 0 { // empty file: all defaults
		return c, nil
	}
	root := doc.Content[0]
	if err := sc.check(root); err != nil {
		return nil, err
	}
	// Maps replace the default maps entirely, so clear them first.
	if hasKey(root, "types") {
		c.Types = nil
	}
	if hasKey(root, "cache") {
		c.Cache = nil
	}
	if err := decode(root, c); err != nil {
		return nil, err
	}
	if err := c.validate(root); err != nil {
		return nil, err
	}
	sc.defaultBuiltins(c, valueOf(root, "types"))
	for _, sec := range sc.Sections {
		n := valueOf(root, sec.Key)
		if n == nil {
			continue
		}
		if err := decode(n, sec.Value); err != nil {
			return nil, err
		}
		if v, ok := sec.Value.(Validator); ok {
			if err := v.Validate(func(key, format string, args ...any) error {
				if kn := valueOf(n, key); kn != nil {
					return posErr(kn, format, args...)
				}
				return posErr(n, format, args...)
			}); err != nil {
				return nil, err
			}
		}
	}
	return c, nil
}

// decode decodes n into v, keeping a positioned *Error as it is.
func decode(n *yaml.Node, v any) error {
	if err := n.Decode(v); err != nil {
		var ce *Error
		if errors.As(err, &ce) {
			return ce
		}
		return &Error{Msg: err.Error()}
	}
	return nil
}

// check checks the top-level mapping: the core keys against Config, each
// section against its value's type.
func (sc Schema) check(root *yaml.Node) error {
	if root.Kind == yaml.AliasNode {
		root = root.Alias
	}
	if root.Kind != yaml.MappingNode || len(sc.Sections) == 0 {
		return check(root, reflect.TypeOf(Config{}))
	}
	core := &yaml.Node{Kind: yaml.MappingNode, Line: root.Line, Column: root.Column}
	secs := map[string]Section{}
	for _, s := range sc.Sections {
		secs[s.Key] = s
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if s, ok := secs[k.Value]; ok {
			if l, dup := seen[k.Value]; dup {
				return posErr(k, "key %q already set at line %d", k.Value, l)
			}
			seen[k.Value] = k.Line
			if err := check(v, reflect.TypeOf(s.Value)); err != nil {
				return err
			}
			continue
		}
		core.Content = append(core.Content, k, v)
	}
	err := check(core, reflect.TypeOf(Config{}))
	var ce *Error
	if errors.As(err, &ce) && strings.HasPrefix(ce.Msg, "unknown key ") {
		for _, s := range sc.Sections {
			ce.Msg = strings.TrimSuffix(ce.Msg, ")") + ", " + s.Key + ")"
		}
	}
	return err
}

// defaultBuiltins gives a type of the file that lists no builtins those
// of the schema's default type of the same name.
func (sc Schema) defaultBuiltins(c *Config, types *yaml.Node) {
	if types == nil {
		return
	}
	for name, t := range c.Types {
		if tn := valueOf(types, name); tn != nil && hasKey(tn, "builtins") {
			continue
		}
		if d, ok := sc.Types[name]; ok {
			t.Builtins = slices.Clone(d.Builtins)
			c.Types[name] = t
		}
	}
}

// syntaxColumn finds the column of the syntax error full on line n, which
// yaml.v3 does not report: the shortest prefix of the line at which the
// document, cut there, already fails with the same error. 0 if none does.
func syntaxColumn(b []byte, n int, full string) int {
	lines := bytes.Split(b, []byte("\n"))
	if n < 1 || n > len(lines) {
		return 0
	}
	head := bytes.Join(lines[:n-1], []byte("\n"))
	if n > 1 {
		head = append(head, '\n')
	}
	for c := 1; c <= len(lines[n-1]); c++ {
		doc := append(append([]byte(nil), head...), lines[n-1][:c]...)
		var v yaml.Node
		if err := yaml.Unmarshal(doc, &v); err != nil && err.Error() == full {
			return c
		}
	}
	return 0
}

func sourceLine(b []byte, n int) string {
	lines := bytes.Split(b, []byte("\n"))
	if n < 1 || n > len(lines) {
		return ""
	}
	return strings.TrimSpace(string(lines[n-1]))
}

func hasKey(m *yaml.Node, key string) bool {
	return valueOf(m, key) != nil
}

func valueOf(m *yaml.Node, key string) *yaml.Node {
	if m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// check walks n against the shape of type t, reporting unknown keys and
// values of the wrong kind with their position.
func check(n *yaml.Node, t reflect.Type) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if _, ok := reflect.New(t).Interface().(yaml.Unmarshaler); ok {
		if n.Kind != yaml.ScalarNode {
			return posErr(n, "want a single value")
		}
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return posErr(n, "want a mapping of keys")
		}
		fields := map[string]reflect.Type{}
		var names []string
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if tag == "" || tag == "-" {
				continue
			}
			fields[tag] = f.Type
			names = append(names, tag)
		}
		seen := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if l, dup := seen[k.Value]; dup {
				return posErr(k, "key %q already set at line %d", k.Value, l)
			}
			seen[k.Value] = k.Line
			ft, ok := fields[k.Value]
			if !ok {
				return posErr(k, "unknown key %q (known: %s)", k.Value, strings.Join(names, ", "))
			}
			if err := check(v, ft); err != nil {
				return err
			}
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return posErr(n, "want a mapping")
		}
		seen := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if l, dup := seen[k.Value]; dup {
				return posErr(k, "key %q already set at line %d", k.Value, l)
			}
			seen[k.Value] = k.Line
			if err := check(n.Content[i+1], t.Elem()); err != nil {
				return err
			}
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return posErr(n, "want a list")
		}
		for _, e := range n.Content {
			if err := check(e, t.Elem()); err != nil {
				return err
			}
		}
	case reflect.Int, reflect.Int64:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
			return posErr(n, "want a whole number, got %q", n.Value)
		}
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
			return posErr(n, "want true or false, got %q", n.Value)
		}
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			return posErr(n, "want a single value")
		}
	}
	return nil
}

func (c *Config) validate(root *yaml.Node) error {
	at := func(key string, format string, args ...any) error {
		n := valueOf(root, key)
		if n == nil {
			return &Error{Msg: fmt.Sprintf(format, args...)}
		}
		return posErr(n, format, args...)
	}
	if c.Fanout < 1 {
		return at("fanout", "fanout must be at least 1")
	}
	if c.Timeout.Duration <= 0 {
		return at("timeout", "timeout must be positive")
	}
	if c.Tree == "" {
		return at("tree", "tree must not be empty")
	}
	for _, r := range c.Discovery.Scan {
		for _, p := range r.Ports {
			if p < 1 || p > 65535 {
				return at("discovery", "discovery scan %q: bad port %d", r.Hosts, p)
			}
		}
		if r.Hosts == "" {
			return at("discovery", "discovery scan rule needs hosts")
		}
	}
	if cache := valueOf(root, "cache"); cache != nil {
		for i := range c.Cache {
			n := cache.Content[i]
			r := &c.Cache[i]
			r.line, r.col = n.Line, n.Column
			if r.Match == "" {
				return posErr(n, "cache rule needs a match glob")
			}
			if _, err := path.Match(r.Match, ""); err != nil {
				return posErr(n, "cache rule: bad glob %q", r.Match)
			}
			switch r.Model {
			case Refresh, Cached:
			case TTL:
				if r.TTL.Duration <= 0 {
					return posErr(n, "cache rule %q: model ttl needs ttl: <duration>", r.Match)
				}
			default:
				return posErr(n, "cache rule %q: unknown model %q (want refresh, cached or ttl)", r.Match, r.Model)
			}
		}
	}
	types := valueOf(root, "types")
	for name, t := range c.Types {
		if name == "" || strings.ContainsAny(name, "/. ") {
			return at("types", "bad type name %q", name)
		}
		if t.Dir == "" {
			n := valueOf(types, name)
			if n == nil {
				n = root
			}
			return posErr(n, "type %q needs dir: <where its devices go>", name)
		}
	}
	return nil
}

// CachePolicy returns the caching model and TTL for a virtual path.
func (c *Config) CachePolicy(vpath string) (string, time.Duration) {
	for _, r := range c.Cache {
		subject := path.Base(vpath)
		if strings.Contains(r.Match, "/") {
			subject = vpath
		}
		if ok, _ := path.Match(r.Match, subject); ok {
			return r.Model, r.TTL.Duration
		}
	}
	return Refresh, 0
}

// Marshal renders c as YAML with a comment header, for smctl init.
func (c *Config) Marshal() ([]byte, error) { return Schema{}.Marshal(c) }

// Marshal renders c and the sections' values as YAML with a comment
// header, for smctl init.
func (sc Schema) Marshal(c *Config) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(header)
	for _, s := range sc.Sections {
		b.WriteString(s.Doc)
	}
	var doc yaml.Node
	if err := doc.Encode(c); err != nil {
		return nil, err
	}
	for _, s := range sc.Sections {
		var v yaml.Node
		if err := v.Encode(s.Value); err != nil {
			return nil, err
		}
		doc.Content = append(doc.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: s.Key}, &v)
	}
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, err
	}
	return b.Bytes(), enc.Close()
}

const header = `# smctl.yaml — the configuration of this smctl state root.
#
# tree          backing tree (relative to this directory); file contents are
#               the last value read or written
# agent_dirs    where executable agents are looked up, in order:
#               DIR/<type>/<file>.read|.write, and DIR/<file>.read|.write for
#               files at the root of the tree (discover_master)
# key_file      key that encrypts ids files ($SMCTL_KEY_FILE overrides)
# fanout        agents run at once; timeout: bound on one agent run
# max_output    cap on what one agent may print
# live_dirs     directories read live from the node on every access
# cache         first matching rule wins; model refresh (default: every
#               read runs the read agent), cached (only while empty) or
#               ttl (when older than ttl)
# password_argv agents that also get "-p PASSWORD" on their command line
# types         device types: dir (where discovery puts them), attrs
#               (attribute files of a new device), lock, live, builtins
#               (the roles whose built-in agents its devices get)
`
