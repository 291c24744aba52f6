package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"

	"github.com/smctl/smctl/internal/cli"
	"github.com/smctl/smctl/internal/testpriv"
)

// verbs lists the commands that get a page: every available command of
// the tree, as "smctl-cat", "smctl-completion-bash".
func verbs(c *cobra.Command) []string {
	out := []string{strings.ReplaceAll(c.CommandPath(), " ", "-")}
	for _, sub := range c.Commands() {
		if sub.IsAvailableCommand() && !sub.IsAdditionalHelpTopicCommand() {
			out = append(out, verbs(sub)...)
		}
	}
	return out
}

// TestGenerate generates the pages and checks that every verb of the
// command tree, and nothing else, has one, with the sections of a man
// page and a description of its own (its Long text, not its Short again).
func TestGenerate(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("SOURCE_DATE_EPOCH", "1795000000") // Nov 2026
	if err := generate(dir); err != nil {
		t.Fatal(err)
	}
	root := cli.NewRootCmd(cli.System())
	want := verbs(root)
	for _, v := range []string{"smctl", "smctl-cat", "smctl-write", "smctl-doctor", "smctl-version", "smctl-completion-bash"} {
		if !slices.Contains(want, v) {
			t.Errorf("the command tree has no %s: the test's list of commands is wrong", v)
		}
	}
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, de := range des {
		got = append(got, strings.TrimSuffix(de.Name(), ".1"))
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("pages %v\nwant %v", got, want)
	}
	for _, v := range want {
		t.Run(v, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(dir, v+".1"))
			if err != nil {
				t.Fatal(err)
			}
			page := string(b)
			if !strings.Contains(page, "\n.TH \""+strings.ToUpper(v)+`" "1" "Nov 2026" "smctl `) {
				t.Errorf("header: %.80q", page)
			}
			for _, sec := range []string{"NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS"} {
				if !strings.Contains(page, "\n.SH "+sec+"\n") {
					t.Errorf("no %s section", sec)
				}
			}
			c, _, err := root.Find(strings.Split(v, "-")[1:])
			if err != nil {
				t.Fatal(err)
			}
			if c.Long == "" {
				t.Errorf("smctl %s has no Long text: its page's DESCRIPTION would repeat its NAME", c.Name())
			}
			if strings.Contains(page, "Auto generated") {
				t.Error("cobra's auto-generated tag is on the page")
			}
		})
	}
}

func TestManText(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain words", "plain words"},
		{"a_b *c* [x](y) <t> `q` \\", "a\\_b \\*c\\* \\[x\\](y) \\<t\\> \\`q\\` \\\\"},
		{"-R lists\n# not a heading\n1. not a list\n+ no", "\\-R lists\n\\# not a heading\n\\1. not a list\n\\+ no"},
		{"Usage:\n  a    b\n  cc   d\nafter", "Usage:\n\n      a    b\n      cc   d\n\nafter"},
		{"text  \n\n  code\n\ntext", "text\n\n      code\n\ntext"},
	} {
		if got := manText(tc.in); got != tc.want {
			t.Errorf("manText(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestRendered renders a page of a command whose help holds markdown's
// markup characters and an indented table: they read as in --help.
func TestRendered(t *testing.T) {
	c := &cobra.Command{
		Use:   "x",
		Short: "do_it *now*",
		Long:  "Reads $XDG_DATA_HOME/smctl and agents.d/<type>/*.read:\n\n  a   first\n  bb  second\n-R recurses.",
		Run:   func(*cobra.Command, []string) {},
	}
	plainText(c)
	c.DisableAutoGenTag = true
	var buf bytes.Buffer
	if err := doc.GenMan(c, &doc.GenManHeader{}, &buf); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	for _, want := range []string{`do_it *now*`, `$XDG_DATA_HOME/smctl`, `agents.d/<type>/*`, "\n.EX\n  a   first\n  bb  second\n.EE\n", "\n-R recurses."} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q:\n%s", want, page)
		}
	}
	if strings.Contains(page, `\fI`) || strings.Contains(page, `\fB`+"now") {
		t.Errorf("markup characters became emphasis:\n%s", page)
	}
}

// TestMakeInstall runs make install into a temporary PREFIX, and with a
// DESTDIR, and lists what it installed: the binary, a man page for every
// verb, the three completions, the systemd unit of smctl serve, each with
// its mode.
func TestMakeInstall(t *testing.T) {
	if testing.Short() {
		t.Skip("builds smctl")
	}
	if _, err := exec.LookPath("make"); err != nil {
		testpriv.Need(t, "make")
	}
	repo, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	build := t.TempDir() // the binary and the pages, outside the work tree
	bin := filepath.Join(build, "smctl")
	for _, tc := range []struct{ name, destdir, prefix string }{
		{"prefix", "", filepath.Join(t.TempDir(), "usr")},
		{"destdir", t.TempDir(), "/usr/local"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command("make", "-C", repo, "install", "PREFIX="+tc.prefix, "DESTDIR="+tc.destdir,
				"BIN="+bin, "MAN_OUT="+filepath.Join(build, "man"))
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("make install: %v\n%s", err, out)
			}
			top := tc.destdir + tc.prefix
			got := map[string]os.FileMode{}
			err := filepath.WalkDir(top, func(p string, d os.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				fi, err := d.Info()
				if err != nil {
					return err
				}
				rel, _ := filepath.Rel(top, p)
				got[rel] = fi.Mode().Perm()
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]os.FileMode{
				"bin/smctl": 0o755,
				"share/bash-completion/completions/smctl":    0o644,
				"share/zsh/site-functions/_smctl":            0o644,
				"share/fish/vendor_completions.d/smctl.fish": 0o644,
				"lib/systemd/user/smctl-serve.service":       0o644,
			}
			for _, v := range verbs(cli.NewRootCmd(cli.System())) {
				want["share/man/man1/"+v+".1"] = 0o644
			}
			for f, m := range want {
				if gm, ok := got[f]; !ok {
					t.Errorf("%s not installed", f)
				} else if gm != m {
					t.Errorf("%s installed with mode %04o, want %04o", f, gm, m)
				}
			}
			for f := range got {
				if _, ok := want[f]; !ok {
					t.Errorf("%s installed, not expected", f)
				}
			}
			if b, err := os.ReadFile(filepath.Join(top, "share/zsh/site-functions/_smctl")); err != nil || !strings.HasPrefix(string(b), "#compdef smctl") {
				t.Errorf("the zsh completion does not start with #compdef smctl: %.40q %v", b, err)
			}
			// The unit starts the smctl installed, wherever that is.
			if b, err := os.ReadFile(filepath.Join(top, "lib/systemd/user/smctl-serve.service")); err != nil ||
				!strings.Contains(string(b), "\nExecStart="+filepath.Join(tc.prefix, "bin/smctl")+" serve\n") {
				t.Errorf("the systemd unit's ExecStart: %v\n%s", err, b)
			}
			out, err := exec.Command(filepath.Join(top, "bin/smctl"), "--version").Output()
			if err != nil || !strings.HasPrefix(string(out), "smctl ") {
				t.Errorf("installed smctl --version: %q %v", out, err)
			}
		})
	}
}
