package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

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
	if err := sc.checkRoles(c, valueOf(root, "types")); err != nil {
		return nil, err
	}
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

// checkRoles refuses a builtins entry no driver provides, at its place in
// the file (or at types: for one taken from a default type).
func (sc Schema) checkRoles(c *Config, types *yaml.Node) error {
	if sc.Roles == nil {
		return nil
	}
	names := make([]string, 0, len(c.Types))
	for name := range c.Types {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		for i, role := range c.Types[name].Builtins {
			if slices.Contains(sc.Roles, role) {
				continue
			}
			at := types
			if bn := valueOf(valueOf(types, name), "builtins"); bn != nil && bn.Kind == yaml.SequenceNode && i < len(bn.Content) {
				at = bn.Content[i]
			}
			msg := fmt.Sprintf("type %s: unknown builtins %q (known: %s)", name, role, strings.Join(sc.Roles, ", "))
			if at == nil {
				return &Error{Msg: msg}
			}
			return posErr(at, "%s", msg)
		}
	}
	return nil
}

// syntaxColumn finds the column of the syntax error full on line n, which
// yaml.v3 does not report: the shortest prefix of the line at which the
// document, cut there, already fails with the same error. 0 if none does,
// or if finding it would cost too much: it parses the document once per
// column, and one parse of deeply nested text is not linear, so a line
// longer than maxColumnLine or a document past maxColumnDoc gets no column
// (the error still names the line and shows it).
func syntaxColumn(b []byte, n int, full string) int {
	lines := bytes.Split(b, []byte("\n"))
	if n < 1 || n > len(lines) || len(lines[n-1]) > maxColumnLine || len(b) > maxColumnDoc {
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

// Bounds of syntaxColumn's search.
const (
	maxColumnLine = 200
	maxColumnDoc  = 64 << 10
)

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
	if m == nil || m.Kind != yaml.MappingNode {
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
	if c.ConfirmOver < 0 {
		return at("confirm_over", "confirm_over must be 0 or more")
	}
	if c.Timeout.Duration <= 0 {
		return at("timeout", "timeout must be positive")
	}
	if c.Tree == "" {
		return at("tree", "tree must not be empty")
	}
	if c.Serve.IdleTimeout.Duration <= 0 {
		return at("serve", "serve: idle_timeout must be positive")
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
			case Periodic:
				if r.Every.Duration <= 0 {
					return posErr(n, "cache rule %q: model periodic needs every: <duration>", r.Match)
				}
			default:
				return posErr(n, "cache rule %q: unknown model %q (want refresh, cached, ttl or periodic)", r.Match, r.Model)
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
