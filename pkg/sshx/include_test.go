package sshx

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smctl/smctl/pkg/trust"
)

// TestInclude checks that Include is followed as OpenSSH follows it: from
// the including file's directory, globs in sorted order, under the Host
// or Match block holding it, every file judged, loops and depth refused.
func TestInclude(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)

	deep := map[string]string{"main/config": "Include d1\n"}
	for i := 1; i <= 17; i++ {
		deep[fmt.Sprintf("main/d%d", i)] = fmt.Sprintf("Include d%d\n", i+1)
	}
	deep["main/d18"] = "Port 18\n"

	type lookup struct {
		alias    string
		hostName string
		port     int
		user     string
	}
	tests := []struct {
		name    string
		files   map[string]string // relative to a temporary directory; main/config is read
		setup   func(dir string)  // after writing the files
		want    []lookup
		wantErr []string // substrings of the error, "$DIR" the directory
	}{
		{
			name: "settings from an included file",
			files: map[string]string{
				"main/config":   "Include inc.conf\nHost *\n  User last\n",
				"main/inc.conf": "Host h1\n  HostName 10.0.0.1\n  Port 2201\n  User alice\n",
			},
			want: []lookup{{"h1", "10.0.0.1", 2201, "alice"}, {"h2", "h2", 22, "last"}},
		},
		{
			name: "lines after a top-level include apply to every host",
			files: map[string]string{
				"main/config":   "Include inc.conf\nUser everyone\n",
				"main/inc.conf": "Host other\n  Port 2\n",
			},
			want: []lookup{{"h1", "h1", 22, "everyone"}, {"other", "other", 2, "everyone"}},
		},
		{
			name: "keyword forms",
			files: map[string]string{
				"main/config":   "include=a.conf\n  INCLUDE = b.conf # comment\nInclude \"c d.conf\"\n",
				"main/a.conf":   "Host h1\n  Port 1001\n",
				"main/b.conf":   "Host h1\n  User bob\n",
				"main/c d.conf": "Host h1\n  HostName spaced\n",
			},
			want: []lookup{{"h1", "spaced", 1001, "bob"}},
		},
		{
			name: "first value wins across the include",
			files: map[string]string{
				"main/config":   "Host h1\n  Port 1\nInclude inc.conf\nHost h1\n  User late\n",
				"main/inc.conf": "Host h1\n  Port 2\n  User early\n",
			},
			want: []lookup{{"h1", "h1", 1, "early"}},
		},
		{
			name: "relative to the including file's directory",
			files: map[string]string{
				"main/config":         "Include ../other/inc.conf\n",
				"other/inc.conf":      "Include sub/more.conf\n",
				"other/sub/more.conf": "Host h1\n  HostName from-other\n  Port 2202\n",
				// Not these: relative to the first file, or to ~/.ssh.
				"main/sub/more.conf": "Host h1\n  HostName wrong\n",
			},
			setup: func(dir string) {
				os.MkdirAll(filepath.Join(home, ".ssh", "sub"), 0o700)
				os.WriteFile(filepath.Join(home, ".ssh", "sub", "more.conf"), []byte("Host h1\n  HostName wrong-home\n"), 0o600)
			},
			want: []lookup{{"h1", "from-other", 2202, ""}},
		},
		{
			name: "home directory",
			files: map[string]string{
				"main/config": "Include ~/.ssh/inc-home.conf\n",
			},
			setup: func(dir string) {
				os.MkdirAll(filepath.Join(home, ".ssh"), 0o700)
				os.WriteFile(filepath.Join(home, ".ssh", "inc-home.conf"), []byte("Host h1\n  Port 2203\n"), 0o600)
			},
			want: []lookup{{"h1", "h1", 2203, ""}},
		},
		{
			name: "glob in sorted order",
			files: map[string]string{
				"main/config":           "Include conf.d/*.conf nothing-*.conf\n",
				"main/conf.d/20-b.conf": "Host h1\n  Port 20\n  User b\n",
				"main/conf.d/10-a.conf": "Host h1\n  Port 10\n",
				"main/conf.d/30-c.conf": "Host h1\n  User c\n  HostName c\n",
				"main/conf.d/skip.txt":  "Host h1\n  HostName skipped\n",
			},
			want: []lookup{{"h1", "c", 10, "b"}},
		},
		{
			name: "question mark is one character",
			files: map[string]string{
				"main/config":   "Include x?.conf\n",
				"main/x1.conf":  "Host h1\n  Port 11\n",
				"main/x.conf":   "Host h1\n  Port 1\n",
				"main/x12.conf": "Host h1\n  Port 12\n",
			},
			want: []lookup{{"h1", "h1", 11, ""}},
		},
		{
			name: "include inside a Host block",
			files: map[string]string{
				"main/config":   "Host a\n  Include inc.conf\n  User after\nHost *\n  Port 9\n",
				"main/inc.conf": "HostName top-of-inc\nHost a\n  Port 3\nHost b\n  Port 2\n",
			},
			want: []lookup{{"a", "top-of-inc", 3, "after"}, {"b", "b", 9, ""}},
		},
		{
			name: "include inside a Host block, nested",
			files: map[string]string{
				"main/config":     "Host a* b*\n  Include inc.conf\n",
				"main/inc.conf":   "Host *1\n  Include inner.conf\n  User one\n",
				"main/inner.conf": "Port 7\n",
			},
			want: []lookup{{"a1", "a1", 7, "one"}, {"b1", "b1", 7, "one"}, {"a2", "a2", 22, ""}, {"c1", "c1", 22, ""}},
		},
		{
			name: "include inside a Match block",
			files: map[string]string{
				"main/config":   "Match host a\n  Include inc.conf\n  User after\nMatch all\n  Port 9\n",
				"main/inc.conf": "HostName top-of-inc\n",
			},
			want: []lookup{{"a", "top-of-inc", 9, "after"}, {"b", "b", 9, ""}},
		},
		{
			name: "group-writable included file",
			files: map[string]string{
				"main/config":   "Include inc.conf\n",
				"main/inc.conf": "Host *\n  HostName evil\n",
			},
			setup:   func(dir string) { os.Chmod(filepath.Join(dir, "main/inc.conf"), 0o620) },
			wantErr: []string{"$DIR/main/config includes $DIR/main/inc.conf: untrusted file $DIR/main/inc.conf", "writable by group"},
		},
		{
			name: "included file owned by another user",
			files: map[string]string{
				"main/config":      "Host nothing-matches\n  Include conf.d/*\n",
				"main/conf.d/ok":   "Port 1\n",
				"main/conf.d/evil": "Host *\n  HostName evil\n",
			},
			setup:   func(dir string) { os.Chown(filepath.Join(dir, "main/conf.d/evil"), 65534, 65534) },
			wantErr: []string{"untrusted file $DIR/main/conf.d/evil", "owned by another user"},
		},
		{
			name: "untrusted file deeper",
			files: map[string]string{
				"main/config": "Include a.conf\n",
				"main/a.conf": "Include b.conf\n",
				"main/b.conf": "Port 1\n",
			},
			setup:   func(dir string) { os.Chmod(filepath.Join(dir, "main/b.conf"), 0o602) },
			wantErr: []string{"$DIR/main/config includes $DIR/main/a.conf includes $DIR/main/b.conf: untrusted file $DIR/main/b.conf", "writable by others"},
		},
		{
			name: "loop",
			files: map[string]string{
				"main/config": "Include a.conf\n",
				"main/a.conf": "Include b.conf\n",
				"main/b.conf": "Include a.conf\n",
			},
			wantErr: []string{"Include loop: $DIR/main/config includes $DIR/main/a.conf includes $DIR/main/b.conf includes $DIR/main/a.conf"},
		},
		{
			name:    "self",
			files:   map[string]string{"main/config": "Include config\n"},
			wantErr: []string{"Include loop: $DIR/main/config includes $DIR/main/config"},
		},
		{
			name:    "too deep",
			files:   deep,
			wantErr: []string{"Include nested more than 16 deep: $DIR/main/config includes $DIR/main/d1 includes", "d16 includes $DIR/main/d17"},
		},
		{
			name: "16 deep is fine",
			files: func() map[string]string {
				m := map[string]string{}
				for k, v := range deep {
					m[k] = v
				}
				m["main/d16"] = "Port 16\n"
				return m
			}(),
			want: []lookup{{"h1", "h1", 16, ""}},
		},
		{
			name:    "no argument",
			files:   map[string]string{"main/config": "Include\n"},
			wantErr: []string{"$DIR/main/config:1: Include needs a file"},
		},
		{
			name:    "unterminated quote",
			files:   map[string]string{"main/config": "Host h1\n  Include \"a.conf\n"},
			wantErr: []string{"$DIR/main/config:2: unterminated quote"},
		},
		{
			name:    "carriage return inside a line",
			files:   map[string]string{"main/config": "Port 1\rInclude /etc/passwd\n"},
			wantErr: []string{"$DIR/main/config:1: carriage return inside a line"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, text := range tc.files {
				p := filepath.Join(dir, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if tc.setup != nil {
				tc.setup(dir)
			}
			if strings.Contains(tc.name, "another user") && os.Geteuid() != 0 {
				t.Skip("needs root to give a file to another user")
			}
			p := NewPool(Options{ConfigFiles: []string{filepath.Join(dir, "main/config")}})
			defer p.Close()
			if tc.wantErr != nil {
				s, err := p.Settings(Target{Alias: "h1"})
				if err == nil {
					t.Fatalf("Settings = %+v; want an error", s)
				}
				for _, w := range tc.wantErr {
					if w = strings.ReplaceAll(w, "$DIR", dir); !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not say %q", err, w)
					}
				}
				if strings.Contains(tc.name, "untrusted") || strings.Contains(tc.name, "another user") || strings.Contains(tc.name, "writable") {
					if !errors.Is(err, trust.ErrUntrusted) {
						t.Errorf("error does not wrap trust.ErrUntrusted: %v", err)
					}
				}
				return
			}
			for _, w := range tc.want {
				s, err := p.Settings(Target{Alias: w.alias, FallbackUser: "-"})
				if err != nil {
					t.Fatalf("%s: %v", w.alias, err)
				}
				user := s.User
				if !s.userSet {
					user = ""
				}
				if s.HostName != w.hostName || s.Port != w.port || user != w.user {
					t.Errorf("%s: HostName %q Port %d User %q; want %q %d %q", w.alias, s.HostName, s.Port, user, w.hostName, w.port, w.user)
				}
			}
		})
	}
}

// TestIncludeNeverReachesLibrary checks that package ssh_config is handed
// no Include line: its blocks hold no Include node.
func TestIncludeNeverReachesLibrary(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "config"), []byte("Host a\n  Include inc\nInclude inc\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "inc"), []byte("Port 1\n"), 0o600)
	c, err := readConfig(filepath.Join(dir, "config"))
	if err != nil {
		t.Fatal(err)
	}
	if s := c.cfg.String(); strings.Contains(strings.ToLower(s), "include") {
		t.Errorf("the library was given an Include:\n%s", s)
	}
}
