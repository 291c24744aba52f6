package discover

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestMut2DiscoverLineNumbers: an error names the line of the text it is
// on, counting comments and blank lines, whether the statement does not
// parse or its type cannot be found where it is discovered.
func TestMut2DiscoverLineNumbers(t *testing.T) {
	for _, tc := range []struct {
		name, text, err string
	}{
		{"import", "# servers\n\nimport nothing\n", "line 3: import nothing: want ssh_config, hosts or ansible"},
		{"statement", "# servers\nserver n1\n\nnosuchtype n2\n", "line 4: "},
		{"type outside its container", "server n1\n# blades\n\n\nblade b1\n", "line 5: devices of type blade are found inside a container"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, d := newTree(t, "")
			lines, err := d.Discover(context.Background(), tc.text, "")
			if err == nil || !strings.HasPrefix(err.Error(), tc.err) {
				t.Fatalf("Discover(%q) = %q, %v; want an error starting %q", tc.text, lines, err, tc.err)
			}
		})
	}
}

// TestMut2ImportStatements: the statements an import makes: the file may
// be left out ("import ssh_config" reads ~/.ssh/config), and a host's
// address, port and user are given when the inventory has them, and only
// then.
func TestMut2ImportStatements(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	sshConfig := filepath.Join(home, ".ssh", "config")
	if err := os.MkdirAll(filepath.Dir(sshConfig), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(sshConfig, []byte("Host alpha\n  HostName 10.0.0.1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	inv := filepath.Join(home, "inventory")
	if err := os.WriteFile(inv, []byte("[web]\nweb1 ansible_host=10.0.0.7 ansible_port=2200 ansible_user=admin\nweb2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		line string
		want []string
	}{
		{"import ssh_config", []string{"server alpha ssh_config=" + sshConfig}},
		{"import ansible " + inv, []string{"server web1 address=10.0.0.7 port=2200 user=admin", "server web2"}},
	} {
		got, err := importStatements(tc.line)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("importStatements(%q) = %q, %v; want %q", tc.line, got, err, tc.want)
		}
	}
	for _, line := range []string{"import", "import hosts /etc/hosts extra"} {
		if got, err := importStatements(line); err == nil || !strings.Contains(err.Error(), "want \"import ssh_config|hosts|ansible [FILE]\"") {
			t.Errorf("importStatements(%q) = %q, %v; want the usage error", line, got, err)
		}
	}
}
