package inventory

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/smctl/smctl/pkg/trust"
)

func write(t *testing.T, body string) string {
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// testdata copies testdata/dir to a temporary directory with mode 0644,
// whatever the umask of the checkout, so that the files are trusted.
func testdata(t *testing.T, dir string) string {
	t.Helper()
	dst := t.TempDir()
	src := filepath.Join("testdata", dir)
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		to := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(to, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.WriteFile(to, b, 0o644); err != nil {
			return err
		}
		return os.Chmod(to, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func names(hs []Host) []string {
	var out []string
	for _, h := range hs {
		out = append(out, h.Name)
	}
	return out
}

func TestSSHConfig(t *testing.T) {
	hs, err := SSHConfig(write(t, "Host a b\n  Port 2\nHost web*\n  User x\nHost !c d\nHost *\n  User y\nHost=e\nHost = \"f\" # g\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := names(hs); !reflect.DeepEqual(got, []string{"a", "b", "d", "e", "f"}) {
		t.Errorf("SSHConfig = %q", got)
	}
}

func TestSSHConfigInclude(t *testing.T) {
	dir := testdata(t, "ssh")
	home := t.TempDir()
	t.Setenv("HOME", home)
	if err := os.WriteFile(filepath.Join(home, "inc"), []byte("Host fromhome\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A chain of files each including the next: f0 (the one read) ... fN.
	chain := func(n int) string {
		d := t.TempDir()
		for i := 0; i <= n; i++ {
			body := ""
			if i < n {
				body = fmt.Sprintf("Include f%d\n", i+1)
			}
			body = fmt.Sprintf("Host h%d\nHost *\n", i) + body
			if err := os.WriteFile(filepath.Join(d, fmt.Sprintf("f%d", i)), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return filepath.Join(d, "f0")
	}
	for _, tc := range []struct {
		name, file string
		want       []string
		err        []string // substrings of the error
	}{
		{name: "glob, relative to the file, nested, in file order", file: filepath.Join(dir, "config"),
			want: []string{"first", "web1", "web2", "db1", "last", "deep1"}},
		{name: "Include in a Host block", file: filepath.Join(dir, "cond", "config"), want: []string{"web1", "m1", "x1", "db9"}},
		{name: "included alone", file: filepath.Join(dir, "sub", "nested"), want: []string{"deep1"}},
		{name: "home", file: write(t, "Host a\nHost *\nInclude ~/inc\nHost b\n"), want: []string{"a", "fromhome", "b"}},
		{name: "absolute", file: write(t, "Include "+filepath.Join(dir, "sub", "deeper")+"\n"), want: []string{"deep1"}},
		{name: "loop", file: filepath.Join(dir, "loop", "a"),
			err: []string{"Include loop", filepath.Join(dir, "loop", "a") + " includes " + filepath.Join(dir, "loop", "b") + " includes " + filepath.Join(dir, "loop", "a")}},
		{name: "self", file: filepath.Join(dir, "loop", "b"), err: []string{"Include loop", filepath.Join(dir, "loop", "b")}},
		{name: "16 deep", file: chain(16), want: func() []string {
			var w []string
			for i := 0; i <= 16; i++ {
				w = append(w, fmt.Sprintf("h%d", i))
			}
			return w
		}()},
		{name: "17 deep", file: chain(17), err: []string{"nested more than 16 deep", "f16 includes ", "f17"}},
		{name: "no argument", file: write(t, "Include\n"), err: []string{":1: Include needs a file"}},
		{name: "bad quote", file: write(t, "Host \"a\n"), err: []string{":1: unterminated quote"}},
		{name: "missing main file", file: filepath.Join(dir, "nope"), err: []string{"no such file"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hs, err := SSHConfig(tc.file)
			if tc.err != nil {
				if err == nil {
					t.Fatalf("no error, hosts %q", names(hs))
				}
				for _, s := range tc.err {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not say %q", err, s)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := names(hs); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("SSHConfig = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestSSHConfigTrust: an included file must be as trusted as the file
// including it (package sshx refuses an ssh_config others may change).
func TestSSHConfigTrust(t *testing.T) {
	dir := t.TempDir()
	main := filepath.Join(dir, "config")
	inc := filepath.Join(dir, "inc")
	if err := os.WriteFile(main, []byte("Host a\nInclude inc\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(inc, []byte("Host b\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(inc, 0o666); err != nil {
		t.Fatal(err)
	}
	_, err := SSHConfig(main)
	if !errors.Is(err, trust.ErrUntrusted) || !strings.Contains(err.Error(), inc) || !strings.Contains(err.Error(), main+" includes ") {
		t.Errorf("untrusted include: err = %v", err)
	}
	if err := os.Chmod(inc, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(main, 0o620); err != nil {
		t.Fatal(err)
	}
	if _, err := SSHConfig(main); !errors.Is(err, trust.ErrUntrusted) {
		t.Errorf("untrusted main file: err = %v", err)
	}
}

func TestSSHMatch(t *testing.T) {
	for _, tc := range []struct {
		patterns []string
		name     string
		want     bool
	}{
		{[]string{"*"}, "a", true},
		{[]string{"web*"}, "web1", true},
		{[]string{"web*"}, "db1", false},
		{[]string{"web?"}, "web", false},
		{[]string{"web?"}, "web12", false},
		{[]string{"web?"}, "web1", true},
		{[]string{"web*", "!web9"}, "web9", false},
		{[]string{"!web9", "db*"}, "db1", true},
		{[]string{"!web9"}, "db1", false},
		{[]string{"a[1]"}, "a[1]", true},
		{[]string{"a[1]"}, "a1", false},
	} {
		if got := sshMatch(tc.patterns, tc.name); got != tc.want {
			t.Errorf("sshMatch(%q, %q) = %v", tc.patterns, tc.name, got)
		}
	}
}

func TestSSHLine(t *testing.T) {
	for in, want := range map[string][]string{
		"":                        nil,
		"  # comment":             nil,
		"Host a b":                {"Host", "a", "b"},
		"\tHost=a":                {"Host", "a"},
		"Include = 'x y' z # c":   {"Include", "x y", "z"},
		`Include "a b"c\ d`:       {"Include", "a bc d"},
		"HostName":                {"HostName"},
		"Port 22 #comment":        {"Port", "22"},
		"ProxyCommand a#b":        {"ProxyCommand", "a#b"},
		"Host\t a\t\tb   ":        {"Host", "a", "b"},
		`IdentityFile "~/.ssh/k"`: {"IdentityFile", "~/.ssh/k"},
	} {
		key, args, err := sshLine(in)
		if err != nil {
			t.Errorf("sshLine(%q): %v", in, err)
			continue
		}
		var got []string
		if key != "" {
			got = append([]string{key}, args...)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("sshLine(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestHosts(t *testing.T) {
	hs, err := Hosts(write(t, "127.0.0.1 localhost\n::1 ip6-localhost ip6-loopback\n10.0.0.5 node5 node5.lab # comment\n10.0.0.6\tnode6\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(hs) != 2 || !reflect.DeepEqual(hs[0], Host{Name: "node5", Address: "10.0.0.5"}) || hs[1].Name != "node6" {
		t.Errorf("Hosts = %+v", hs)
	}
	if _, err := Hosts(write(t, "garbage\n")); err == nil {
		t.Error("bad hosts line accepted")
	}
}

// groupsWant is what testdata/ansible/groups.{ini,yml} both give.
var groupsWant = []Host{
	{Name: "solo", Address: "10.0.0.1", User: "root"},
	// In web and db (both under prod, db under staging too): web's vars
	// win over db's (same depth, later name), but db's
	// ansible_ssh_user wins over ansible_user.
	{Name: "web01.lab", Port: 2200, User: "dba", Groups: []string{"db", "prod", "staging", "web"}},
	// The host's own var wins over its group's.
	{Name: "web02.lab", Port: 2202, User: "deploy", Groups: []string{"prod", "web"}},
	// web's vars win over its parent prod's.
	{Name: "web03.lab", Port: 2200, User: "deploy", Groups: []string{"prod", "web"}},
	// prod's port reaches the hosts of its child db.
	{Name: "db1", Address: "10.0.0.9", Port: 22, User: "dba", Groups: []string{"db", "prod", "staging"}},
	{Name: "db2", Port: 2223, User: "dba", Groups: []string{"db", "prod", "staging"}},
}

func TestAnsible(t *testing.T) {
	dir := testdata(t, "ansible")
	for _, tc := range []struct {
		name, file string
		want       []Host
		err        string
	}{
		{name: "INI groups", file: filepath.Join(dir, "groups.ini"), want: groupsWant},
		{name: "YAML groups", file: filepath.Join(dir, "groups.yml"), want: groupsWant},
		{name: "INI", file: write(t, `# inventory
[web]
web[01:03].lab ansible_user=deploy
db1 ansible_host=10.0.0.9 ansible_port=2222

[web:vars]
http_port=80

[all:children]
web
`), want: []Host{
			{Name: "web01.lab", User: "deploy", Groups: []string{"web"}},
			{Name: "web02.lab", User: "deploy", Groups: []string{"web"}},
			{Name: "web03.lab", User: "deploy", Groups: []string{"web"}},
			{Name: "db1", Address: "10.0.0.9", Port: 2222, Groups: []string{"web"}},
		}},
		{name: "YAML", file: write(t, `all:
  hosts:
    mail.example.com:
  children:
    web:
      hosts:
        w[1:2]:
          ansible_port: 2200
    db:
      hosts:
        db1:
          ansible_host: 127.0.0.5
`), want: []Host{
			{Name: "mail.example.com"},
			{Name: "w1", Port: 2200, Groups: []string{"web"}},
			{Name: "w2", Port: 2200, Groups: []string{"web"}},
			{Name: "db1", Address: "127.0.0.5", Groups: []string{"db"}},
		}},
		{name: "host named twice merges", file: write(t, "[a]\nh ansible_port=1 ansible_user=u\n[b]\nh ansible_port=2\n"),
			want: []Host{{Name: "h", Port: 2, User: "u", Groups: []string{"a", "b"}}}},
		{name: "group priority", file: write(t, "[a]\nh\n[b]\nh\n[a:vars]\nansible_group_priority=10\nansible_user=ua\n[b:vars]\nansible_user=ub\n"),
			want: []Host{{Name: "h", User: "ua", Groups: []string{"a", "b"}}}},
		{name: "name order without priority", file: write(t, "[a]\nh\n[b]\nh\n[a:vars]\nansible_user=ua\n[b:vars]\nansible_user=ub\n"),
			want: []Host{{Name: "h", User: "ub", Groups: []string{"a", "b"}}}},
		{name: "deeper group wins whatever its name", file: write(t, "[z]\nh\n[a]\nh\n[p:children]\na\n[z:vars]\nansible_port=9\n[a:vars]\nansible_port=8\n"),
			want: []Host{{Name: "h", Port: 8, Groups: []string{"a", "p", "z"}}}},
		{name: "ungrouped vars", file: write(t, "h\n[g]\nk\n[ungrouped:vars]\nansible_user=u\n"),
			want: []Host{{Name: "h", User: "u"}, {Name: "k", Groups: []string{"g"}}}},
		{name: "old names", file: write(t, "h ansible_ssh_host=1.2.3.4 ansible_ssh_port=23 ansible_ssh_user=old ansible_user=new\n"),
			want: []Host{{Name: "h", Address: "1.2.3.4", Port: 23, User: "old"}}},
		{name: "quoted", file: write(t, "[g]\nh ansible_user='x'\n[g:vars]\nansible_host = \"10.0.0.1\"\n"),
			want: []Host{{Name: "h", Address: "10.0.0.1", User: "x", Groups: []string{"g"}}}},
		{name: "shell words", file: write(t, "h ansible_user=\"a b\" ansible_host='x y' # ansible_port=1\n"),
			want: []Host{{Name: "h", Address: "x y", User: "a b"}}},
		{name: "INI empty host", file: write(t, "'' a=b\n"), err: "line 1: want a host"},
		{name: "range with port", file: write(t, "n[1:2].lab:2022\n"),
			want: []Host{{Name: "n1.lab", Port: 2022}, {Name: "n2.lab", Port: 2022}}},
		{name: "YAML children in several places", file: write(t, "all:\n  children:\n    a:\n      vars: {ansible_user: ua}\n      children:\n        c:\n    b:\n      children:\n        c:\n          hosts: {h: }\n"),
			want: []Host{{Name: "h", User: "ua", Groups: []string{"a", "b", "c"}}}},
		{name: "INI bad group port", file: write(t, "[g]\nh\n[g:vars]\nansible_port=x\n"), err: `line 4: bad ansible_port "x"`},
		{name: "INI bad host port", file: write(t, "h ansible_port=70000\n"), err: `line 1: host h: bad ansible_port "70000"`},
		{name: "INI bad section", file: write(t, "[g:hosts]\nh\n"), err: "line 1: section [g:hosts]: want :vars or :children"},
		{name: "INI loop", file: write(t, "[a:children]\nb\n[b:children]\na\n[a]\nh\n"), err: "its own ancestor"},
		{name: "INI own child", file: write(t, "[a:children]\na\n"), err: "line 2: group a cannot be its own child"},
		{name: "INI bad vars line", file: write(t, "[a:vars]\nx\n"), err: `line 2: "x": want key=value`},
		{name: "YAML bad group port", file: write(t, "all:\n  vars:\n    ansible_port: x\n"), err: `group all: vars: bad ansible_port "x"`},
		{name: "YAML hosts a list", file: write(t, "all:\n  hosts: [a, b]\n"), err: "line 2: group all: hosts: want a mapping"},
		{name: "YAML loop", file: write(t, "all:\n  children:\n    a:\n      children:\n        b:\n          children:\n            a:\n"), err: "its own ancestor"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hs, err := Ansible(tc.file)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q; hosts %+v", err, tc.err, hs)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(hs, tc.want) {
				t.Errorf("Ansible =\n%+v\nwant\n%+v", hs, tc.want)
			}
		})
	}
}
