package cli

import (
	"context"
	"strings"
	"testing"
)

// runIn runs smctl with args on the state root root and returns the exit
// code and both streams.
func runIn(t *testing.T, root string, stdin string, args ...string) (int, string, string) {
	t.Helper()
	ios, out, errOut := Test(stdin)
	code := Run(context.Background(), ios, append([]string{"--root", root}, args...))
	return code, out.String(), errOut.String()
}

func newRoot(t *testing.T, discover string) string {
	t.Helper()
	root := t.TempDir() + "/root"
	if code, _, e := runIn(t, root, "", "init"); code != 0 {
		t.Fatalf("init: %d %s", code, e)
	}
	if discover != "" {
		if code, _, e := runIn(t, root, "", "write", "/discover_master", discover); code != 0 {
			t.Fatalf("discover: %d %s", code, e)
		}
	}
	return root
}

// grep -c prints every file's count, 0 included, as grep does.
func TestGrepCountZero(t *testing.T) {
	root := newRoot(t, "server n[1-3] transport=local")
	for _, n := range []string{"n1", "n2"} {
		runIn(t, root, "", "write", "/systems/servers/"+n+"/notes", "rack "+n)
	}
	runIn(t, root, "", "write", "/systems/servers/n3/notes", "spare")
	code, out, errOut := runIn(t, root, "", "grep", "-c", "rack", "/systems/servers/n1/notes", "/systems/servers/n2/notes", "/systems/servers/n3/notes")
	want := "/systems/servers/n1/notes:1\n/systems/servers/n2/notes:1\n/systems/servers/n3/notes:0\n"
	if code != 0 || out != want {
		t.Errorf("grep -c = %d %q %q, want 0 %q", code, out, errOut, want)
	}
	code, out, _ = runIn(t, root, "", "grep", "-c", "nothing", "/systems/servers/n3/notes")
	if code != 1 || out != "0\n" {
		t.Errorf("grep -c with no match in one file = %d %q, want 1 \"0\\n\"", code, out)
	}
}

// A write of ids shows only masked pairs, in every output form.
func TestIDsNeverShown(t *testing.T) {
	root := newRoot(t, "")
	for _, tc := range []struct {
		args   []string
		masked bool // stdout shows the masked pair
	}{
		{[]string{"write", "/ids"}, false},
		{[]string{"write", "-o", "json", "/ids"}, true},
		{[]string{"cat", "/ids"}, true},
		{[]string{"cat", "-o", "json", "/ids"}, true},
		{[]string{"grep", "", "/ids"}, true},
		{[]string{"write", "/systems/nosuchdir/ids"}, false},
		{[]string{"write", "-o", "json", "/systems/nosuchdir/ids"}, false},
		{[]string{"write", "-o", "json", "/ids", "admin", "hunter2"}, false}, // no colon: refused
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			_, out, errOut := runIn(t, root, "admin:hunter2\n", tc.args...)
			if strings.Contains(out+errOut, "hunter2") {
				t.Errorf("password shown: stdout %q stderr %q", out, errOut)
			}
			if tc.masked && !strings.Contains(out, "admin:********") {
				t.Errorf("masked pair missing: %q %q", out, errOut)
			}
		})
	}
}
