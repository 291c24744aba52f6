package sshconf

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSplitArgs(t *testing.T) {
	tests := []struct {
		in   string
		want string // words joined by |
		err  bool
	}{
		{in: "a b\tc", want: "a|b|c"},
		{in: `"a b" 'c d'`, want: "a b|c d"},
		{in: `a\ b c`, want: "a b|c"},
		{in: "a # b", want: "a"},
		{in: "a#b", want: "a#b"},
		{in: `x"y z"`, want: "xy z"},
		{in: "", want: ""},
		{in: `"open`, err: true},
	}
	for _, tt := range tests {
		got, err := SplitArgs(tt.in)
		if (err != nil) != tt.err {
			t.Errorf("SplitArgs(%q) error %v", tt.in, err)
			continue
		}
		if !tt.err && strings.Join(got, "|") != tt.want {
			t.Errorf("SplitArgs(%q) = %q, want %q", tt.in, strings.Join(got, "|"), tt.want)
		}
	}
}

func TestIncludeFiles(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"b.conf", "a.conf", "c.txt", "sub/x.conf"} {
		p := filepath.Join(dir, f)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, nil, 0o600)
	}
	main := filepath.Join(dir, "config")
	got, err := IncludeFiles(main, 3, "*.conf", []string{main})
	if err != nil || strings.Join(got, ",") != filepath.Join(dir, "a.conf")+","+filepath.Join(dir, "b.conf") {
		t.Errorf("relative glob: %v, %v", got, err)
	}
	if got, err := IncludeFiles(filepath.Join(dir, "sub", "inc"), 1, "x.conf", nil); err != nil || len(got) != 1 || got[0] != filepath.Join(dir, "sub", "x.conf") {
		t.Errorf("relative to the including file: %v, %v", got, err)
	}
	if got, err := IncludeFiles(main, 1, "none*", []string{main}); err != nil || len(got) != 0 {
		t.Errorf("no match: %v, %v", got, err)
	}
	if _, err := IncludeFiles(main, 1, "a.conf", []string{main, filepath.Join(dir, "a.conf")}); err == nil || !strings.HasPrefix(err.Error(), "Include loop: "+main+" includes ") {
		t.Errorf("loop: %v", err)
	}
	deep := make([]string, MaxIncludeDepth+1)
	for i := range deep {
		deep[i] = filepath.Join(dir, "d", string(rune('a'+i)))
	}
	if _, err := IncludeFiles(main, 1, "a.conf", deep); err == nil || !strings.Contains(err.Error(), "nested more than 16 deep") {
		t.Errorf("depth: %v", err)
	}
	if _, err := IncludeFiles(main, 1, "a.conf", deep[:MaxIncludeDepth]); err != nil {
		t.Errorf("depth 16: %v", err)
	}
	t.Setenv("HOME", dir)
	if got, err := IncludeFiles("/elsewhere/config", 1, "~/b.conf", nil); err != nil || len(got) != 1 || got[0] != filepath.Join(dir, "b.conf") {
		t.Errorf("~/: %v, %v", got, err)
	}
}
