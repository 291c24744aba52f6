package fanout_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/smctl/smctl/pkg/fanout"
)

// Results come back in input order, and one failure cancels nothing.
func ExampleEach() {
	nodes := []string{"n1", "n2", "n3"}
	fanout.Each(context.Background(), len(nodes), 2, func(ctx context.Context, i int) (string, error) {
		if nodes[i] == "n2" {
			return "", errors.New("unreachable")
		}
		return "ok", nil
	}, func(r fanout.Result[string]) {
		fmt.Println(nodes[r.Index], r.Value, r.Err)
	})
	// Output:
	// n1 ok <nil>
	// n2  unreachable
	// n3 ok <nil>
}
