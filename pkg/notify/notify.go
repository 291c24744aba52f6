// Package notify is smctl watch: changes of files' values and statuses as
// events, with Nagios-style confirmation (a change is reported once it
// held for a number of consecutive reads), and their delivery to a command
// or an HTTP endpoint. Seed 003's subscription to service data, for one
// command's lifetime. It never prints: the CLI's printer does.
package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/smctl/smctl/pkg/agent"
	"github.com/smctl/smctl/pkg/fanout"
	"github.com/smctl/smctl/pkg/status"
	"github.com/smctl/smctl/pkg/vtree"
	"github.com/smctl/smctl/pkg/vtree/vfs"
	"github.com/smctl/smctl/pkg/vtree/watch"
)

// Event is one change of a file: its value (content and status) went from
// Old to New.
type Event struct {
	Time time.Time `json:"time"`
	Path string    `json:"path"`
	Old  string    `json:"old"`
	New  string    `json:"new"`
	RC   int       `json:"rc"`
	// Subscription and Seq name an event a subscription delivers (at least
	// once: a receiver drops the ones it has seen by their Seq).
	Subscription string `json:"subscription,omitempty"`
	Seq          uint64 `json:"seq,omitempty"`
}

// Value is how a file's state reads in an event: its content on one line
// (control characters escaped, newlines as \n), and, when its last run
// failed (the read's error, or the status stored with the content),
// "(rc N: message)".
func Value(res *vtree.Result, err error) (string, int) {
	var v string
	if res != nil {
		v = agent.Escape(strings.ReplaceAll(strings.TrimRight(string(res.Content), "\n"), "\n", `\n`))
	}
	rc, msg := 0, ""
	switch {
	case err != nil:
		rc, msg = int(status.Of(err)), err.Error()
		var ae *vtree.AgentError
		if errors.As(err, &ae) {
			msg = ae.Msg
		}
	case res != nil && res.Last != nil && res.Last.RC != 0:
		rc, msg = res.Last.RC, res.Last.Message
	default:
		return v, 0
	}
	return strings.TrimSpace(fmt.Sprintf("%s (rc %d: %s)", v, rc, agent.Escape(msg))), rc
}

// Options say what Watch reports.
type Options struct {
	// Every, when set, reads the files every Every as a read does (their
	// agents run as their caching models say); otherwise Watch follows
	// the writes of any process to their stored values (smctl serve's
	// refreshes, other commands), reading nothing by itself.
	Every time.Duration
	// For is how many consecutive reads a new value must hold before it
	// is reported (Nagios' soft and hard states); below 2, at once.
	For int
	// Width bounds the reads at once.
	Width int
	// Baseline holds values reported before (by an earlier Watch of the
	// same files): a file's first read is compared with its value here,
	// and a change reported, as with any later read.
	Baseline map[string]string
	// Seen, if set, is told each value taken as a baseline (a file's
	// first read, when Baseline has none for it).
	Seen func(path, value string)
	// Ready, if set, is called once the files' first values are read:
	// from then on every change is reported.
	Ready func()
}

// Tree is what Watch needs of a tree.
type Tree interface {
	vfs.Tree
	watch.Tree
}

// file is one watched file's state: the value last reported, and the
// candidate that must hold For reads.
type file struct {
	value   string
	rc      int
	pending string
	held    int
}

// Watch reports the changes of the files at paths (files, or directories:
// the files below them) until ctx ends, calling emit for each, in order.
// The values found first are the baseline, not reported.
func Watch(ctx context.Context, t Tree, paths []string, o Options, emit func(Event)) error {
	files, err := list(ctx, t, paths)
	if err != nil {
		return err
	}
	state := map[string]*file{}
	readAll := func(ps []string, opts vtree.ReadOptions) {
		for _, r := range fanout.All(ctx, len(ps), o.Width, func(ctx context.Context, i int) (Event, error) {
			v, rc := Value(t.Read(ctx, ps[i], opts))
			return Event{Path: ps[i], New: v, RC: rc}, nil
		}) {
			if ctx.Err() != nil {
				return
			}
			e := r.Value
			f, ok := state[e.Path]
			if !ok {
				b, known := o.Baseline[e.Path]
				f = &file{value: e.New, rc: e.RC}
				if known {
					f.value = b
				}
				state[e.Path] = f
				if !known {
					if o.Seen != nil {
						o.Seen(e.Path, e.New)
					}
					continue
				}
			}
			if ev, ok := f.see(e.New, e.RC, o.For); ok {
				ev.Time, ev.Path = time.Now(), e.Path
				emit(ev)
			}
		}
	}
	stored := vtree.ReadOptions{HasMaxAge: true, MaxAge: 1<<63 - 1} // what is stored: no agent runs
	ready := func() {
		if o.Ready != nil && ctx.Err() == nil {
			o.Ready()
		}
	}
	if o.Every > 0 {
		readAll(files, vtree.ReadOptions{})
		ready()
		tick := time.NewTicker(o.Every)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-tick.C:
				readAll(files, vtree.ReadOptions{})
			}
		}
	}
	events, err := watch.Watch(ctx, t, watchPaths(ctx, t, paths))
	if err != nil {
		return err
	}
	readAll(files, stored)
	ready()
	for ev := range events {
		if ev.Dir || ev.Change&(watch.Content|watch.Status|watch.Created|watch.Removed) == 0 {
			continue
		}
		readAll([]string{ev.Path}, stored)
	}
	return nil
}

// watchPaths are the paths to watch for paths: each as it is, but a
// pattern (a glob, a node set, a group) as the paths it expands to now.
func watchPaths(ctx context.Context, t Tree, paths []string) []string {
	var out []string
	for _, p := range paths {
		if !vfs.HasPattern(p) {
			out = append(out, p)
			continue
		}
		if _, err := t.Stat(ctx, p); err == nil {
			out = append(out, p) // a name that merely looks like one
			continue
		}
		ms, _ := vfs.Expand(ctx, t, p)
		out = append(out, ms...)
	}
	return out
}

// see takes a new read of the file and returns the event to report, if
// the value changed and held For reads.
func (f *file) see(v string, rc, holdFor int) (Event, bool) {
	if v == f.value {
		f.pending, f.held = "", 0
		return Event{}, false
	}
	if v != f.pending {
		f.pending, f.held = v, 0
	}
	f.held++
	if f.held < holdFor {
		return Event{}, false
	}
	ev := Event{Old: f.value, New: v, RC: rc}
	f.value, f.rc, f.pending, f.held = v, rc, "", 0
	return ev, true
}

// list expands paths (patterns, groups, node sets) and the directories
// among them to the files below them, not into live directories.
func list(ctx context.Context, t Tree, paths []string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, p := range paths {
		err := vfs.Walk(ctx, t, p, vfs.WalkOptions{MaxDepth: -1}, func(q string, e *vtree.Entry, err error) error {
			if err != nil {
				return err
			}
			if e == nil {
				in, err := t.Stat(ctx, q)
				if err != nil || in.IsDir() {
					return err
				}
			} else if e.IsDir() {
				return nil
			}
			if !seen[q] && !strings.HasSuffix(q, ".status") {
				seen[q] = true
				out = append(out, q)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("watch: no file in %s", strings.Join(paths, " "))
	}
	return out, nil
}

// Exec runs the shell command cmd for the event, with SMCTL_PATH,
// SMCTL_OLD, SMCTL_NEW and SMCTL_RC in its environment; its output goes
// to stdout and stderr.
func Exec(ctx context.Context, cmd string, e Event, stdout, stderr io.Writer) error {
	c := exec.CommandContext(ctx, "/bin/sh", "-c", cmd)
	c.Env = Env(e)
	c.Stdout, c.Stderr = stdout, stderr
	if err := c.Run(); err != nil {
		return fmt.Errorf("--exec for %s: %w", e.Path, err)
	}
	return nil
}

// Post sends the event as JSON to url, tried up to 3 times, 1 s and then
// 2 s apart, each bounded by 10 s; a status other than 2xx is a failure.
func Post(ctx context.Context, url string, e Event) error {
	body, _ := json.Marshal(e)
	var err error
	for _, wait := range []time.Duration{0, time.Second, 2 * time.Second} {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		err = PostOnce(ctx, url, body)
		if err == nil {
			return nil
		}
	}
	return fmt.Errorf("--webhook %s for %s: %w", url, e.Path, err)
}

// Env is the environment of a command run for the event e: the process's
// own with SMCTL_PATH, SMCTL_OLD, SMCTL_NEW and SMCTL_RC, and for a
// subscription's event SMCTL_SUBSCRIPTION and SMCTL_SEQ.
func Env(e Event) []string {
	env := append(os.Environ(), "SMCTL_PATH="+e.Path, "SMCTL_OLD="+e.Old, "SMCTL_NEW="+e.New, "SMCTL_RC="+strconv.Itoa(e.RC))
	if e.Subscription != "" {
		env = append(env, "SMCTL_SUBSCRIPTION="+e.Subscription, "SMCTL_SEQ="+strconv.FormatUint(e.Seq, 10))
	}
	return env
}

// PostOnce posts body (JSON) to url once, bounded by 10 s; a status other
// than 2xx is a failure.
func PostOnce(ctx context.Context, url string, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s", resp.Status)
	}
	return nil
}
