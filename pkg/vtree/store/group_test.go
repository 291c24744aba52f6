package store

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/smctl/smctl/internal/testpriv"
)

// TestNewResultGroup: a new result in a directory its group may write (a
// delegated device) belongs to that group, so that the group's members can
// replace it; elsewhere a new file keeps the writer's group.
func TestNewResultGroup(t *testing.T) {
	if os.Geteuid() != 0 {
		testpriv.Need(t, "root, to give a directory another group")
	}
	for _, tc := range []struct {
		name    string
		mode    os.FileMode
		wantGID uint32
	}{
		{"delegated", 0o775 | os.ModeSticky, testpriv.Nobody},
		{"group-writable", 0o775, testpriv.Nobody},
		{"not group-writable", 0o755, 0},
		{"others may write only", 0o757 | os.ModeSticky, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, dir := newStore(t)
			d := filepath.Join(dir, "dev")
			if err := os.Mkdir(d, 0o755); err != nil {
				t.Fatal(err)
			}
			os.Chown(d, 0, testpriv.Nobody)
			os.Chmod(d, tc.mode)
			if err := s.StoreResult("dev/command", Result{Content: []byte("out\n"), Stderr: []byte("err\n"), HasStderr: true, Status: Status{RC: 1, Message: "err"}}); err != nil {
				t.Fatal(err)
			}
			for _, name := range []string{"command", "command.status", "command.stderr"} {
				var st syscall.Stat_t
				if err := syscall.Stat(filepath.Join(d, name), &st); err != nil {
					t.Fatal(err)
				}
				if st.Gid != tc.wantGID {
					t.Errorf("%s: group %d, want %d", name, st.Gid, tc.wantGID)
				}
				if tc.wantGID != 0 && st.Mode&0o020 == 0 {
					t.Errorf("%s: mode %o, not writable by its group", name, st.Mode&0o777)
				}
			}
		})
	}
}
