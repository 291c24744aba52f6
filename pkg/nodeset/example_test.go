package nodeset_test

import (
	"fmt"

	"github.com/smctl/smctl/pkg/nodeset"
)

func ExampleExpand() {
	names, _ := nodeset.Expand("n[001-003],login[1-2]")
	fmt.Println(names)
	// Output: [n001 n002 n003 login1 login2]
}

func ExampleFold() {
	fmt.Println(nodeset.Fold([]string{"n0042", "n0001", "n0002", "n0050", "login1"}))
	// Output: login1,n[0001-0002,0042,0050]
}
