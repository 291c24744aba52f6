package vtree

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"testing/fstest"
	"time"

	"github.com/smctl/smctl/pkg/fanout"
	"github.com/smctl/smctl/pkg/transport"
	"github.com/smctl/smctl/pkg/vtree/store"
)

// benchTree is 2000 servers with 15 files each: 3 attribute and command
// files plus 12 agent files.
func benchTree(b *testing.B, extra ...[2]string) *Tree {
	agents := map[string]string{}
	for _, n := range []string{"power", "bootorder", "temperature", "eventlog", "sensors", "model", "serial", "firmware", "load", "memory", "disks", "uptime"} {
		agents["server/"+n+".read"] = "echo " + n
	}
	return newTree(b, agents, "server n[0001-2000] transport=local\n", extra...)
}

// BenchmarkCat2000Cached reads one cached file on each of 2000 servers
// through the fan-out, as "smctl cat" over a list does.
func BenchmarkCat2000Cached(b *testing.B) {
	tr := benchTree(b, [2]string{"cache:\n", "cache:\n  - match: load\n    model: cached\n"})
	ctx := context.Background()
	paths := make([]string, 2000)
	for i := range paths {
		paths[i] = fmt.Sprintf("/systems/servers/n%04d/load", i+1)
	}
	read := func() {
		rs := fanout.All(ctx, len(paths), 64, func(ctx context.Context, i int) ([]byte, error) {
			res, err := tr.Read(ctx, paths[i], ReadOptions{})
			if err != nil {
				return nil, err
			}
			return res.Content, nil
		})
		for _, r := range rs {
			if r.Err != nil || string(r.Value) != "load\n" {
				b.Fatalf("%s: %q %v", paths[r.Index], r.Value, r.Err)
			}
		}
	}
	read() // fill the cache: the agents run once
	b.ResetTimer()
	for b.Loop() {
		read()
	}
	b.ReportMetric(2000/(float64(b.Elapsed().Seconds())/float64(b.N)), "files/s")
}

// nullTransport answers every command at once: what remains is the cost
// of the tree around a command run (lookups, locks, credentials, the stored
// result and status).
type nullTransport struct{}

func (nullTransport) Exec(ctx context.Context, cmd string, stdin []byte, max int64) (transport.Output, error) {
	return transport.Output{Stdout: []byte("ok\n")}, nil
}
func (nullTransport) ReadFile(context.Context, string, int64) ([]byte, error) { return nil, nil }
func (nullTransport) ReadDir(context.Context, string) ([]transport.Entry, error) {
	return nil, nil
}
func (nullTransport) Stat(context.Context, string) (transport.Entry, error) {
	return transport.Entry{}, nil
}

// BenchmarkWriteCommand2000 writes a command to 2000 servers whose
// transport answers at once: the tree's own cost per node. "spare" is the
// steady state of commands more than a second apart (each result exchanged
// with its file's rested spare); "rapid" rewrites every file within a
// second (a new file renamed over each).
func BenchmarkWriteCommand2000(b *testing.B) {
	b.Run("spare", func(b *testing.B) {
		defer func(d time.Duration) { store.SpareRest = d }(store.SpareRest)
		store.SpareRest = 0
		benchmarkWriteCommand(b)
	})
	b.Run("rapid", benchmarkWriteCommand)
}

func benchmarkWriteCommand(b *testing.B) {
	dir := filepath.Join(b.TempDir(), "root")
	initRoot(b, dir, fstest.MapFS{})
	open := func() *Tree {
		tr, err := Open(dir, Options{Drivers: testDrivers(nullDriver{})})
		if err != nil {
			b.Fatal(err)
		}
		return tr
	}
	tr := open()
	seed(b, tr, "server n[0001-2000] transport=null", "")
	tr.Close()
	paths := make([]string, 2000)
	for i := range paths {
		paths[i] = fmt.Sprintf("/systems/servers/n%04d/command", i+1)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		tr := open() // one command line: a fresh tree and its caches
		rs := fanout.All(context.Background(), len(paths), 64, func(ctx context.Context, i int) (*Result, error) {
			return tr.Write(ctx, paths[i], []byte("vmstat\n"))
		})
		for _, r := range rs {
			if r.Err != nil {
				b.Fatal(r.Err)
			}
		}
		tr.Close()
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/2000, "µs/node")
}
