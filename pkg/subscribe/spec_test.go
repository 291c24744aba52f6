package subscribe

import (
	"strings"
	"testing"
	"time"
)

// TestParse: what a subscription file may say, and the errors that name
// what is wrong.
func TestParse(t *testing.T) {
	day := time.Date(2026, 12, 31, 0, 0, 0, 0, time.Local)
	for _, tc := range []struct {
		in   string
		want Spec
		err  string
	}{
		{in: "paths=/a exec=logger \"$SMCTL_PATH\" now", want: Spec{Paths: []string{"/a"}, For: 1, Exec: `logger "$SMCTL_PATH" now`}},
		{in: "paths=/a paths=@web/x every=30s for=2 webhook=http://h:8/x until=2026-12-31T00:00",
			want: Spec{Paths: []string{"/a", "@web/x"}, Every: 30 * time.Second, For: 2, Webhook: "http://h:8/x", Until: day}},
		{in: "paths=/a\nwebhook=https://h/x until=2026-12-31", want: Spec{Paths: []string{"/a"}, For: 1, Webhook: "https://h/x", Until: day}},
		{in: "paths=/a until=2026-12-31T00:00:00Z exec=x", want: Spec{Paths: []string{"/a"}, For: 1, Exec: "x", Until: time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC)}},
		{in: "paths=/a exec=a\nwebhook=http://h/", want: Spec{Paths: []string{"/a"}, For: 1, Exec: "a", Webhook: "http://h/"}},
		{in: "paths=/a bogus=1 exec=x", err: `unknown key "bogus"`},
		{in: "paths=/a word exec=x", err: `"word": want KEY=VALUE`},
		{in: "paths= exec=x", err: `"paths=": want KEY=VALUE`},
		{in: "exec=x", err: "no paths="},
		{in: "paths=/a every=1s", err: "no exec= or webhook="},
		{in: "paths=/a exec=", err: "exec=: want a command"},
		{in: "paths=/a webhook=ftp://h/x", err: "webhook=ftp://h/x: want an http:// or https:// URL"},
		{in: "paths=/a webhook=http:///x", err: "want an http"},
		{in: "paths=/a every=10ms exec=x", err: "every=10ms: want 100ms or more"},
		{in: "paths=/a every=soon exec=x", err: "every=soon"},
		{in: "paths=/a for=0 exec=x", err: "for=0: want 1 to 1000"},
		{in: "paths=/a for=1001 exec=x", err: "for=1001: want 1 to 1000"},
		{in: "paths=/a until=tomorrow exec=x", err: "until=tomorrow: want a time such as 2026-12-31T00:00"},
	} {
		got, err := Parse(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Parse(%q) = %+v, %v; want an error with %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || strings.Join(got.Paths, ",") != strings.Join(tc.want.Paths, ",") || got.Every != tc.want.Every ||
			got.For != tc.want.For || !got.Until.Equal(tc.want.Until) || got.Exec != tc.want.Exec || got.Webhook != tc.want.Webhook {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

// TestSpecText: the spec is the file less its blank and "#" lines (the
// state serve writes), each trimmed.
func TestSpecText(t *testing.T) {
	in := "  paths=/a exec=x  \n\n# state: active\n#events: 2\npaths=/b\n"
	if got := SpecText(in); got != "paths=/a exec=x\npaths=/b" {
		t.Errorf("SpecText = %q", got)
	}
	if got := SpecText("\n# only state\n \n"); got != "" {
		t.Errorf("SpecText of state only = %q", got)
	}
}

func TestValidName(t *testing.T) {
	for name, ok := range map[string]bool{
		"hook": true, "web-1.power_x": true, "": false, ".hidden": false, "a.log": false,
		"a.status": false, "a.stderr": false, "a b": false, "a/b": false, "é": false, strings.Repeat("a", 201): false,
	} {
		if ValidName(name) != ok {
			t.Errorf("ValidName(%q) = %v", name, !ok)
		}
	}
}

// FuzzParse: a spec never panics the parser, and one it takes says what
// to watch and whom to tell, within the bounds of each key.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"paths=/a exec=logger \"$SMCTL_PATH\"", "paths=/a paths=@web/x every=30s for=2 webhook=http://h:8/x until=2026-12-31T00:00",
		"paths=/a\nwebhook=https://h/x", "exec=", "paths= exec=x", "# state\npaths=/a exec=x", "paths=/a for=0 exec=x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		s, err := Parse(SpecText(in))
		if err != nil {
			return
		}
		if len(s.Paths) == 0 || s.Exec == "" && s.Webhook == "" || s.For < 1 || s.For > 1000 || s.Every != 0 && s.Every < 100*time.Millisecond {
			t.Errorf("Parse(%q) = %+v", in, s)
		}
	})
}
