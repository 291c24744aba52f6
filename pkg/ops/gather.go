package ops

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/smctl/smctl/pkg/nodeset"
	"github.com/smctl/smctl/pkg/status"
)

// Labels names each path by the part that differs between them, which
// for a fan-out over one file of many devices is the device name:
// /systems/servers/n0042/command -> n0042. A single path (or paths that
// do not differ) is named by its device as well (Label): cat -b of one
// file heads it with the node, as it heads a group of many.
func Labels(paths []string) []string {
	out := make([]string, len(paths))
	if len(paths) == 0 {
		return out
	}
	if len(paths) == 1 {
		out[0] = Label(paths[0])
		return out
	}
	split := make([][]string, len(paths))
	for i, p := range paths {
		split[i] = strings.Split(strings.TrimPrefix(p, "/"), "/")
	}
	pre, suf := len(split[0]), len(split[0])
	for _, s := range split[1:] {
		n := 0
		for n < pre && n < len(s) && s[n] == split[0][n] {
			n++
		}
		pre = n
		m := 0
		for m < suf && m < len(s) && s[len(s)-1-m] == split[0][len(split[0])-1-m] {
			m++
		}
		suf = m
	}
	for i, s := range split {
		lo, hi := pre, len(s)-suf
		if lo >= hi {
			out[i] = Label(paths[i])
			continue
		}
		out[i] = strings.Join(s[lo:hi], "/")
	}
	return out
}

// Label names one path by its device, the way a fan-out over many names
// each: the directory just under a device type's directory for the tree's
// devices (/systems/servers/n1/command -> n1, /systems/servers/n1/proc/
// loadavg -> n1, /systems/chassis/mm1/blades/3/power -> 3, the blade), else
// the directory holding the file (/a/b/notes -> b), else the path itself
// (/discover_master, /).
func Label(p string) string {
	s := strings.Split(strings.Trim(p, "/"), "/")
	switch {
	case len(s) >= 3 && s[0] == "systems":
		// A device inside a container lies in a directory of the
		// container's: /systems/chassis/mm1/blades/3/power. Files of a
		// device are its own or in its live directories (proc, sys),
		// whose names are no device's: the last directory with a
		// device-like position, counted in pairs below the type.
		i := 2
		for i+2 < len(s)-1 && !isLiveDir(s[i+1]) {
			i += 2
		}
		return s[i]
	case len(s) >= 2:
		return s[len(s)-2]
	}
	return p
}

// isLiveDir tells the names of the live directories a device shows the
// node's files under: what follows is the node's, not devices.
func isLiveDir(name string) bool { return name == "proc" || name == "sys" }

// Tally counts outcomes by class, keeping the labels of each. The zero
// value is ready to use.
type Tally struct {
	by map[string][]string
}

// Add counts label under class.
func (t *Tally) Add(class, label string) {
	if t.by == nil {
		t.by = map[string][]string{}
	}
	t.by[class] = append(t.by[class], label)
}

// Failed reports whether any label was counted under a class other than ok.
func (t *Tally) Failed() bool {
	for c, ls := range t.by {
		if c != status.ClassOK && len(ls) > 0 {
			return true
		}
	}
	return false
}

// Class is one line of a tally: a class, its count and its folded labels.
type Class struct {
	Class string `json:"class"`
	Count int    `json:"count"`
	Nodes string `json:"nodes"`
}

// Classes lists the classes counted, in summary order (ok first, always).
func (t *Tally) Classes() []Class {
	var out []Class
	for _, c := range status.Classes() {
		ls := t.by[c]
		if len(ls) == 0 && c != status.ClassOK {
			continue
		}
		out = append(out, Class{Class: c, Count: len(ls), Nodes: nodeset.Fold(ls)})
	}
	return out
}

// String is the one-line summary: "1990 ok, 6 failed: n[0003,...], ...".
func (t *Tally) String() string {
	var parts []string
	for _, c := range t.Classes() {
		if c.Class == status.ClassOK {
			parts = append(parts, fmt.Sprintf("%d ok", c.Count))
			continue
		}
		parts = append(parts, fmt.Sprintf("%d %s: %s", c.Count, c.Class, c.Nodes))
	}
	return strings.Join(parts, ", ")
}

// GatherBudget is how many bytes of distinct contents a Gather keeps in
// memory before it moves them to a temporary file.
const GatherBudget = 32 << 20

// Gather collects identical contents once, with the set of labels that
// produced each, as clush -b does.
//
// Contents are keyed by their SHA-256, so each distinct content is held
// once. Once the distinct contents held exceed the budget (GatherBudget
// unless set), they are spilled to a temporary file, unlinked as soon as
// it is made, and every later one goes there too: 2000 nodes printing a
// different MiB each cost the budget in memory, not 2 GB. Each hands them
// back in the order they were first seen. The zero value is ready to use;
// Close releases the file.
type Gather struct {
	Budget int64 // 0: GatherBudget
	order  []*group
	groups map[gatherKey]*group
	held   int64 // bytes of content held in memory

	spill    *os.File // nil until the budget is exceeded
	size     int64    // bytes written to spill
	spillErr error    // the spill file could not be made or written: contents stay in memory
}

type gatherKey struct {
	sum [sha256.Size]byte
	rc  int
}

// group is one distinct content and the labels that produced it.
type group struct {
	rc      int
	labels  []string
	content []byte // nil once spilled
	off, n  int64  // where a spilled content is in the spill file
	spilled bool
	last    byte // its last byte, 0 if empty
}

// Add counts content as produced by label.
func (g *Gather) Add(content []byte, label string) { g.AddStatus(content, label, 0) }

// AddStatus counts content as produced by label with the exit code rc:
// the same output from runs that exited differently makes two groups, as
// clush -b tells "exited with exit code 3" apart.
func (g *Gather) AddStatus(content []byte, label string, rc int) {
	if g.groups == nil {
		g.groups = map[gatherKey]*group{}
	}
	key := gatherKey{sha256.Sum256(content), rc}
	if gr, ok := g.groups[key]; ok {
		gr.labels = append(gr.labels, label)
		return
	}
	gr := &group{labels: []string{label}, content: content, n: int64(len(content)), rc: rc}
	if len(content) > 0 {
		gr.last = content[len(content)-1]
	}
	g.groups[key] = gr
	g.order = append(g.order, gr)
	g.held += gr.n
	budget := g.Budget
	if budget <= 0 {
		budget = GatherBudget
	}
	if g.held > budget && g.spillErr == nil {
		g.spillHeld()
	}
}

// spillHeld moves every content held in memory to the spill file, making
// it first. If the file cannot be made or written, contents stay in
// memory: nothing is lost, only the bound.
func (g *Gather) spillHeld() {
	if g.spill == nil {
		f, err := os.CreateTemp("", "smctl-gather-")
		if err != nil {
			g.spillErr = err
			return
		}
		// Unlinked at once: the data lives as long as the descriptor, and
		// nothing is left behind whatever happens to this process.
		os.Remove(f.Name())
		g.spill = f
	}
	for _, gr := range g.order {
		if gr.spilled || gr.n == 0 {
			continue
		}
		if _, err := g.spill.WriteAt(gr.content, g.size); err != nil {
			g.spillErr = err
			return
		}
		gr.off, gr.spilled, gr.content = g.size, true, nil
		g.size += gr.n
		g.held -= gr.n
	}
}

// Group is one distinct content as Each hands it back.
type Group struct {
	Nodes   string // the folded labels
	Count   int
	Size    int64
	Content io.Reader
	// Unterminated: the content is not empty and does not end in a
	// newline.
	Unterminated bool
	RC           int // the exit code its runs ended with
}

// Each calls fn for every distinct content, in the order first seen, and
// stops at the first error.
func (g *Gather) Each(fn func(Group) error) error {
	for _, gr := range g.order {
		var r io.Reader
		if gr.spilled {
			r = io.NewSectionReader(g.spill, gr.off, gr.n)
		} else {
			r = strings.NewReader(string(gr.content))
		}
		if err := fn(Group{Nodes: nodeset.Fold(gr.labels), Count: len(gr.labels), Size: gr.n, Content: r, Unterminated: gr.n > 0 && gr.last != '\n', RC: gr.rc}); err != nil {
			return err
		}
	}
	return nil
}

// Close removes the spill file, if any.
func (g *Gather) Close() error {
	if g.spill == nil {
		return nil
	}
	err := g.spill.Close()
	g.spill = nil
	return err
}

// CheckOnly checks a kind for Only: "", "failed" or "ok"; any other is a
// usage error (it wraps status.ErrUsage).
func CheckOnly(which string) error {
	if which != "" && which != "failed" && which != "ok" {
		return status.Mark(fmt.Errorf("--only %q: want failed or ok", which), status.ErrUsage)
	}
	return nil
}

// Only keeps the paths whose last status is of the wanted kind: "failed"
// (a status other than 0, or no status at all: a path whose last run left
// none did not succeed, and re-targeting must reach it) or "ok" (status 0
// only). Any other kind is a usage error (CheckOnly).
func Only(ctx context.Context, t StatusReader, paths []string, which string) ([]string, error) {
	if err := CheckOnly(which); err != nil {
		return nil, err
	}
	if which == "" {
		return paths, nil
	}
	var out []string
	for _, p := range paths {
		rc, _, ok := t.Status(ctx, p)
		if (ok && rc == 0) == (which == "ok") {
			out = append(out, p)
		}
	}
	return out, nil
}
