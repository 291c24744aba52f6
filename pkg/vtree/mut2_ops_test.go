package vtree

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smctl/smctl/internal/testpriv"
)

// mut2Exists reports whether the backing file p exists (not followed).
func mut2Exists(t *testing.T, p string) bool {
	t.Helper()
	_, err := os.Lstat(p)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return err == nil
}

// mut2Chattr runs chattr flag on p, and undoes it when the test ends; it
// skips the test when chattr is missing or refused (not root, a file
// system without the flag).
func mut2Chattr(t *testing.T, flag, p string) {
	t.Helper()
	chattr, err := exec.LookPath("chattr")
	if err != nil {
		testpriv.Need(t, "chattr (e2fsprogs)")
	}
	if out, err := exec.Command(chattr, flag, p).CombinedOutput(); err != nil {
		t.Skipf("chattr %s: %v: %s", flag, err, out)
	}
	undo := "-" + strings.TrimPrefix(flag, "+")
	t.Cleanup(func() { _ = exec.Command(chattr, undo, p).Run() })
}

// TestMut2RefuseStatus: in a device that refuses to act (its type marker
// names no declared type), reading or writing one of its files fails with
// code 2 and records that in the file's NAME.status; reading its ids, its
// lock or a status file fails alike but records no status for them.
func TestMut2RefuseStatus(t *testing.T) {
	tr := newTree(t, nil, "server n1 transport=local")
	ctx := context.Background()
	const dev = "/systems/servers/n1"
	bdir := filepath.Join(tr.store.Dir(), "systems/servers/n1")
	for name, v := range map[string]string{"notes": "plain", "ids": "admin:secret", "lock": "1"} {
		if _, err := tr.Write(ctx, dev+"/"+name, []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	setMarker(t, tr, "systems/servers/n1", "nosuchtype\n", false)
	tr2 := mtReopen(t, tr)
	status := filepath.Join(bdir, "notes"+statusSuffix)
	for _, op := range []string{"read", "write"} {
		if err := os.Remove(status); err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
		var err error
		if op == "read" {
			_, err = tr2.Read(ctx, dev+"/notes", ReadOptions{})
		} else {
			_, err = tr2.Write(ctx, dev+"/notes", []byte("new"))
		}
		if err == nil || RC(err) != 2 {
			t.Fatalf("%s of a file of a refusing device: %v (code %d), want code 2", op, err, RC(err))
		}
		rc, msg, ok := tr2.Status(ctx, dev+"/notes")
		if !ok || rc != 2 || !strings.Contains(msg, "nosuchtype") {
			t.Errorf("after a refused %s: status %d %q %v, want 2 and the reason", op, rc, msg, ok)
		}
	}
	for _, name := range []string{"ids", "lock", "notes" + statusSuffix} {
		if _, err := tr2.Read(ctx, dev+"/"+name, ReadOptions{}); err == nil || RC(err) != 2 {
			t.Errorf("read of %s of a refusing device: %v, want code 2", name, err)
		}
		if p := filepath.Join(bdir, name+statusSuffix); mut2Exists(t, p) {
			t.Errorf("a refused read of %s left %s", name, filepath.Base(p))
		}
	}
}

// TestMut2CheckAccessEPERM: a write agent's file the kernel refuses with
// EPERM (chattr +i, as root) is refused as "permission denied", as EACCES
// is, not as the raw errno.
func TestMut2CheckAccessEPERM(t *testing.T) {
	tr := newTree(t, map[string]string{"server/reset.write": `echo ran > "$SMCTL_ROOT/ran"`}, "server n1 transport=local")
	f := filepath.Join(tr.store.Dir(), "systems/servers/n1/reset")
	if err := os.WriteFile(f, []byte("0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mut2Chattr(t, "+i", f)
	_, err := tr.Write(context.Background(), "/systems/servers/n1/reset", []byte("1"))
	if !errors.Is(err, fs.ErrPermission) || !strings.Contains(err.Error(), "permission denied") || strings.Contains(err.Error(), "not permitted") {
		t.Errorf("write of an immutable file: %v, want permission denied", err)
	}
	if mut2Exists(t, filepath.Join(tr.Root, "ran")) {
		t.Errorf("the agent ran")
	}
}

// TestMut2LockOff: writing "0" or "off" to a lock file removes it, and
// writing it to a lock that is not there is no error; a lock that cannot
// be removed is an error.
func TestMut2LockOff(t *testing.T) {
	tr := newTree(t, nil, "server n1 transport=local")
	ctx := context.Background()
	const lock = "/systems/servers/n1/lock"
	bdir := filepath.Join(tr.store.Dir(), "systems/servers/n1")
	block := filepath.Join(bdir, LockName)
	for _, off := range []string{"0", " off\n", "0\n"} {
		if _, err := tr.Write(ctx, lock, []byte("1")); err != nil {
			t.Fatal(err)
		}
		if !mut2Exists(t, block) {
			t.Fatalf("writing 1 made no lock file")
		}
		if _, err := tr.Write(ctx, lock, []byte(off)); err != nil {
			t.Errorf("writing %q to the lock: %v", off, err)
		}
		if mut2Exists(t, block) {
			t.Errorf("writing %q left the lock file", off)
		}
		if _, err := tr.Write(ctx, lock, []byte(off)); err != nil {
			t.Errorf("writing %q to a missing lock: %v", off, err)
		}
		if mut2Exists(t, block) {
			t.Errorf("writing %q to a missing lock made one", off)
		}
	}
	t.Run("cannot remove", func(t *testing.T) {
		if _, err := tr.Write(ctx, lock, []byte("1")); err != nil {
			t.Fatal(err)
		}
		mut2Chattr(t, "+i", bdir)
		if _, err := tr.Write(ctx, lock, []byte("0")); !errors.Is(err, fs.ErrPermission) {
			t.Errorf("removing the lock of an immutable directory: %v, want a permission error", err)
		}
		if !mut2Exists(t, block) {
			t.Errorf("the lock file is gone")
		}
	})
}
