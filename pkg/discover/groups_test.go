package discover

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestImportGroups: import ansible keeps the inventory's groups as
// /groups/NAME (hosts folded, children as @CHILD), says so in its
// summary, replaces them when imported again, and creates /groups in a
// root made before it existed.
func TestImportGroups(t *testing.T) {
	ctx := context.Background()
	tr, d := newTree(t, "")
	inv := filepath.Join(t.TempDir(), "hosts.ini")
	write := func(body string) {
		t.Helper()
		if err := os.WriteFile(inv, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("[web]\nweb[1:3] ansible_host=127.0.0.1\n[db]\ndb1\n[prod:children]\nweb\ndb\n[empty]\n")
	// A root made before /groups existed.
	if err := os.RemoveAll(backing(tr, "/groups")); err != nil {
		t.Fatal(err)
	}
	lines, err := d.Discover(ctx, "import ansible "+inv, "")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"added 4 servers: db1,web[1-3]", "groups: db, empty, prod, web"}; !slices.Equal(lines, want) {
		t.Errorf("summary %q, want %q", lines, want)
	}
	head := "# from the Ansible inventory " + inv + " (import ansible); an import again replaces it\n"
	for name, want := range map[string]string{
		"web":   head + "web[1-3]\n",
		"db":    head + "db1\n",
		"prod":  head + "@db\n@web\n",
		"empty": head,
	} {
		got := readBacking(t, tr, "/groups/"+name)
		if got != want {
			t.Errorf("/groups/%s =\n%s\nwant\n%s", name, got, want)
		}
	}
	// Imported again, changed: the groups follow, others stay.
	if _, err := tr.Write(ctx, "/groups/mine", []byte("web1\n")); err != nil {
		t.Fatal(err)
	}
	write("[web]\nweb[1:2] ansible_host=127.0.0.1\n[prod:children]\nweb\n")
	lines, err = d.Discover(ctx, "import ansible "+inv, "")
	if err != nil {
		t.Fatal(err)
	}
	if want := "groups: prod, web"; !slices.Contains(lines, want) {
		t.Errorf("summary %q, want a line %q", lines, want)
	}
	for name, want := range map[string]string{
		"web":  head + "web[1-2]\n",
		"prod": head + "@web\n",
		"db":   head + "db1\n", // no longer in the inventory: left as it was
		"mine": "web1\n",
	} {
		if got := readBacking(t, tr, "/groups/"+name); got != want {
			t.Errorf("after the second import, /groups/%s =\n%s\nwant\n%s", name, got, want)
		}
	}
	// Other imports make no groups.
	hosts := filepath.Join(t.TempDir(), "hosts")
	if err := os.WriteFile(hosts, []byte("127.0.0.1 h1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	lines, err = d.Discover(ctx, "import hosts "+hosts, "")
	if err != nil || slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, "groups:") }) {
		t.Errorf("import hosts: %q, %v", lines, err)
	}
}

// A group name that cannot be a file name refuses the whole import before
// anything changes.
func TestImportGroupBadName(t *testing.T) {
	tr, d := newTree(t, "")
	inv := filepath.Join(t.TempDir(), "inv.yml")
	body := "all:\n  children:\n    web:\n      hosts: {w1: }\n    'a/b':\n      hosts: {w2: }\n"
	if err := os.WriteFile(inv, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := d.Discover(context.Background(), "import ansible "+inv, "")
	if err == nil || !strings.Contains(err.Error(), `line 1: import ansible: group name "a/b" cannot be a group's file name`) {
		t.Fatalf("import with group a/b: %v", err)
	}
	if got := readBacking(t, tr, "/systems/servers/w1/.type"); got != "<missing>" {
		t.Errorf("w1 made by a refused import")
	}
	if got := readBacking(t, tr, "/groups/web"); got != "<missing>" {
		t.Errorf("/groups/web written by a refused import: %q", got)
	}
}
