package agent

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// Escape makes a message from an agent or a node safe to show on a
// terminal or store in a status file: control characters other than tab
// and newline (escape sequences that would move the cursor, retitle the
// window or rewrite earlier lines), DEL, C1 controls and bytes that are not
// UTF-8 are written as \xNN. A message without any is returned as is.
func Escape(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 && c != '\t' && c != '\n' || c >= 0x7f {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			hex(&b, s[i])
		case r < 0x20 && r != '\t' && r != '\n', r == 0x7f:
			hex(&b, byte(r))
		case r >= 0x80 && r < 0xa0:
			for j := 0; j < size; j++ {
				hex(&b, s[i+j])
			}
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

func hex(b *strings.Builder, c byte) {
	b.WriteString(`\x`)
	if c < 0x10 {
		b.WriteByte('0')
	}
	b.WriteString(strconv.FormatUint(uint64(c), 16))
}
