package libvirt

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	golibvirt "github.com/digitalocean/go-libvirt"

	"github.com/smctl/smctl/pkg/agent"
)

// A hypervisor's events file is its VMs' recent lifecycle events, newest
// last, a line each:
//
//	2026-11-22T21:40:01.123Z h1-vm1 started (booted)
//
// libvirtd keeps no history: events are seen by a connection that listens
// (libvirt's lifecycle callback), from the first read of the file on.
// Each read adds what the connection saw to the file's stored content
// (Request.Stored), each line once, in time order, the last eventsKept
// lines kept. smctl serve keeps its connections for its whole run and
// refreshes events periodically (the default cache rule), so it records
// every event while it runs; a plain smctl command sees only the events
// of its own run, and shows what serve recorded.

// eventsKept is how many lines the events file keeps.
const eventsKept = 500

// eventTime is an event line's time stamp: UTC, milliseconds, fixed
// width, so lines sort by time as text.
const eventTime = "2006-01-02T15:04:05.000Z"

// eventNames are virsh event's words for lifecycle events and their
// details, lower case.
var eventNames = []struct {
	event   string
	details []string
}{
	{"defined", []string{"added", "updated", "renamed", "from snapshot"}},
	{"undefined", []string{"removed", "renamed"}},
	{"started", []string{"booted", "migrated", "restored", "from snapshot", "event wakeup", "recreated"}},
	{"suspended", []string{"paused", "migrated", "I/O error", "watchdog", "restored", "from snapshot", "api error", "post-copy", "post-copy failed"}},
	{"resumed", []string{"unpaused", "migrated", "from snapshot", "post-copy", "post-copy failed"}},
	{"stopped", []string{"shutdown", "destroyed", "crashed", "migrated", "saved", "failed", "from snapshot"}},
	{"shutdown", []string{"finished", "finished after guest request", "finished after host request"}},
	{"pmsuspended", []string{"memory", "disk"}},
	{"crashed", []string{"panicked", "crashloaded"}},
}

// eventLine is one lifecycle event as the events file has it.
func eventLine(at time.Time, m golibvirt.DomainEventLifecycleMsg) string {
	ev, detail := fmt.Sprintf("event %d", m.Event), fmt.Sprintf("detail %d", m.Detail)
	if m.Event >= 0 && int(m.Event) < len(eventNames) {
		e := eventNames[m.Event]
		ev = e.event
		if m.Detail >= 0 && int(m.Detail) < len(e.details) {
			detail = e.details[m.Detail]
		}
	}
	return fmt.Sprintf("%s %s %s (%s)", at.UTC().Format(eventTime), m.Dom.Name, ev, detail)
}

// listener is a connection's lifecycle events, as seen since it began to
// listen: the last eventsKept lines.
type listener struct {
	mu   sync.Mutex
	on   bool
	seen []string
}

// listen makes c listen to its hypervisor's lifecycle events, once: they
// are kept until the connection closes.
func (c *conn) listen() error {
	l := &c.events
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.on {
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	ch, err := c.LifecycleEvents(ctx)
	if err != nil {
		cancel()
		return fmt.Errorf("listening to lifecycle events: %w", err)
	}
	l.on = true
	go func() {
		defer cancel()
		for {
			select {
			case m, ok := <-ch:
				if !ok {
					return
				}
				l.mu.Lock()
				l.seen = append(l.seen, eventLine(time.Now(), m))
				if len(l.seen) > eventsKept {
					l.seen = slices.Delete(l.seen, 0, len(l.seen)-eventsKept)
				}
				l.mu.Unlock()
			case <-c.Disconnected():
				return
			}
		}
	}()
	return nil
}

// seenEvents is what c's listener saw.
func (c *conn) seenEvents() []string {
	c.events.mu.Lock()
	defer c.events.mu.Unlock()
	return slices.Clone(c.events.seen)
}

// readEvents is events: the stored record and what the connection saw
// since, merged.
func readEvents(_ context.Context, c *conn, req *agent.Request) (string, error) {
	if err := c.listen(); err != nil {
		return "", err
	}
	var stored []byte
	if req.Stored != nil {
		// None yet: the record begins. One a less-trusted user wrote is
		// not taken up either.
		stored, _ = req.Stored(path.Base(req.Path))
	}
	return mergeEvents(string(stored), c.seenEvents()), nil
}

// mergeEvents is the events of the record and of seen, each line once,
// sorted by time (stable), the last eventsKept. A line of the record that
// is not an event line (the file was written by hand) is left out.
func mergeEvents(record string, seen []string) string {
	var lines []string
	for _, l := range strings.Split(record, "\n") {
		if ts, _, ok := strings.Cut(l, " "); ok && len(ts) == len(eventTime) {
			if _, err := time.Parse(eventTime, ts); err == nil {
				lines = append(lines, l)
			}
		}
	}
	lines = append(lines, seen...)
	slices.SortStableFunc(lines, func(a, b string) int { return strings.Compare(a[:len(eventTime)], b[:len(eventTime)]) })
	out := lines[:0]
	have := map[string]bool{}
	for _, l := range lines {
		if !have[l] {
			have[l] = true
			out = append(out, l)
		}
	}
	if len(out) > eventsKept {
		out = out[len(out)-eventsKept:]
	}
	if len(out) == 0 {
		return ""
	}
	return strings.Join(out, "\n") + "\n"
}
