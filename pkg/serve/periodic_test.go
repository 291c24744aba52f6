package serve

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/smctl/smctl/internal/testroot"
	"github.com/smctl/smctl/pkg/config"
	"github.com/smctl/smctl/pkg/discover"
	"github.com/smctl/smctl/pkg/vtree"
)

// TestRefresh: the files of a periodic caching model are read when due
// (never run, or a period old), not before; a failing agent is counted,
// its status recorded, and tried again only at its period; a read between
// two refreshes takes the period as a ttl and runs nothing. Time is moved
// by ageing the stored files, not by waiting.
func TestRefresh(t *testing.T) {
	tr, _ := testroot.New(t, discover.New, testroot.Options{
		Agents: map[string]string{
			"server/loadavg.read": "date +%s%N",
			"server/flaky.read":   "echo broken >&2; exit 3",
			"server/power.read":   "echo on",
		},
		Edits:    [][2]string{{"cache:\n", "cache:\n  - match: loadavg\n    model: periodic\n    every: 1h\n  - match: flaky\n    model: periodic\n    every: 1h\n"}},
		Discover: "server n[1-3] transport=local\n",
	})
	ctx := context.Background()
	// The three nodes and the localhost server smctl init makes.
	r, err := Refresh(ctx, tr, tr.Config.CachePolicy, 4)
	if err != nil || r.Files != 8 || r.Read != 8 || r.Failed != 4 || r.Next <= 0 || r.Next > time.Hour {
		t.Fatalf("first pass: %+v, %v; want 8 files read, 4 failed, next within the period", r, err)
	}
	first, err := tr.Read(ctx, "/systems/servers/n2/loadavg", vtree.ReadOptions{})
	if err != nil || first.Ran || len(first.Content) == 0 || first.Last == nil || first.Last.RC != 0 {
		t.Fatalf("a read right after the refresh: %+v, %v; want the stored value, no run", first, err)
	}
	if last, ok := tr.Last(ctx, "/systems/servers/n2/flaky"); !ok || last.RC != 3 {
		t.Errorf("the failing agent's status: %+v, %v; want 3 recorded", last, ok)
	}
	r, err = Refresh(ctx, tr, tr.Config.CachePolicy, 4)
	if err != nil || r.Files != 8 || r.Read != 0 || r.Next <= 50*time.Minute {
		t.Errorf("second pass at once: %+v, %v; want nothing due for about an hour", r, err)
	}
	// The loadavg files' last runs two hours ago: they, not the failing
	// ones, are due.
	at := time.Now().Add(-2 * time.Hour)
	for _, n := range []string{"localhost", "n1", "n2", "n3"} {
		for _, f := range []string{"loadavg", "loadavg.status"} {
			os.Chtimes(filepath.Join(tr.BackingRoot().Name(), "systems", "servers", n, f), at, at)
		}
	}
	r, err = Refresh(ctx, tr, tr.Config.CachePolicy, 4)
	if err != nil || r.Read != 4 || r.Failed != 0 {
		t.Errorf("once the loadavg files are due: %+v, %v; want those 4 read", r, err)
	}
	again, err := tr.Read(ctx, "/systems/servers/n2/loadavg", vtree.ReadOptions{})
	if err != nil || string(again.Content) == string(first.Content) {
		t.Errorf("loadavg after its period: %q, %v; want a new value (was %q)", again.Content, err, first.Content)
	}
}

// TestRefreshDue: a file is due once its last run is its period old less
// its jitter, not a second before; files of other models, and a periodic
// rule without a period, are not refreshed.
func TestRefreshDue(t *testing.T) {
	tr, _ := testroot.New(t, discover.New, testroot.Options{
		Agents: map[string]string{"server/loadavg.read": "echo 1", "server/temp.read": "echo 2"},
		Edits:  [][2]string{{"cache:\n", "cache:\n  - match: loadavg\n    model: periodic\n    every: 1h\n  - match: temp\n    model: ttl\n    ttl: 1h\n"}},
	})
	ctx := context.Background()
	p := "/systems/servers/localhost/loadavg"
	if _, err := tr.Read(ctx, p, vtree.ReadOptions{}); err != nil {
		t.Fatal(err)
	}
	back := filepath.Join(tr.BackingRoot().Name(), "systems", "servers", "localhost")
	age := func(d time.Duration) {
		at := time.Now().Add(-d)
		for _, f := range []string{"loadavg", "loadavg.status"} {
			os.Chtimes(filepath.Join(back, f), at, at)
		}
	}
	due := time.Hour - jitter(p, time.Hour)
	for _, tc := range []struct {
		age  time.Duration
		read int
	}{{due - time.Second, 0}, {due + time.Second, 1}} {
		age(tc.age)
		r, err := Refresh(ctx, tr, tr.Config.CachePolicy, 2)
		if err != nil || r.Files != 1 || r.Read != tc.read {
			t.Errorf("last run %s ago (due at %s): %+v, %v; want %d read of 1", tc.age, due, r, err, tc.read)
		}
	}
	none := func(string) (string, time.Duration) { return config.Periodic, 0 }
	if r, err := Refresh(ctx, tr, none, 2); err != nil || r.Files != 0 || r.Read != 0 {
		t.Errorf("a periodic rule without a period: %+v, %v", r, err)
	}
}

// TestJitter: the jitter is fixed per path and below a tenth of the
// period.
func TestJitter(t *testing.T) {
	every := 30 * time.Second
	for _, p := range []string{"/a", "/systems/servers/n1/loadavg", "/systems/servers/n2/loadavg"} {
		j := jitter(p, every)
		if j < 0 || j >= every/10 || j != jitter(p, every) {
			t.Errorf("jitter(%s) = %v", p, j)
		}
	}
	if jitter("/systems/servers/n1/loadavg", every) == jitter("/systems/servers/n2/loadavg", every) {
		t.Error("two nodes' files come due at the same instant")
	}
	// Spread over the tenth: of 100 nodes, some near its end.
	most := time.Duration(0)
	for i := range 100 {
		most = max(most, jitter(fmt.Sprintf("/systems/servers/n%d/loadavg", i), every))
	}
	if most < every/20 {
		t.Errorf("the largest jitter of 100 nodes is %s, want it spread up to %s", most, every/10)
	}
}
