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
	"fmt"
	"io/fs"
	"maps"
	"math"
	"path"
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
	// ConfirmOver is how many devices a destructive write (power off, ...)
	// may reach before smctl write asks for confirmation (--yes).
	ConfirmOver int `yaml:"confirm_over"`
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
	// Serve tunes smctl serve.
	Serve Serve `yaml:"serve,omitempty"`
}

// Serve is the section serve: of smctl.yaml.
type Serve struct {
	// IdleTimeout closes a warm connection unused for this long.
	IdleTimeout Duration `yaml:"idle_timeout"`
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
	// Roles, when not nil, are the builtins a type may list (what the
	// drivers provide); another is an error at its place in the file.
	Roles []string
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
	// Resync makes prompted discovery run the discovery of the type's
	// devices already in the tree again (a hypervisor lists its VMs now);
	// a type whose discovery needs options (a chassis' blades=) has none.
	Resync bool `yaml:"resync,omitempty"`
	// Builtins lists the roles whose built-in agents the type's devices
	// get (command, bmc, chassis, ...: see smctl's drivers).
	Builtins []string `yaml:"builtins,omitempty"`
}

// Caching models.
const (
	Refresh  = "refresh"  // run the read agent on every read
	Cached   = "cached"   // run it only while the file has no content
	TTL      = "ttl"      // run it when the content is older than TTL
	Periodic = "periodic" // smctl serve runs it every Every; a read acts as TTL Every
)

// CacheRule sets the caching model of the files it matches.
type CacheRule struct {
	// Match is a glob: with a '/', matched against the whole virtual path,
	// otherwise against the file name.
	Match string   `yaml:"match"`
	Model string   `yaml:"model"`
	TTL   Duration `yaml:"ttl,omitempty"`
	Every Duration `yaml:"every,omitempty"` // periodic

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
		Tree:        "tree",
		AgentDirs:   []string{"agents.d"},
		KeyFile:     "key",
		Fanout:      64,
		ConfirmOver: 10,
		Timeout:     Duration{30 * time.Second},
		MaxOutput:   16 << 20,
		LiveDirs:    []string{"proc", "sys", "os", "stats", "processes", "services", "disks", "checks"},
		Cache: []CacheRule{
			{Match: "temperature*", Model: TTL, TTL: Duration{10 * time.Second}},
			// A record that grows while serve listens (a hypervisor's
			// lifecycle events): serve keeps adding to it.
			{Match: "events", Model: Periodic, Every: Duration{5 * time.Second}},
		},
		Types: map[string]Type{},
		Serve: Serve{IdleTimeout: Duration{10 * time.Minute}},
	}
	for name, t := range sc.Types {
		t.Attrs = maps.Clone(t.Attrs)
		t.Builtins = slices.Clone(t.Builtins)
		c.Types[name] = t
	}
	return c
}

// Stale reports whether a file's read agent must run before a read under
// model and ttl, given the stored content's description (stat, called
// only when the model needs it): refresh always; cached only while the
// content is missing or empty; ttl when the content is older than ttl, and
// always when ttl is 0 (a fresh reading, whatever time the content has: a
// clock that was ahead, a restored backup).
func Stale(model string, ttl time.Duration, stat func() (fs.FileInfo, error)) bool {
	switch model {
	case Cached:
		st, err := stat()
		return err != nil || st.Size() == 0
	case TTL, Periodic:
		if ttl <= 0 {
			return true
		}
		st, err := stat()
		return err != nil || time.Since(st.ModTime()) >= ttl
	}
	return true
}

// CachePolicy returns the caching model and TTL for a virtual path (for
// periodic, its period, which a read takes as a TTL).
func (c *Config) CachePolicy(vpath string) (string, time.Duration) {
	for _, r := range c.Cache {
		subject := path.Base(vpath)
		if strings.Contains(r.Match, "/") {
			subject = vpath
		}
		if ok, _ := path.Match(r.Match, subject); ok {
			if r.Model == Periodic {
				return r.Model, r.Every.Duration
			}
			return r.Model, r.TTL.Duration
		}
	}
	return Refresh, 0
}

// ValidTypeName reports whether s may name a device type in a type marker:
// a plain name of [a-z0-9_-], never a path.
func ValidTypeName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}
