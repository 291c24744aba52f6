package vtree

import "context"

// WriteSpec is what the driver of the write agent of the file p declares:
// the values it accepts (completion) and those that destroy (smctl write
// asks); the zero File for an agent of an agent directory or no such file.
func (t *Tree) WriteSpec(ctx context.Context, p string) File {
	p, err := Clean(p)
	if err != nil {
		return File{}
	}
	if n, err := t.resolve(ctx, p, false); err == nil && n.hook != nil && n.hook.write != nil {
		return n.hook.file
	}
	return File{}
}
