package vfs

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/smctl/smctl/internal/testpriv"
	"github.com/smctl/smctl/internal/testroot"
	"github.com/smctl/smctl/pkg/discover"
	"github.com/smctl/smctl/pkg/status"
)

// A group decides which nodes a command runs on, so its file is read with
// the trust check of device attributes (OpenSSH's StrictModes). The rules
// are about owners, which root alone cannot tell apart from itself:
// TestGroupsUnpriv plants group files as root in a state root of
// nobody's, then runs itself as nobody:nogroup to read them.

// groupsUnprivEnv marks the copy run as nobody; its value is the shared
// directory holding the state roots "root" (its /groups as smctl init
// makes it) and "open" (its /groups writable by others, not sticky).
const groupsUnprivEnv = "SMCTL_VFS_GROUPS_UNPRIV_CHILD"

// unprivGroups are the group files planted in root's /groups: owner uid,
// mode, and content.
var unprivGroups = []struct {
	name string
	uid  int // -1: nobody
	mode os.FileMode
	body string
}{
	{"ok", -1, 0o644, "localhost\n"},
	{"byroot", 0, 0o644, "localhost\n"},
	{"stranger", 4242, 0o644, "localhost\n"},
	{"groupw", -1, 0o664, "localhost\n"},
	{"otherw", -1, 0o646, "localhost\n"},
	{"via", -1, 0o644, "@ok\n@stranger\n"},
}

func TestGroupsUnpriv(t *testing.T) {
	if shared, ok := testpriv.Child(t, groupsUnprivEnv); ok {
		groupsUnpriv(t, shared)
		return
	}
	if os.Geteuid() != 0 {
		testpriv.Need(t, "root (to plant other users' group files and run the test binary as uid 65534)")
	}
	shared := testpriv.SharedDir(t)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"root", "open"} {
		dir := filepath.Join(shared, name)
		must(os.Rename(testroot.Init(t, discover.New, testroot.Options{}), dir))
		tr, _ := testroot.Open(t, dir, discover.New, testroot.Options{})
		groups := filepath.Join(tr.BackingDir(), "groups")
		must(tr.Close())
		// The state root is nobody's, as a user's own.
		must(filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			return os.Lchown(p, testpriv.Nobody, testpriv.Nobody)
		}))
		if name == "open" {
			must(os.WriteFile(filepath.Join(groups, "ok"), []byte("localhost\n"), 0o644))
			must(os.Chown(filepath.Join(groups, "ok"), testpriv.Nobody, testpriv.Nobody))
			must(os.Chmod(groups, 0o777)) // anyone may replace a group
			continue
		}
		for _, g := range unprivGroups {
			p := filepath.Join(groups, g.name)
			must(os.WriteFile(p, []byte(g.body), 0o600))
			uid := g.uid
			if uid < 0 {
				uid = testpriv.Nobody
			}
			must(os.Chown(p, uid, uid))
			must(os.Chmod(p, g.mode))
		}
		// A symlink is refused as one, whatever it points to.
		must(os.Symlink("stranger", filepath.Join(groups, "link")))
		must(os.Lchown(filepath.Join(groups, "link"), testpriv.Nobody, testpriv.Nobody))
		// A second name of a file elsewhere (the state root is nobody's).
		src := filepath.Join(dir, "hard")
		must(os.WriteFile(src, []byte("localhost\n"), 0o644))
		must(os.Chown(src, testpriv.Nobody, testpriv.Nobody))
		must(os.Link(src, filepath.Join(groups, "hard")))
	}
	testpriv.AsNobody(t, groupsUnprivEnv, shared)
}

// groupsUnpriv runs as nobody, the owner of both state roots.
func groupsUnpriv(t *testing.T, shared string) {
	ctx := context.Background()
	tr, _ := testroot.Open(t, filepath.Join(shared, "root"), discover.New, testroot.Options{})
	for _, tc := range []struct {
		group string
		err   string // "": trusted
	}{
		{"ok", ""},
		{"byroot", ""},
		{"stranger", "group stranger: untrusted file /groups/stranger: owner uid 4242, mode 0644: owned by another user"},
		{"groupw", "group groupw: untrusted file /groups/groupw: owner nobody (uid 65534), mode 0664: writable by its group"},
		{"otherw", "group otherw: untrusted file /groups/otherw: owner nobody (uid 65534), mode 0646: writable by others"},
		{"link", "group link: untrusted file /groups/link: it is a symlink (it must be a regular file owned by "},
		{"hard", "group hard: untrusted file /groups/hard: owner nobody (uid 65534), mode 0644: it has 2 hard links"},
		{"via", "group via: group stranger: untrusted file /groups/stranger: owner uid 4242"},
	} {
		t.Run(tc.group, func(t *testing.T) {
			got, errs := Expand(ctx, tr, "/systems/servers/@"+tc.group+"/command")
			if tc.err == "" {
				if len(errs) > 0 || !slices.Equal(got, []string{"/systems/servers/localhost/command"}) {
					t.Fatalf("@%s = %q, %v; want localhost's command", tc.group, got, errs)
				}
				return
			}
			if len(errs) != 1 || len(got) != 0 {
				t.Fatalf("@%s = %q, %v; want one error", tc.group, got, errs)
			}
			msg := errs[0].Error()
			if !strings.Contains(msg, tc.err) || strings.Contains(msg, "\n") {
				t.Errorf("@%s: %q, want one line holding %q", tc.group, msg, tc.err)
			}
			if !errors.Is(errs[0], status.ErrUntrusted) || status.Of(errs[0]) != status.Usage {
				t.Errorf("@%s: %v is not an untrusted-file usage error", tc.group, errs[0])
			}
		})
	}
	t.Run("open directory", func(t *testing.T) {
		tr, _ := testroot.Open(t, filepath.Join(shared, "open"), discover.New, testroot.Options{})
		_, err := Group(ctx, tr, "ok")
		if err == nil || !strings.Contains(err.Error(), "/groups") || !errors.Is(err, status.ErrUntrusted) {
			t.Fatalf("a group in a directory others may write: %v, want it refused naming /groups", err)
		}
	})
}
