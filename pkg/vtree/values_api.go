package vtree

import "context"

// WriteSpec is what the driver of file p's write agent declares (zero File: none).
func (t *Tree) WriteSpec(ctx context.Context, p string) File {
	p, err := Clean(p)
	if err != nil {
		return File{}
	}
	n, err := t.resolve(ctx, p, false)
	switch {
	case err != nil:
	case n.live != "" && !n.liveRoot:
		return t.liveSpec(ctx, n)
	case n.hook != nil && n.hook.write != nil:
		return n.hook.file
	}
	return File{}
}
