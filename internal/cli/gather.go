package cli

import (
	"context"
	"fmt"
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
)

var classOrder = []string{classOK, classFailed, classTimedOut, classUnreachable}

// classify maps a status code to its class: 124 timed out, 255 (ssh's
// code for a node it could not reach) unreachable, other non-zero failed.
func classify(rc int) string {
	switch rc {
	case 0:
		return classOK
	case agent.RCTimeout:
		return classTimedOut
	case 255:
		return classUnreachable
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
	return len(t.by[classFailed])+len(t.by[classTimedOut])+len(t.by[classUnreachable]) > 0
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

// gathered prints identical contents once, headed by the folded set of
// labels that produced it and their count, as clush -b does.
type gathered struct {
	order  []string
	labels map[string][]string
}

func (g *gathered) add(content, label string) {
	if g.labels == nil {
		g.labels = map[string][]string{}
	}
	if _, ok := g.labels[content]; !ok {
		g.order = append(g.order, content)
	}
	g.labels[content] = append(g.labels[content], label)
}

func (g *gathered) print(ios *IOStreams) {
	for _, c := range g.order {
		ls := g.labels[c]
		fmt.Fprintf(ios.Out, "---------------\n%s (%d)\n---------------\n", nodeset.Fold(ls), len(ls))
		ios.Out.Write([]byte(c))
		if c != "" && !strings.HasSuffix(c, "\n") {
			fmt.Fprintln(ios.Out)
		}
	}
}

// only keeps the paths whose last status is of the wanted kind: "failed"
// (a status other than 0) or "ok" (status 0); paths no agent has run on
// yet are dropped by both.
func only(ctx context.Context, t *vtree.Tree, paths []string, which string) ([]string, error) {
	if which == "" {
		return paths, nil
	}
	if which != "failed" && which != "ok" {
		return nil, usageErr("--only %q: want failed or ok", which)
	}
	var out []string
	for _, p := range paths {
		rc, _, ok := t.Status(ctx, p)
		if ok && (rc == 0) == (which == "ok") {
			out = append(out, p)
		}
	}
	return out, nil
}
