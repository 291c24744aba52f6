package checks

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/smctl/smctl/pkg/config"
	"github.com/smctl/smctl/pkg/driver"
)

// Defaults of a check's optional settings.
const (
	DefaultEvery    = time.Minute
	DefaultAttempts = 3
	DefaultTimeout  = 10 * time.Second
)

// maxAttempts bounds attempts, as package check bounds MaxAttempts.
const maxAttempts = 1_000_000

// entry is one item of smctl.yaml's checks: list. Its scalar fields check
// themselves as they are decoded, so that an error names the line and
// column of the value; Validate checks what needs the whole item.
type entry struct {
	Name     checkName        `yaml:"name"`
	Types    []typeName       `yaml:"types,omitempty"`
	Command  command          `yaml:"command"`
	Every    *every           `yaml:"every,omitempty"`
	Attempts *attempts        `yaml:"attempts,omitempty"`
	OnHard   *action          `yaml:"on_hard,omitempty"`
	Timeout  *config.Duration `yaml:"timeout,omitempty"`
	Remote   bool             `yaml:"remote,omitempty"`
}

// list is the section checks: (config.Section's Value is a *list).
type list []entry

// Validate implements config.Validator.
func (l *list) Validate(at func(key, format string, args ...any) error) error {
	seen := map[checkName]int{}
	for i, e := range *l {
		switch {
		case e.Name == "":
			return at("", "checks: item %d has no name", i+1)
		case e.Command == "":
			return at("", "checks: check %s has no command (the plugin to run and its arguments)", e.Name)
		case e.Timeout != nil && e.Timeout.Duration <= 0:
			return at("", "checks: check %s: timeout must be positive", e.Name)
		}
		if j, dup := seen[e.Name]; dup {
			return at("", "checks: check %s is named twice (items %d and %d)", e.Name, j, i+1)
		}
		seen[e.Name] = i + 1
	}
	return nil
}

// spec is e with its defaults.
func (e entry) spec() Spec {
	s := Spec{Name: string(e.Name), Command: string(e.Command), Remote: e.Remote,
		Every: DefaultEvery, Attempts: DefaultAttempts, Timeout: DefaultTimeout}
	for _, t := range e.Types {
		s.Types = append(s.Types, string(t))
	}
	if e.Every != nil {
		s.Every = e.Every.Duration
	}
	if e.Attempts != nil {
		s.Attempts = int(*e.Attempts)
	}
	if e.OnHard != nil {
		s.OnHard = driver.Action(*e.OnHard)
	}
	if e.Timeout != nil {
		s.Timeout = e.Timeout.Duration
	}
	return s
}

// dirs is the section plugin_dirs:.
type dirs []string

// Validate implements config.Validator.
func (d *dirs) Validate(at func(key, format string, args ...any) error) error {
	for _, dir := range *d {
		switch {
		case dir == "" || strings.ContainsRune(dir, 0):
			return at("", "plugin_dirs: %q is no directory", dir)
		case strings.HasPrefix(dir, "~"):
			return at("", "plugin_dirs: %q: write the whole path (~ is not expanded)", dir)
		}
	}
	return nil
}

// posErr is a configuration error at n.
func posErr(n *yaml.Node, format string, args ...any) error {
	return &config.Error{Line: n.Line, Col: n.Column, Msg: fmt.Sprintf(format, args...)}
}

// nameRE is a check's name: a plain name, which is also its file's.
var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)

// ValidName reports whether s may name a check: letters, digits, '_' and
// '-', starting with a letter or digit, at most 64 bytes (no '.', so that
// NAME.state is never another check's file).
func ValidName(s string) bool { return nameRE.MatchString(s) }

type checkName string

func (c *checkName) UnmarshalYAML(n *yaml.Node) error {
	if !ValidName(n.Value) {
		return posErr(n, "checks: bad check name %q (want letters, digits, _ and -, starting with a letter or digit)", n.Value)
	}
	*c = checkName(n.Value)
	return nil
}

type typeName string

func (t *typeName) UnmarshalYAML(n *yaml.Node) error {
	if !config.ValidTypeName(n.Value) {
		return posErr(n, "checks: bad device type %q (want a type's name: [a-z0-9_-])", n.Value)
	}
	*t = typeName(n.Value)
	return nil
}

type command string

func (c *command) UnmarshalYAML(n *yaml.Node) error {
	if _, err := parseCommand(n.Value); err != nil {
		return posErr(n, "checks: command %q: %v", n.Value, err)
	}
	*c = command(n.Value)
	return nil
}

// every is how often a check runs: at least a second.
type every struct{ time.Duration }

func (e *every) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil || v < time.Second {
		return posErr(n, "checks: every %q: want a duration of 1s or more", n.Value)
	}
	e.Duration = v
	return nil
}

func (e every) MarshalYAML() (any, error) { return e.String(), nil }

type attempts int

func (a *attempts) UnmarshalYAML(n *yaml.Node) error {
	v, err := strconv.Atoi(n.Value)
	if err != nil || v < 1 || v > maxAttempts {
		return posErr(n, "checks: attempts %q: want a whole number from 1 to %d", n.Value, maxAttempts)
	}
	*a = attempts(v)
	return nil
}

// action is on_hard: a driver.Action.
type action driver.Action

// unitRE is a systemd unit's or an init script's name.
var unitRE = regexp.MustCompile(`^[A-Za-z0-9@_.:\\-]+$`)

func (a *action) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseAction(n.Value)
	if err != nil {
		return posErr(n, "checks: on_hard %q: %v", n.Value, err)
	}
	*a = action(v)
	return nil
}

func (a action) MarshalYAML() (any, error) { return strings.TrimSpace(a.Kind + " " + a.Arg), nil }

// ParseAction parses an on_hard value: restart-service UNIT, restart-vm,
// reboot, evacuate or exec CMD (CMD, a shell command line, is smctl
// serve's to run, as the rest: it is kept as written).
func ParseAction(s string) (driver.Action, error) {
	kind, arg, _ := strings.Cut(strings.TrimSpace(s), " ")
	arg = strings.TrimSpace(arg)
	switch kind {
	case "restart-vm", "reboot", "evacuate":
		if arg != "" {
			return driver.Action{}, fmt.Errorf("%s takes no argument", kind)
		}
	case "restart-service":
		if !unitRE.MatchString(arg) || strings.HasPrefix(arg, "-") {
			return driver.Action{}, fmt.Errorf("want restart-service UNIT (one unit name)")
		}
	case "exec":
		if arg == "" {
			return driver.Action{}, fmt.Errorf("want exec CMD (a shell command)")
		}
	default:
		return driver.Action{}, fmt.Errorf("want restart-service UNIT, restart-vm, reboot, evacuate or exec CMD")
	}
	return driver.Action{Kind: kind, Arg: arg}, nil
}
