// Package smctl holds what the smctl binary carries inside it: the default
// agents that "smctl init" installs into a new state root.
package smctl

import (
	"embed"
	"io/fs"
)

//go:embed all:agents.d
var agentsFS embed.FS

// Agents returns the default agents.d tree.
func Agents() fs.FS {
	sub, err := fs.Sub(agentsFS, "agents.d")
	if err != nil {
		panic(err) // the directory is embedded at build time
	}
	return sub
}
