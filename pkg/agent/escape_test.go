package agent

import "testing"

func TestEscape(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"plain", "exit 1: no such file", "exit 1: no such file"},
		{"tab and newline kept", "a\tb\nc", "a\tb\nc"},
		{"utf-8 kept", "température 35 °C", "température 35 °C"},
		{"csi", "\x1b[2J\x1b[Hroot ok", `\x1b[2J\x1b[Hroot ok`},
		{"osc title", "\x1b]0;pwned\x07", `\x1b]0;pwned\x07`},
		{"carriage return", "ok\rFAILED", `ok\x0dFAILED`},
		{"del", "a\x7fb", `a\x7fb`},
		{"c1 csi as utf-8", "a\u009b2Jb", `a\xc2\x9b2Jb`},
		{"invalid byte", "a\x9bb", `a\x9bb`},
		{"nul", "a\x00b", `a\x00b`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Escape(tc.in); got != tc.want {
				t.Errorf("Escape(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}
