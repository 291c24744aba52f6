package subscribe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/smctl/smctl/pkg/notify"
	"github.com/smctl/smctl/pkg/vtree"
)

// sub is one running subscription.
type sub struct {
	name, text, root string
	spec             Spec
	open             func() (Tree, error)
	logf             func(format string, args ...any)
	cancel           context.CancelFunc
	done, wake       chan struct{}

	mu       sync.Mutex
	st       *state
	watchErr string
	ready    bool // watching: every change from now on is reported
	dirty    bool
	log      []string // lines for NAME.log not yet written
}

func (s *sub) summary(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.st == nil {
		return name + ": starting"
	}
	return s.st.summary(name, s.spec, s.ready, s.watchErr)
}

// note adds a line to the log; the caller holds s.mu.
func (s *sub) note(format string, args ...any) {
	s.log = append(s.log, stamp(time.Now())+" "+fmt.Sprintf(format, args...))
	s.dirty = true
}

// run runs the subscription until ctx ends: it watches its files until it
// expires, and delivers what it owes until it is stopped.
func (s *sub) run(ctx context.Context) {
	defer close(s.done)
	t, err := s.open()
	for err != nil {
		s.logf("subscription %s: %v (tried again in 30s)", s.name, err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(30 * time.Second):
		}
		t, err = s.open()
	}
	defer t.Close()
	st, err := loadState(s.root, s.name)
	if err != nil {
		s.logf("subscription %s: state lost, starting afresh: %v", s.name, err)
		st, _ = loadState(s.root, "\x00") // a fresh one
	}
	s.mu.Lock()
	if st.Spec != s.text {
		// A new spec: a new baseline; what is owed is still owed.
		st.Spec, st.Since, st.Values, st.Expired = s.text, time.Now(), map[string]string{}, false
		s.note("started: %s", strings.ReplaceAll(s.text, "\n", " "))
	} else {
		s.note("resumed, %d pending", len(st.Pending))
	}
	s.st = st
	s.mu.Unlock()

	var wg sync.WaitGroup
	wg.Go(func() { s.deliverLoop(ctx) })
	flushed := make(chan struct{})
	go func() {
		defer close(flushed)
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				// Not cut short by a stop: what is taken from the state
				// to be written is written.
				s.flush(context.WithoutCancel(ctx), t)
			}
		}
	}()
	s.watch(ctx, t)
	<-ctx.Done()
	wg.Wait()
	<-flushed
	s.flush(context.WithoutCancel(ctx), t)
}

// rescan is how often a subscription's watch lists its files again, so
// that devices discovered meanwhile are watched too; nothing is missed in
// between, as each file's value is compared with the one last reported.
var rescan = 5 * time.Minute

// watch reports the changes of the subscription's files until it expires
// or ctx ends; a watch that fails (no such file yet) is tried again.
func (s *sub) watch(ctx context.Context, t Tree) {
	for ctx.Err() == nil {
		end := time.Now().Add(rescan)
		if !s.spec.Until.IsZero() && s.spec.Until.Before(end) {
			end = s.spec.Until
		}
		wctx, cancel := context.WithDeadline(ctx, end)
		s.mu.Lock()
		base := maps.Clone(s.st.Values)
		s.mu.Unlock()
		o := notify.Options{Every: s.spec.Every, For: s.spec.For, Width: t.Fanout(), Baseline: base, Seen: s.seen, Ready: s.setReady}
		err := notify.Watch(wctx, t, s.spec.Paths, o, s.emit)
		cancel()
		switch {
		case ctx.Err() != nil:
			return
		case !s.spec.Until.IsZero() && !time.Now().Before(s.spec.Until):
			s.mu.Lock()
			if !s.st.Expired {
				s.st.Expired = true
				s.note("expired")
			}
			s.ready = false
			s.mu.Unlock()
			return
		case err == nil && !time.Now().Before(end):
			continue // time to list the files again
		}
		retry := 5 * time.Second
		s.mu.Lock()
		s.ready = false
		if err != nil {
			retry = 30 * time.Second
			if s.watchErr != err.Error() {
				s.note("watch: %v; tried again every %s", err, retry)
			}
			s.watchErr = err.Error()
			s.dirty = true
		}
		s.mu.Unlock()
		select {
		case <-ctx.Done():
		case <-time.After(retry):
		}
	}
}

// setReady records that the watch has its baseline.
func (s *sub) setReady() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ready, s.watchErr, s.dirty = true, "", true
}

// seen takes a file's first value as its baseline.
func (s *sub) seen(p, v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.Values[p] = v
	s.dirty = true
}

// emit records a change as owed to the subscriber.
func (s *sub) emit(e notify.Event) {
	s.mu.Lock()
	st := s.st
	st.Seq++
	e.Subscription, e.Seq = s.name, st.Seq
	st.Values[e.Path] = e.New
	st.Events++
	st.Last = &e
	if len(st.Pending) >= maxPending {
		s.note("dropped event %d (%d pending)", st.Pending[0].Event.Seq, len(st.Pending))
		st.Pending = st.Pending[1:]
	}
	st.Pending = append(st.Pending, pending{Event: e, Next: e.Time})
	s.watchErr = ""
	s.note("event %d %s: %s -> %s", e.Seq, e.Path, e.Old, e.New)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// flush saves the state, writes it into the subscription's file and adds
// the new lines to NAME.log, if anything changed.
func (s *sub) flush(ctx context.Context, t Tree) {
	s.mu.Lock()
	if !s.dirty {
		s.mu.Unlock()
		return
	}
	s.dirty = false
	b, err := json.Marshal(s.st)
	content := s.st.render(s.spec, s.text, s.ready, s.watchErr)
	lines := s.log
	s.log = nil
	s.mu.Unlock()
	if err == nil {
		err = saveState(s.root, s.name, b)
	}
	if err != nil {
		s.logf("subscription %s: saving its state: %v", s.name, err)
	}
	// The log first: a state read in the file is in the log already.
	if len(lines) > 0 {
		s.appendLog(ctx, t, lines)
	}
	p := path.Join(vtree.SubscriptionsDir, s.name)
	// Only over the spec this runs, and only a file that passes the trust
	// check: a spec written meanwhile is never overwritten by old state
	// (the scan restarts it), nor another's file taken over.
	if b, err := t.ReadTrusted(ctx, p, maxSpec); err == nil && SpecText(string(b)) == s.text && string(b) != content {
		if _, err := t.Write(ctx, p, []byte(content)); err != nil {
			s.logf("subscription %s: %v", s.name, err)
		}
	}
}

// appendLog adds lines to NAME.log, keeping its last maxLog lines.
func (s *sub) appendLog(ctx context.Context, t Tree, lines []string) {
	p := path.Join(vtree.SubscriptionsDir, s.name+".log")
	old, err := t.ReadTrusted(ctx, p, 1<<20)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		s.logf("subscription %s: %v (written anew)", s.name, err)
		old = nil
	}
	all := append(strings.Split(strings.TrimRight(string(old), "\n"), "\n"), lines...)
	if all[0] == "" {
		all = all[1:]
	}
	if len(all) > maxLog {
		all = all[len(all)-maxLog:]
	}
	if _, err := t.Write(ctx, p, []byte(strings.Join(all, "\n")+"\n")); err != nil {
		s.logf("subscription %s: %v", s.name, err)
	}
}
