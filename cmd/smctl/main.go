// Command smctl manages a cluster as a file tree, as Sysman did, without
// FUSE or root: see "smctl --help".
package main

import (
	"os"

	"github.com/smctl/smctl/internal/cli"
)

func main() { os.Exit(cli.Main()) }
