package checks

import (
	"reflect"
	"testing"

	"github.com/smctl/smctl/pkg/check"
)

// TestContent: a result's content, and the same result read back from it
// (what -o json shows), for outputs of the plugin guidelines' shapes.
func TestContent(t *testing.T) {
	for _, tc := range []struct {
		name    string
		exit    int
		stdout  string
		content string
	}{
		{"one line", 0, "TCP OK - 0.000 second response time on 127.0.0.1 port 22|time=0.000114s;;;0.000000;10.000000\n",
			"OK TCP OK - 0.000 second response time on 127.0.0.1 port 22\n| time=0.000114s;;;0.000000;10.000000\n"},
		{"no perfdata", 2, "connect to address 127.0.0.1 and port 1: Connection refused\n",
			"CRITICAL connect to address 127.0.0.1 and port 1: Connection refused\n"},
		{"long output and perfdata on many lines", 1, "DISK WARNING - free space: / 3326 MB (56%); | /=2643MB;2600;5958;0;5968\n" +
			"/ 15272 MB (77%);\n/boot 68 MB (69%);\n/home 69357 MB (27%);\n/var/log 819 MB (84%); | /boot=68MB;88;93;0;98\n" +
			"/home=69357MB;253404;253409;0;253414\n/var/log=818MB;970;975;0;980\n",
			"WARNING DISK WARNING - free space: / 3326 MB (56%);\n/ 15272 MB (77%);\n/boot 68 MB (69%);\n/home 69357 MB (27%);\n/var/log 819 MB (84%);\n" +
				"| /=2643MB;2600;5958;0;5968\n| /boot=68MB;88;93;0;98\n| /home=69357MB;253404;253409;0;253414\n| /var/log=818MB;970;975;0;980\n"},
		{"bad perfdata kept as printed", 0, "OK | 'swap space'=0,5GB load=1;2;3 'open\n", "OK OK\n| 'swap space'=0,5GB load=1;2;3 'open\n"},
		{"empty message", 0, " | a=1\n", "OK\n| a=1\n"},
		{"no output", 0, "", "UNKNOWN no output (exit status 0)\n"},
		{"not a return code", 127, "sh: check_x: not found\n", "UNKNOWN exit status 127 is no plugin return code (0..3): plugin may be missing: sh: check_x: not found\n"},
		{"empty lines", 3, "\n\nUNKNOWN - what\n\nmore\n\n", "UNKNOWN UNKNOWN - what\n\nmore\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := check.Parse(tc.exit, []byte(tc.stdout))
			got := Content(r, perfText([]byte(tc.stdout)))
			if string(got) != tc.content {
				t.Errorf("Content =\n%s\nwant\n%s", got, tc.content)
			}
			back, ok := ParseContent(got)
			if !ok || !reflect.DeepEqual(back, r) {
				t.Errorf("ParseContent = %+v, %v\nwant %+v", back, ok, r)
			}
			if back, ok := ResultOf("/systems/servers/n1/checks/disk-1", got); !ok || !reflect.DeepEqual(back, r) {
				t.Errorf("ResultOf = %+v, %v", back, ok)
			}
		})
	}
	for _, tc := range []struct{ path, content string }{
		{"/systems/servers/n1/checks/ssh.state", "CRITICAL HARD 3/3 since 2026-11-22T21:40:01Z\n"},
		{"/systems/servers/n1/checks/ssh.status", "OK fine\n"},
		{"/systems/servers/n1/command", "OK fine\n"},
		{"/systems/servers/n1/checks/ssh", ""},
		{"/systems/servers/n1/checks/ssh", "PENDING nothing yet\n"},
		{"/systems/servers/n1/checks/ssh", "ok fine\n"},
		{"/systems/servers/n1/checks/ssh", "OK fine\n| a=1\nthen text\n"},
	} {
		if r, ok := ResultOf(tc.path, []byte(tc.content)); ok {
			t.Errorf("ResultOf(%s, %q) = %+v", tc.path, tc.content, r)
		}
	}
}
