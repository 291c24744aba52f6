package ha

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"time"

	"github.com/smctl/smctl/pkg/status"
	"github.com/smctl/smctl/pkg/vtree"
	"github.com/smctl/smctl/pkg/vtree/devices"
	"github.com/smctl/smctl/pkg/vtree/store"
	"github.com/smctl/smctl/pkg/vtree/vpath"
)

// logTime is a log line's time stamp: UTC, milliseconds.
const logTime = "2006-01-02T15:04:05.000Z"

// logMu serialises the writers of /ha/log in this process (serve is its
// only writer).
var logMu sync.Mutex

// Log adds a line to /ha/log, "TIME what", keeping the last LogLines: the
// record of every HARD state change and every recovery step, which watch
// and subscriptions see as a change. A record that is not trusted (not
// serve's own) is started afresh.
func (h *HA) Log(ctx context.Context, t *vtree.Tree, format string, args ...any) error {
	line := time.Now().UTC().Format(logTime) + " " + strings.ReplaceAll(fmt.Sprintf(format, args...), "\n", "; ")
	logMu.Lock()
	defer logMu.Unlock()
	if err := devices.MakeDirs(t, Dir); err != nil {
		return err
	}
	old, _ := t.ReadTrusted(ctx, LogPath, 16<<20)
	lines := append(strings.Split(strings.TrimSuffix(string(old), "\n"), "\n"), line)
	if lines[0] == "" {
		lines = lines[1:]
	}
	if n := h.cfg().LogLines; len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	h.mu.Lock()
	h.lastLog = line
	h.mu.Unlock()
	if _, err := t.Write(ctx, LogPath, []byte(strings.Join(lines, "\n")+"\n")); err != nil {
		return err
	}
	// The last line alone: what a subscription's command gets whole (a
	// log of a thousand lines is more than one variable of its
	// environment may hold).
	_, err := t.Write(ctx, EventPath, []byte(line+"\n"))
	return err
}

// ensureLog makes /ha/log and /ha/event, empty, when there are none.
func ensureLog(ctx context.Context, t *vtree.Tree) {
	logMu.Lock()
	defer logMu.Unlock()
	if devices.MakeDirs(t, Dir) != nil {
		return
	}
	for _, p := range []string{LogPath, EventPath} {
		if _, err := t.ReadTrusted(ctx, p, 1); errors.Is(err, fs.ErrNotExist) {
			_, _ = t.Write(ctx, p, nil)
		}
	}
}

// vmStatus records a VM's outcome as the status of its ha file.
func vmStatus(t *vtree.Tree, vm string, code status.Code, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	return t.Store().WriteStatus(vpath.Rel(vpath.Join(vm, "ha")), store.Status{RC: int(code), Message: msg})
}
