package checks

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/smctl/smctl/pkg/transport"
)

// words parses and expands cmd with vars, for the tests.
func words(t *testing.T, cmd string, vars map[string]string) []string {
	t.Helper()
	ws, err := parseCommand(cmd)
	if err != nil {
		t.Fatalf("parseCommand(%q): %v", cmd, err)
	}
	return expand(ws, vars)
}

// TestParseCommandShell: the words are those /bin/sh makes of the same
// text (with no variables: sh would expand its own).
func TestParseCommandShell(t *testing.T) {
	for _, cmd := range []string{
		`check_tcp -H 127.0.0.1 -p 22`,
		`check_dummy 1 'all is well'`,
		`check_dummy 1 "all is well"`,
		`check_dummy 1 all\ is\ well`,
		`check_x 'it'\''s' "a \"b\" \\c \$d" 'e"f' "g'h"`,
		`check_x '' "" a''b`,
		"check_x\ta  b   c\n",
		`check_x "a\nb" 'c\d' e\\f`,
		`check_x "line\
continued" cost\$5 $ "$"`,
		`check_x -w 80% -c @10:20 ~:5 * ? [a]`,
	} {
		t.Run(cmd, func(t *testing.T) {
			got := words(t, cmd, nil)
			// The shell's words, one per NUL-terminated item (no globbing:
			// set -f, for the pattern characters).
			out, err := exec.Command("/bin/sh", "-c", "set -f; set -- "+cmd+"\n"+`printf '%s\0' "$@"`).Output()
			if err != nil {
				t.Fatal(err)
			}
			want := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
			if !slices.Equal(got, want) {
				t.Errorf("parseCommand(%q) = %q, the shell says %q", cmd, got, want)
			}
		})
	}
}

// TestParseCommandErrors: what is refused, and why.
func TestParseCommandErrors(t *testing.T) {
	for _, tc := range []struct{ cmd, why string }{
		{"", "empty"},
		{"   ", "empty"},
		{"check_x 'open", "' quote is not closed"},
		{`check_x "open`, `" quote is not closed`},
		{`check_x end\`, "ends in a backslash"},
		{"check_x; rm -rf /", `';': no shell runs the command`},
		{"check_x | grep OK", `'|': no shell`},
		{"check_x > /tmp/out", `'>': no shell`},
		{"check_x && reboot", `'&': no shell`},
		{"check_x $(id)", "$(...): no shell"},
		{"check_x `id`", "'`': no shell"},
		{"check_x \"`id`\"", "`...`: no shell"},
		{"check_x $HOME", "$HOME: only these variables"},
		{"check_x $SMCTL_BIN", "$SMCTL_BIN: only these variables"},
		{"check_a\ncheck_b", "one command per check"},
		{"check_x ${PATH}", "$PATH: only these variables"},
		{"check_x ${SMCTL_HOST:-x}", `only ${NAME} is expanded`},
		{"check_x ${SMCTL_HOST", "has no closing }"},
		{"check_x -p $SMCTL_PASSWORD", "every user may read"},
		{"check_x \"$SMCTL_PASSWORD\"", "every user may read"},
		{"$SMCTL_ATTR_PLUGIN -H x", "not by a variable"},
		{"/usr/lib/$SMCTL_TYPE/check", "not by a variable"},
		{"plugins/check_x", "want a plain name"},
		{"./check_x", "want a plain name"},
		{"'' -H x", "no plugin named"},
		{"..", "no plugin named"},
	} {
		t.Run(tc.cmd, func(t *testing.T) {
			_, err := parseCommand(tc.cmd)
			if !errors.Is(err, ErrCommand) || !strings.Contains(err.Error(), tc.why) {
				t.Errorf("parseCommand(%q) = %v, want ErrCommand: ...%s...", tc.cmd, err, tc.why)
			}
		})
	}
}

// TestExpand: a variable's value stays inside its word whatever it holds:
// spaces, shell operators, substitutions and globs add no word, run
// nothing and match no file.
func TestExpand(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "match-me"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{
		"127.0.0.1 -p 1",
		"a; touch " + dir + "/pwned",
		"$(touch " + dir + "/pwned)",
		"`touch " + dir + "/pwned`",
		dir + "/*",
		"'; touch " + dir + "/pwned; '",
		"\" ; touch " + dir + "/pwned \"",
		"-oProxyCommand=touch " + dir + "/pwned",
		"",
		"new\nline",
	} {
		t.Run(host, func(t *testing.T) {
			vars := map[string]string{"SMCTL_HOST": host, "SMCTL_ATTR_PORT": "22 -t 1"}
			for _, tc := range []struct {
				cmd  string
				want []string
			}{
				{"check_tcp -H $SMCTL_HOST -p $SMCTL_ATTR_PORT", []string{"check_tcp", "-H", host, "-p", "22 -t 1"}},
				{`check_tcp -H "$SMCTL_HOST" -p "${SMCTL_ATTR_PORT}"`, []string{"check_tcp", "-H", host, "-p", "22 -t 1"}},
				{"check_tcp --host=${SMCTL_HOST}:$SMCTL_ATTR_PORT", []string{"check_tcp", "--host=" + host + ":22 -t 1"}},
				{"check_tcp '$SMCTL_HOST' $SMCTL_ATTR_NOPE", []string{"check_tcp", "$SMCTL_HOST", ""}},
			} {
				if got := words(t, tc.cmd, vars); !slices.Equal(got, tc.want) {
					t.Errorf("%s: %q, want %q", tc.cmd, got, tc.want)
				}
			}
			// Through the node's shell (a remote check): the same words
			// arrive, nothing runs.
			args := words(t, "printf '%s\\n' $SMCTL_HOST -H${SMCTL_HOST}x", vars)
			out, err := transport.Local{}.Exec(context.Background(), remoteCommand(args), nil, 1<<20)
			if err != nil || out.Exit != 0 {
				t.Fatalf("%s: %v, exit %d, %s", remoteCommand(args), err, out.Exit, out.Stderr)
			}
			if got, want := string(out.Stdout), host+"\n-H"+host+"x\n"; got != want {
				t.Errorf("the node's printf got %q, want %q", got, want)
			}
			if _, err := os.Stat(filepath.Join(dir, "pwned")); err == nil {
				t.Fatalf("an address ran a command")
			}
		})
	}
}

// FuzzParseCommand: any text is parsed or refused, never a panic; a
// parsed command keeps its number of words whatever its variables hold.
func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{"check_tcp -H $SMCTL_HOST", `a "b $SMCTL_HOST c" 'd'`, `x\ y ${SMCTL_ATTR_X}`, "a 'b", `a "$`, "a $"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ws, err := parseCommand(s)
		if err != nil {
			return
		}
		a := expand(ws, nil)
		b := expand(ws, map[string]string{"SMCTL_HOST": "x y; z", "SMCTL_ATTR_X": "* $(a)"})
		if len(a) != len(ws) || len(b) != len(ws) || a[0] != b[0] {
			t.Fatalf("%q: %q then %q", s, a, b)
		}
	})
}
