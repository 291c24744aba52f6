package vfs

import (
	"context"
	"testing"

	"github.com/smctl/smctl/pkg/vtree"
)

// benchTree is 2000 servers with 15 files each: 3 attribute and command
// files plus 12 agent files.
func benchTree(b *testing.B, extra ...[2]string) *vtree.Tree {
	agents := map[string]string{}
	for _, n := range []string{"power", "bootorder", "temperature", "eventlog", "sensors", "model", "serial", "firmware", "load", "memory", "disks", "uptime"} {
		agents["server/"+n+".read"] = "echo " + n
	}
	return newTree(b, agents, "server n[0001-2000] transport=local\n", extra...)
}

// BenchmarkFind2000x15 walks /systems as "smctl find /systems -name power"
// does: 2000 servers x 15 files, no agents run.
func BenchmarkFind2000x15(b *testing.B) {
	tr := benchTree(b)
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		files, power := 0, 0
		err := Walk(ctx, tr, "/systems", WalkOptions{MaxDepth: -1}, func(p string, e *vtree.Entry, err error) error {
			if err != nil {
				return err
			}
			if e != nil && !e.IsDir() {
				files++
				if e.Name() == "power" {
					power++
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		if power != 2001 || files < 2000*15 {
			b.Fatalf("walk saw %d files, %d power", files, power)
		}
	}
	b.ReportMetric(float64(2001*15)/(float64(b.Elapsed().Seconds())/float64(b.N)), "files/s")
}
