package cli

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/smctl/smctl/pkg/agent"
	"github.com/smctl/smctl/pkg/nodeset"
	"github.com/smctl/smctl/pkg/vtree"
)

// Outcome classes of a path, as the summary line counts them.
const (
	classOK          = "ok"
	classFailed      = "failed"
	classTimedOut    = "timed out"
	classUnreachable = "unreachable"
	classLocal       = "local error"
)

var classOrder = []string{classOK, classFailed, classTimedOut, classUnreachable, classLocal}

// classify maps a status code to its class: agent.RCTimeout (124) timed
// out, agent.RCUnreachable (255, ssh's code for a node it could not reach)
// unreachable, agent.RCLocal (71: this machine ran out of descriptors or
// memory, which says nothing of the node) local error, other non-zero
// failed.
func classify(rc int) string {
	switch rc {
	case 0:
		return classOK
	case agent.RCTimeout:
		return classTimedOut
	case agent.RCUnreachable:
		return classUnreachable
	case agent.RCLocal:
		return classLocal
	}
	return classFailed
}

// labels names each path by the part that differs between them, which
// for a fan-out over one file of many devices is the device name:
// /systems/servers/n0042/command -> n0042.
func labels(paths []string) []string {
	out := make([]string, len(paths))
	if len(paths) == 0 {
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
		if len(paths) == 1 || lo >= hi {
			out[i] = paths[i]
			continue
		}
		out[i] = strings.Join(s[lo:hi], "/")
	}
	return out
}

// tally counts outcomes by class, keeping the labels of each.
type tally struct {
	by map[string][]string
}

func newTally() *tally { return &tally{by: map[string][]string{}} }

func (t *tally) add(class, label string) { t.by[class] = append(t.by[class], label) }

func (t *tally) failed() bool {
	for c, ls := range t.by {
		if c != classOK && len(ls) > 0 {
			return true
		}
	}
	return false
}

// String is the one-line summary: "1990 ok, 6 failed: n[0003,...], ...".
func (t *tally) String() string {
	var parts []string
	for _, c := range classOrder {
		ls := t.by[c]
		if len(ls) == 0 && c != classOK {
			continue
		}
		if c == classOK {
			parts = append(parts, fmt.Sprintf("%d ok", len(ls)))
			continue
		}
		parts = append(parts, fmt.Sprintf("%d %s: %s", len(ls), c, nodeset.Fold(ls)))
	}
	return strings.Join(parts, ", ")
}

// storedClass classifies a path whose read ran no agent by the status its
// last agent run left (a command file after its command ran).
func storedClass(ctx context.Context, t *vtree.Tree, p string) string {
	if rc, _, ok := t.Status(ctx, p); ok {
		return classify(rc)
	}
	return classOK
}

// gatherBudget is how many bytes of distinct contents gathered keeps in
// memory before it moves them to a temporary file.
const gatherBudget = 32 << 20

// gathered prints identical contents once, headed by the folded set of
// labels that produced it and their count, as clush -b does.
//
// Contents are keyed by their SHA-256, so each distinct content is held
// once. Once the distinct contents held exceed the budget (gatherBudget
// unless set), they are spilled to a temporary file, unlinked as soon as
// it is made, and every later one goes there too: 2000 nodes printing a
// different MiB each cost the budget in memory, not 2 GB. print reads them
// back in the order they were first seen. The zero value is ready to use;
// close releases the file.
type gathered struct {
	budget int64 // 0: gatherBudget
	order  []*group
	groups map[[sha256.Size]byte]*group
	held   int64 // bytes of content held in memory

	spill    *os.File // nil until the budget is exceeded
	size     int64    // bytes written to spill
	spillErr error    // the spill file could not be made or written: contents stay in memory
}

// group is one distinct content and the labels that produced it.
type group struct {
	labels  []string
	content []byte // nil once spilled
	off, n  int64  // where a spilled content is in the spill file
	spilled bool
	last    byte // its last byte, 0 if empty
}

func (g *gathered) add(content []byte, label string) {
	if g.groups == nil {
		g.groups = map[[sha256.Size]byte]*group{}
	}
	key := sha256.Sum256(content)
	if gr, ok := g.groups[key]; ok {
		gr.labels = append(gr.labels, label)
		return
	}
	gr := &group{labels: []string{label}, content: content, n: int64(len(content))}
	if len(content) > 0 {
		gr.last = content[len(content)-1]
	}
	g.groups[key] = gr
	g.order = append(g.order, gr)
	g.held += gr.n
	budget := g.budget
	if budget <= 0 {
		budget = gatherBudget
	}
	if g.held > budget && g.spillErr == nil {
		g.spillHeld()
	}
}

// spillHeld moves every content held in memory to the spill file, making
// it first. If the file cannot be made or written, contents stay in
// memory: nothing is lost, only the bound.
func (g *gathered) spillHeld() {
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

// print writes every distinct content once, in the order first seen.
func (g *gathered) print(ios *IOStreams) error {
	for _, gr := range g.order {
		fmt.Fprintf(ios.Out, "---------------\n%s (%d)\n---------------\n", nodeset.Fold(gr.labels), len(gr.labels))
		if gr.spilled {
			if _, err := io.Copy(ios.Out, io.NewSectionReader(g.spill, gr.off, gr.n)); err != nil {
				return fmt.Errorf("gather: reading back the spill file: %w", err)
			}
		} else {
			ios.Out.Write(gr.content)
		}
		if gr.n > 0 && gr.last != '\n' {
			fmt.Fprintln(ios.Out)
		}
	}
	return nil
}

// close removes the spill file, if any.
func (g *gathered) close() {
	if g.spill != nil {
		g.spill.Close()
		g.spill = nil
	}
}

// statusReader gives the status a path's last agent run left, as
// vtree.Tree.Status does.
type statusReader interface {
	Status(ctx context.Context, p string) (rc int, msg string, ok bool)
}

var _ statusReader = (*vtree.Tree)(nil)

// only keeps the paths whose last status is of the wanted kind: "failed"
// (a status other than 0, or no status at all: a path whose last run left
// none did not succeed, and re-targeting must reach it) or "ok" (status
// 0 only).
func only(ctx context.Context, t statusReader, paths []string, which string) ([]string, error) {
	if which == "" {
		return paths, nil
	}
	if which != "failed" && which != "ok" {
		return nil, usageErr("--only %q: want failed or ok", which)
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
