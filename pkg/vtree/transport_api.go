package vtree

import (
	"context"

	"github.com/smctl/smctl/pkg/transport"
)

// Transport reaches the device at virtual path dev (clean, absolute) as its
// agents do: trusted attributes and nearest ids, through its driver.
func (t *Tree) Transport(ctx context.Context, dev string) (transport.Transport, error) {
	return t.transport(ctx, dev)
}
