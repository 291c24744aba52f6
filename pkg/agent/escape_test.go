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
		// Strings of nothing but what must be escaped.
		{"escape alone", "\x1b", `\x1b`},
		{"carriage return alone", "\r", `\x0d`},
		{"del alone", "\x7f", `\x7f`},
		{"c1 alone", "\u009b", `\xc2\x9b`},
		{"invalid byte alone", "\xff", `\xff`},
		// Two hex digits, whatever the byte.
		{"0x0f", "a\x0f", `a\x0f`},
		{"0x10", "a\x10", `a\x10`},
		{"0x1f", "a\x1f", `a\x1f`},
		// The bounds of what is kept.
		{"space and tilde", " ~", " ~"},
		{"tabs and newlines only", "\t\n\t", "\t\n\t"},
		{"first after C1", "\u00a0x", "\u00a0x"},
		{"last C1", "\u009f", `\xc2\x9f`},
		{"first C1", "\u0080", `\xc2\x80`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Escape(tc.in); got != tc.want {
				t.Errorf("Escape(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// A message with nothing to escape is returned as is, not copied: Escape
// runs on every status line and message smctl prints.
func TestEscapeCleanIsNotCopied(t *testing.T) {
	for _, s := range []string{"exit 1: no such file", "a b\tc\nd ~", " ", "\t\n"} {
		t.Run(s, func(t *testing.T) {
			var got string
			if allocs := testing.AllocsPerRun(10, func() { got = Escape(s) }); allocs != 0 || got != s {
				t.Errorf("Escape(%q) = %q with %.0f allocations, want it returned as is", s, got, allocs)
			}
		})
	}
}
