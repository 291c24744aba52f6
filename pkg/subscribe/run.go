package subscribe

import (
	"context"
	"errors"
	"io/fs"
	"maps"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/smctl/smctl/pkg/notify"
	"github.com/smctl/smctl/pkg/vtree"
)

// Tree is what subscriptions need of a tree.
type Tree interface {
	notify.Tree
	ReadTrusted(ctx context.Context, p string, max int64) ([]byte, error)
	Write(ctx context.Context, p string, data []byte) (*vtree.Result, error)
	Fanout() int
	Close() error
}

var _ Tree = (*vtree.Tree)(nil)

// maxSpec bounds a subscription file as read; maxLog is how many lines
// NAME.log keeps; maxPending bounds the events owed to one subscriber (the
// oldest go first, and the log says so).
const (
	maxSpec    = 64 << 10
	maxLog     = 1000
	maxPending = 10000
)

// Manager runs the subscriptions of one state root: it looks for them in
// /subscriptions every ScanEvery, starts the new ones, restarts the changed
// ones and stops the removed ones.
type Manager struct {
	Root      string               // the state root: serve.d holds the subscriptions' state
	Open      func() (Tree, error) // opens the tree (each subscription keeps its own)
	Logf      func(format string, args ...any)
	ScanEvery time.Duration // default 2s

	mu      sync.Mutex
	subs    map[string]*sub
	refused map[string]string // NAME: why it does not run
}

// Run runs the subscriptions until ctx ends, and then stops them, each
// saving what it owes.
func (m *Manager) Run(ctx context.Context) {
	every := m.ScanEvery
	if every <= 0 {
		every = 2 * time.Second
	}
	m.mu.Lock()
	m.subs, m.refused = map[string]*sub{}, map[string]string{}
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		names := slices.Collect(maps.Keys(m.subs))
		m.mu.Unlock()
		for _, name := range names {
			m.stop(name)
		}
	}()
	for {
		m.scan(ctx)
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}

// Status returns a line per subscription: its state, or why it does not
// run.
func (m *Manager) Status() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for name, s := range m.subs {
		out = append(out, s.summary(name))
	}
	for name, why := range m.refused {
		out = append(out, name+": not run: "+why)
	}
	slices.Sort(out)
	return out
}

func (m *Manager) logf(format string, args ...any) {
	if m.Logf != nil {
		m.Logf(format, args...)
	}
}

// scan looks at /subscriptions once.
func (m *Manager) scan(ctx context.Context) {
	t, err := m.Open()
	if err != nil {
		m.logf("subscriptions: %v", err)
		return
	}
	defer t.Close()
	if err := t.BackingRoot().Mkdir(strings.TrimPrefix(vtree.SubscriptionsDir, "/"), 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		m.logf("subscriptions: %v", err)
	}
	es, err := t.ReadDir(ctx, vtree.SubscriptionsDir)
	if err != nil {
		m.logf("subscriptions: %v", err)
		return
	}
	found := map[string]bool{}
	for _, e := range es {
		name := e.Name()
		if e.IsDir() || !ValidName(name) {
			continue
		}
		found[name] = true
		p := path.Join(vtree.SubscriptionsDir, name)
		b, err := t.ReadTrusted(ctx, p, maxSpec)
		if err != nil {
			// Not trusted (or gone): it decides nothing; a running one
			// whose file was replaced so stops.
			m.stop(name)
			m.refuse(name, err.Error())
			continue
		}
		text := SpecText(string(b))
		if text == "" {
			m.stop(name)
			m.remove(t, name)
			continue
		}
		m.mu.Lock()
		s := m.subs[name]
		m.mu.Unlock()
		if s != nil && s.text == text {
			continue
		}
		m.stop(name)
		spec, err := Parse(text)
		if err != nil {
			m.refuse(name, err.Error())
			if want := text + "\n# error: " + oneLine(err.Error()) + "\n"; string(b) != want {
				if _, werr := t.Write(ctx, p, []byte(want)); werr != nil {
					m.logf("subscription %s: %v", name, werr)
				}
			}
			continue
		}
		m.start(ctx, name, spec, text)
	}
	m.mu.Lock()
	var gone []string
	for name := range m.subs {
		if !found[name] {
			gone = append(gone, name)
		}
	}
	for name := range m.refused {
		if !found[name] {
			delete(m.refused, name)
		}
	}
	m.mu.Unlock()
	for _, name := range gone {
		m.stop(name)
		m.remove(t, name)
	}
}

// refuse records why NAME does not run, telling serve's log once.
func (m *Manager) refuse(name, why string) {
	m.mu.Lock()
	old := m.refused[name]
	m.refused[name] = why
	m.mu.Unlock()
	if old != why {
		m.logf("subscription %s not run: %s", name, why)
	}
}

func (m *Manager) start(ctx context.Context, name string, spec Spec, text string) {
	ctx, cancel := context.WithCancel(ctx)
	s := &sub{name: name, spec: spec, text: text, root: m.Root, open: m.Open, logf: m.logf,
		cancel: cancel, done: make(chan struct{}), wake: make(chan struct{}, 1)}
	m.mu.Lock()
	m.subs[name] = s
	delete(m.refused, name)
	m.mu.Unlock()
	go s.run(ctx)
}

// stop stops NAME's subscription, if it runs, and waits for it to save
// its state.
func (m *Manager) stop(name string) {
	m.mu.Lock()
	s := m.subs[name]
	delete(m.subs, name)
	m.mu.Unlock()
	if s != nil {
		s.cancel()
		<-s.done
	}
}

// remove forgets NAME: its state, its log and its (blank) file.
func (m *Manager) remove(t Tree, name string) {
	m.mu.Lock()
	delete(m.refused, name)
	m.mu.Unlock()
	dir := strings.TrimPrefix(vtree.SubscriptionsDir, "/")
	removed := false
	for _, rm := range []func() error{
		func() error { return os.Remove(statePath(m.Root, name)) },
		func() error { return t.BackingRoot().Remove(dir + "/" + name + ".log") },
		func() error { return removeBlank(t.BackingRoot(), dir+"/"+name) },
	} {
		err := rm()
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			m.logf("subscription %s: removing: %v", name, err)
		}
		removed = removed || err == nil
	}
	if removed {
		m.logf("subscription %s removed", name)
	}
}

// removeBlank removes the file rel if it is still blank (written empty to
// remove the subscription, not a new spec written since); one that is
// not (only "#" lines) is kept, as fs.ErrNotExist.
func removeBlank(root *os.Root, rel string) error {
	fi, err := root.Lstat(rel)
	if err != nil {
		return err
	}
	if b, err := root.ReadFile(rel); err != nil || fi.Size() > 16 || strings.TrimSpace(string(b)) != "" {
		return fs.ErrNotExist
	}
	return root.Remove(rel)
}
