package vtree

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/smctl/smctl/pkg/agent"
	"github.com/smctl/smctl/pkg/trust"
	"github.com/smctl/smctl/pkg/vtree/store"
)

func perm(t *testing.T, p string) os.FileMode {
	t.Helper()
	st, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode().Perm()
}

// In a directory its group may write (a delegated device), stored results
// become group-writable, so one renamed into a trusted name is refused;
// trusted names are never group-writable, ids private.
func TestDelegatedDirModes(t *testing.T) {
	tr := newTree(t, nil, "server n1 transport=local")
	dev := filepath.Join(tr.store.Dir(), "systems/servers/n1")
	os.Chmod(dev, 0o775|fs.ModeSticky) // as smctl delegate leaves it
	ctx := context.Background()
	for _, tc := range []struct {
		file string
		want os.FileMode
	}{
		{"notes", store.NewFileMode().Perm() | 0o020},
		{"address", store.NewFileMode().Perm() &^ 0o022},
		{"ids", 0o600},
	} {
		v := "x\n"
		if tc.file == "ids" {
			v = "admin:pw\n"
		}
		if _, err := tr.Write(ctx, "/systems/servers/n1/"+tc.file, []byte(v)); err != nil {
			t.Fatal(err)
		}
		if m := perm(t, filepath.Join(dev, tc.file)); m != tc.want {
			t.Errorf("%s: mode %04o, want %04o", tc.file, m, tc.want)
		}
	}
	// A result renamed into an attribute's name is not trusted (only its
	// owner may rename it in a sticky directory, and it is group-writable).
	os.Rename(filepath.Join(dev, "notes"), filepath.Join(dev, "address"))
	tr2, err := Open(tr.Root, testOptions(Options{}))
	if err != nil {
		t.Fatal(err)
	}
	defer tr2.Close()
	_, err = tr2.Write(ctx, "/systems/servers/n1/command", []byte("true"))
	if !errors.Is(err, trust.ErrUntrusted) && RC(err) != agent.RCUntrusted {
		t.Fatalf("write with a renamed result as address: %v", err)
	}
	if !strings.Contains(err.Error(), "untrusted file /systems/servers/n1/address") {
		t.Errorf("error does not name the file: %v", err)
	}
}

// The type marker, in the parent's index or the directory's own .type,
// names only a declared type.
func TestTypeMarker(t *testing.T) {
	tr := newTree(t, nil, "server n1 transport=local")
	for _, legacy := range []bool{false, true} {
		for _, tc := range []struct{ content, err string }{
			{"server\n", ""},
			{"../agents.d/x\n", "not a declared device type"},
			{"Server\n", "not a declared device type"},
			{"nosuchtype\n", "not a declared device type"},
			{"/etc\n", "not a declared device type"},
		} {
			setMarker(t, tr, "systems/servers/n1", tc.content, legacy)
			typ, err := tr.typeInfoOf("systems/servers/n1")
			if tc.err == "" {
				if err != nil || typ != strings.TrimSpace(tc.content) {
					t.Errorf("legacy %v: %q: %q, %v", legacy, tc.content, typ, err)
				}
				continue
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) || RC(err) != agent.RCUntrusted {
				t.Errorf("legacy %v: %q: err %v", legacy, tc.content, err)
			}
		}
	}
}

// A file's content and status always come from the same run: a store
// interrupted after its first step leaves a status that says so, and
// concurrent stores leave a matching pair.
func TestStoreResultPairs(t *testing.T) {
	tr := newTree(t, nil, "server n1 transport=local")
	n, err := tr.resolve(context.Background(), "/systems/servers/n1/res", true)
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.storeResult(n, agent.Result{}, []byte("ok\n"), agent.Read, nil); err != nil {
		t.Fatal(err)
	}
	// The content cannot be replaced (a directory stands in its way): the
	// status must not vouch for the old content.
	dev := filepath.Join(tr.store.Dir(), "systems/servers/n1")
	os.Rename(filepath.Join(dev, "res"), filepath.Join(dev, "res.keep"))
	os.Mkdir(filepath.Join(dev, "res"), 0o755)
	if err := tr.storeResult(n, agent.Result{RC: 3, Message: "failed"}, []byte("bad\n"), agent.Read, nil); err == nil {
		t.Fatal("store over a directory succeeded")
	}
	rc, msg, _ := tr.Status(context.Background(), "/systems/servers/n1/res")
	if rc != agent.RCInterrupted || !strings.Contains(msg, "interrupted") {
		t.Errorf("status after an interrupted store: %d %q", rc, msg)
	}
	os.Remove(filepath.Join(dev, "res"))
	os.Rename(filepath.Join(dev, "res.keep"), filepath.Join(dev, "res"))

	// Two writers (two trees, as two processes) storing different runs.
	tr2, err := Open(tr.Root, testOptions(Options{}))
	if err != nil {
		t.Fatal(err)
	}
	defer tr2.Close()
	n2, _ := tr2.resolve(context.Background(), "/systems/servers/n1/res", true)
	var wg sync.WaitGroup
	for w, pair := range []struct {
		tr *Tree
		n  *node
		rc int
	}{{tr, n, 0}, {tr2, n2, 1}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				_ = pair.tr.storeResult(pair.n, agent.Result{RC: pair.rc}, []byte(strings.Repeat("x", w+1)+"\n"), agent.Read, nil)
			}
		}()
	}
	wg.Wait()
	b, _ := os.ReadFile(filepath.Join(dev, "res"))
	rc, _, _ = tr.Status(context.Background(), "/systems/servers/n1/res")
	if want := strings.Repeat("x", rc+1) + "\n"; string(b) != want {
		t.Errorf("content %q with status %d: not the same run", b, rc)
	}
}
