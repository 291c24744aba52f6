package libvirt

import (
	"fmt"
	"strings"
	"testing"
	"time"

	golibvirt "github.com/digitalocean/go-libvirt"
)

func TestEventLine(t *testing.T) {
	at := time.Date(2026, 11, 22, 21, 40, 1, 123456789, time.FixedZone("CET", 3600))
	dom := golibvirt.Domain{Name: "web1"}
	for _, c := range []struct {
		event, detail int32
		want          string
	}{
		{int32(golibvirt.DomainEventStarted), int32(golibvirt.DomainEventStartedBooted), "started (booted)"},
		{int32(golibvirt.DomainEventStopped), int32(golibvirt.DomainEventStoppedDestroyed), "stopped (destroyed)"},
		{int32(golibvirt.DomainEventStopped), int32(golibvirt.DomainEventStoppedMigrated), "stopped (migrated)"},
		{int32(golibvirt.DomainEventSuspended), int32(golibvirt.DomainEventSuspendedIoerror), "suspended (I/O error)"},
		{int32(golibvirt.DomainEventShutdown), 1, "shutdown (finished after guest request)"},
		{int32(golibvirt.DomainEventCrashed), 0, "crashed (panicked)"},
		{int32(golibvirt.DomainEventUndefined), 0, "undefined (removed)"},
		{int32(golibvirt.DomainEventDefined), 9, "defined (detail 9)"},
		{42, 0, "event 42 (detail 0)"},
		{-1, -1, "event -1 (detail -1)"},
	} {
		got := eventLine(at, golibvirt.DomainEventLifecycleMsg{Dom: dom, Event: c.event, Detail: c.detail})
		if want := "2026-11-22T20:40:01.123Z web1 " + c.want; got != want {
			t.Errorf("event %d detail %d: %q, want %q", c.event, c.detail, got, want)
		}
	}
}

func TestMergeEvents(t *testing.T) {
	l := func(sec int, s string) string {
		return time.Date(2026, 11, 22, 0, 0, sec, 0, time.UTC).Format(eventTime) + " " + s
	}
	lines := func(ls ...string) string {
		if len(ls) == 0 {
			return ""
		}
		return strings.Join(ls, "\n") + "\n"
	}
	for _, c := range []struct {
		name   string
		record string
		seen   []string
		want   string
	}{
		{"nothing", "", nil, ""},
		{"first read", "", []string{l(1, "a started (booted)")}, lines(l(1, "a started (booted)"))},
		{"record kept", lines(l(1, "a x (y)")), nil, lines(l(1, "a x (y)"))},
		{"each once", lines(l(1, "a x (y)"), l(2, "b x (y)")), []string{l(2, "b x (y)"), l(3, "c x (y)")},
			lines(l(1, "a x (y)"), l(2, "b x (y)"), l(3, "c x (y)"))},
		{"by time", lines(l(3, "c x (y)")), []string{l(1, "a x (y)")}, lines(l(1, "a x (y)"), l(3, "c x (y)"))},
		{"same time, order kept", "", []string{l(1, "b x (y)"), l(1, "a x (y)")}, lines(l(1, "b x (y)"), l(1, "a x (y)"))},
		{"not events left out", "junk\n\n" + l(1, "a x (y)") + "\n2026-13-99T00:00:00.000Z bad month\nshort line\n", nil,
			lines(l(1, "a x (y)"))},
	} {
		if got := mergeEvents(c.record, c.seen); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
	// The last eventsKept only.
	var seen []string
	for i := range eventsKept + 10 {
		seen = append(seen, l(0, fmt.Sprintf("vm%04d x (y)", i)))
	}
	got := strings.Split(strings.TrimSuffix(mergeEvents("", seen), "\n"), "\n")
	if len(got) != eventsKept || got[0] != seen[10] || got[len(got)-1] != seen[len(seen)-1] {
		t.Errorf("%d lines kept from %q to %q, want %d from %q", len(got), got[0], got[len(got)-1], eventsKept, seen[10])
	}
}
