package checks

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/smctl/smctl/pkg/config"
	"github.com/smctl/smctl/pkg/driver"
)

// parse parses smctl.yaml text with the driver's sections into a new
// driver.
func parse(text string) (*Driver, error) {
	d := New("/nonexistent")
	_, err := config.Schema{Sections: d.Sections()}.Parse([]byte(text))
	return d, err
}

// TestConfig: the checks of a type, with their defaults.
func TestConfig(t *testing.T) {
	d, err := parse(`
checks:
  - name: ssh
    types: [server, hypervisor]
    command: check_ssh -H $SMCTL_HOST
    every: 5s
    attempts: 3
    on_hard: evacuate
  - name: load
    command: check_load -r -w 4,3,2 -c 8,6,4
    remote: true
    timeout: 2s
    on_hard: restart-service nginx.service
  - name: vm-up
    types: [vm]
    command: /usr/local/lib/check_vm "$SMCTL_DEVICE"
    on_hard: exec /usr/local/bin/page-oncall --device "$SMCTL_DEVICE" | logger
plugin_dirs: [/opt/plugins, plugins]
`)
	if err != nil {
		t.Fatal(err)
	}
	ssh := Spec{Name: "ssh", Types: []string{"server", "hypervisor"}, Command: "check_ssh -H $SMCTL_HOST",
		Every: 5 * time.Second, Attempts: 3, OnHard: driver.Action{Kind: "evacuate"}, Timeout: DefaultTimeout}
	load := Spec{Name: "load", Command: "check_load -r -w 4,3,2 -c 8,6,4", Every: DefaultEvery, Attempts: DefaultAttempts,
		OnHard: driver.Action{Kind: "restart-service", Arg: "nginx.service"}, Timeout: 2 * time.Second, Remote: true}
	vm := Spec{Name: "vm-up", Types: []string{"vm"}, Command: `/usr/local/lib/check_vm "$SMCTL_DEVICE"`, Every: DefaultEvery,
		Attempts: DefaultAttempts, OnHard: driver.Action{Kind: "exec", Arg: `/usr/local/bin/page-oncall --device "$SMCTL_DEVICE" | logger`}, Timeout: DefaultTimeout}
	for typ, want := range map[string][]Spec{"server": {ssh, load}, "hypervisor": {ssh, load}, "vm": {load, vm}, "chassis": {load}} {
		if got := d.Checks(typ); !reflect.DeepEqual(got, want) {
			t.Errorf("Checks(%s) =\n%+v\nwant\n%+v", typ, got, want)
		}
	}
	if got := d.searchDirs(); !reflect.DeepEqual(got, append([]string{"/opt/plugins", "/nonexistent/plugins", "/nonexistent/agents.d/plugins"}, SystemDirs...)) {
		t.Errorf("searchDirs = %q", got)
	}
	// No sections: no checks.
	if d, err := parse("fanout: 3\n"); err != nil || d.Checks("server") != nil {
		t.Errorf("no checks: %v, %v", d.Checks("server"), err)
	}
}

// TestConfigErrors: a bad value is named with its line and column; what
// needs the whole item, at the list.
func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		line, col  int
		msg        string
	}{
		{"unknown key", "checks:\n  - name: a\n    comand: check_x\n", 3, 5, `unknown key "comand"`},
		{"bad name", "checks:\n  - name: a.b\n    command: check_x\n", 2, 11, `bad check name "a.b"`},
		{"name a path", "checks:\n  - name: ../x\n    command: check_x\n", 2, 11, "bad check name"},
		{"no name", "checks:\n  - command: check_x\n", 2, 3, "item 1 has no name"},
		{"no command", "checks:\n  - name: a\n", 2, 3, "check a has no command"},
		{"twice", "checks:\n  - {name: a, command: x}\n  - {name: a, command: y}\n", 2, 3, "check a is named twice (items 1 and 2)"},
		{"bad type", "checks:\n  - name: a\n    types: [server, ../x]\n    command: x\n", 3, 21, `bad device type "../x"`},
		{"types not a list", "checks:\n  - name: a\n    types: server\n    command: x\n", 3, 12, "want a list"},
		{"every too short", "checks:\n  - name: a\n    command: x\n    every: 500ms\n", 4, 12, "1s or more"},
		{"every not a duration", "checks:\n  - name: a\n    command: x\n    every: often\n", 4, 12, "1s or more"},
		{"attempts 0", "checks:\n  - name: a\n    command: x\n    attempts: 0\n", 4, 15, "from 1 to"},
		{"attempts text", "checks:\n  - name: a\n    command: x\n    attempts: three\n", 4, 15, "from 1 to"},
		{"timeout 0", "checks:\n  - name: a\n    command: x\n    timeout: 0s\n", 2, 3, "timeout must be positive"},
		{"on_hard unknown", "checks:\n  - name: a\n    command: x\n    on_hard: panic\n", 4, 14, "want restart-service UNIT, restart-vm"},
		{"on_hard no unit", "checks:\n  - name: a\n    command: x\n    on_hard: restart-service\n", 4, 14, "one unit name"},
		{"on_hard two units", "checks:\n  - name: a\n    command: x\n    on_hard: restart-service a b\n", 4, 14, "one unit name"},
		{"on_hard argument", "checks:\n  - name: a\n    command: x\n    on_hard: reboot now\n", 4, 14, "reboot takes no argument"},
		{"on_hard exec nothing", "checks:\n  - name: a\n    command: x\n    on_hard: exec\n", 4, 14, "want exec CMD"},
		{"command shell", "checks:\n  - name: a\n    command: check_x | y\n", 3, 14, "no shell runs the command"},
		{"command password", "checks:\n  - name: a\n    command: check_x -p $SMCTL_PASSWORD\n", 3, 14, "every user may read"},
		{"remote not bool", "checks:\n  - name: a\n    command: x\n    remote: yes please\n", 4, 13, "want true or false"},
		{"not a list", "checks: {name: a}\n", 1, 9, "want a list"},
		{"plugin dir ~", "plugin_dirs: [~/plugins]\n", 1, 14, "write the whole path"},
		{"plugin dir empty", "plugin_dirs: ['']\n", 1, 14, "is no directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parse(tc.text)
			var ce *config.Error
			if !errors.As(err, &ce) || ce.Line != tc.line || ce.Col != tc.col || !strings.Contains(ce.Msg, tc.msg) {
				t.Errorf("%q: %v, want %d:%d: ...%s...", tc.text, err, tc.line, tc.col, tc.msg)
			}
		})
	}
}

// TestConfigInit: what smctl init writes parses back, with no checks.
func TestConfigInit(t *testing.T) {
	d := New("")
	sc := config.Schema{Sections: d.Sections()}
	b, err := sc.Marshal(config.Default())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"\nchecks: []\n", "\nplugin_dirs: []\n", "# checks ", "# plugin_dirs "} {
		if !strings.Contains(string(b), want) {
			t.Errorf("smctl.yaml of init lacks %q:\n%s", want, b)
		}
	}
	if _, err := sc.Parse(b); err != nil || d.Checks("server") != nil {
		t.Errorf("parsed back: %v, %v", d.Checks("server"), err)
	}
}
