package cli

import (
	"fmt"
	"io"

	udiff "github.com/aymanbagabas/go-udiff"

	"github.com/smctl/smctl/pkg/ops"
)

// diffPrinter is run --diff: outputs are gathered as -b gathers them, then
// each distinct output is printed as a unified diff against the most
// common one (the first seen among equals), headed by the node sets:
//
//	--- n[001-009,011] (10)
//	+++ n010 (1) exit 1
//	@@ -1,2 +1,2 @@
//
// Nodes whose output is the most common one print nothing; the summary
// follows on stderr.
type diffPrinter struct {
	gatherPrinter
}

func (p *diffPrinter) Finish() error {
	type text struct {
		head, body string
		count      int
	}
	var texts []text
	err := p.gather.Each(func(g ops.Group) error {
		b, err := io.ReadAll(g.Content)
		if err != nil {
			return fmt.Errorf("gather: reading back the spill file: %w", err)
		}
		head := fmt.Sprintf("%s (%d)", g.Nodes, g.Count)
		if g.RC != 0 {
			head += fmt.Sprintf(" exit %d", g.RC)
		}
		texts = append(texts, text{head, string(b), g.Count})
		return nil
	})
	p.gather.Close()
	ref := 0
	for i, t := range texts {
		if t.count > texts[ref].count {
			ref = i
		}
	}
	for i, t := range texts {
		if i == ref {
			continue
		}
		fmt.Fprint(p.ios.Out, udiff.Unified(texts[ref].head, t.head, texts[ref].body, t.body))
	}
	if err != nil {
		p.ios.Errorf("%s: %v", p.verb, err)
	}
	p.ios.Errorf("%s: %s", p.verb, &p.tally)
	if err != nil {
		return errSomeFailed
	}
	return nil
}
