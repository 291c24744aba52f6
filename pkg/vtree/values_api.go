package vtree

import "context"

// Values lists the values that the write agent of the file at virtual
// path p accepts, as the driver providing it declares them (completion
// offers them); nil when it declares none (an agent of an agent directory
// declares none) or p is no such file. It runs no agent.
func (t *Tree) Values(ctx context.Context, p string) []string {
	p, err := Clean(p)
	if err != nil {
		return nil
	}
	if n, err := t.resolve(ctx, p, false); err == nil && n.hook != nil && n.hook.write != nil {
		return n.hook.file.Values
	}
	return nil
}
