package doctor

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/smctl/smctl/pkg/status"
	"github.com/smctl/smctl/pkg/transport"
	"github.com/smctl/smctl/pkg/vtree"
	"github.com/smctl/smctl/pkg/vtree/vfs"
)

// Tree is what the walk and the node sample need of a tree; *vtree.Tree
// is one. Nothing of it runs an agent.
type Tree interface {
	vfs.Tree
	// DeviceType is the type of the device at a path, "" for none.
	DeviceType(p string) string
	// Fanout is the configured fan-out.
	Fanout() int
	// Transport reaches the device at a virtual path as its agents do.
	Transport(ctx context.Context, dev string) (transport.Transport, error)
}

var _ Tree = (*vtree.Tree)(nil)

// commandFile is the file that makes a device one a command runs on: the
// devices sampled are those that have it.
const commandFile = "command"

// treeReport is what a walk of the tree found.
type treeReport struct {
	devices  int
	commands []string // devices with a command file, in lexical order
	ids      int      // stored ids files
}

// walkTree walks the whole tree (no agent runs, no live directory is
// entered) and counts its devices, those with a command file and the ids
// files. Directories it cannot list are errors.
func walkTree(ctx context.Context, t Tree) (treeReport, []Finding) {
	var r treeReport
	var out []Finding
	err := vfs.Walk(ctx, t, "/", vfs.WalkOptions{MaxDepth: -1}, func(p string, e *vtree.Entry, err error) error {
		switch {
		case err != nil:
			out = append(out, Finding{Error, "tree " + p, err.Error()})
		case e == nil, e.Live():
		case e.IsDir():
			if t.DeviceType(p) != "" {
				r.devices++
			}
		case e.Name() == commandFile:
			if dev := path.Dir(p); t.DeviceType(dev) != "" {
				r.commands = append(r.commands, dev)
			}
		case e.Name() == vtree.IDsName:
			if res, err := t.Resolve(ctx, p); err == nil && res.Stored {
				r.ids++
			}
		}
		return nil
	})
	if err != nil {
		out = append(out, Finding{Error, "tree", err.Error()})
	}
	if len(out) == 0 {
		out = append(out, Finding{OK, "tree", fmt.Sprintf("%s, %d with a command file", plural(r.devices, "device"), len(r.commands))})
	}
	return r, out
}

// spread picks n of devs (all when n is not less), evenly spaced, in
// their order: the same sample every time for the same tree.
func spread(devs []string, n int) []string {
	if n >= len(devs) {
		return devs
	}
	out := make([]string, n)
	for i := range out {
		out[i] = devs[i*len(devs)/n]
	}
	return out
}

// checkNodes asks o.Sample of the devices with a command file, devs, to
// answer, in parallel, each within o.Timeout: one error per device that
// did not, then how many did and their median time.
func checkNodes(ctx context.Context, t Tree, devs []string, o Options) []Finding {
	if o.Sample <= 0 {
		return nil
	}
	if len(devs) == 0 {
		return []Finding{{Warn, "nodes", "no device has a command file: nothing to sample"}}
	}
	sample := spread(devs, o.Sample)
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	width := o.Fanout
	if width <= 0 {
		width = t.Fanout()
	}
	took := make([]time.Duration, len(sample))
	errs := make([]error, len(sample))
	var g errgroup.Group
	g.SetLimit(max(width, 1))
	for i, dev := range sample {
		g.Go(func() error {
			pctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			start := time.Now()
			errs[i] = probe(pctx, t, dev, timeout)
			took[i] = time.Since(start)
			return nil
		})
	}
	_ = g.Wait() // the workers record their own errors
	var out []Finding
	var times []time.Duration
	names := nodeNames(sample)
	for i, err := range errs {
		if err == nil {
			times = append(times, took[i])
			continue
		}
		out = append(out, Finding{Error, "nodes", fmt.Sprintf("%s %s: %s", names[i], status.Of(err).Class(), cause(err))})
	}
	level, msg := OK, fmt.Sprintf("%d of %d sampled answered", len(times), len(sample))
	if len(times) < len(sample) {
		level = Error
	}
	if len(times) > 0 {
		msg += fmt.Sprintf(" (median %s)", millis(median(times)))
	}
	return append(out, Finding{level, "nodes", msg})
}

// probe asks the device dev to answer: "true" through its transport, as
// a command file's agent would run it, but storing nothing. A device that
// does not answer within timeout (ctx's) says so.
func probe(ctx context.Context, t Tree, dev string, timeout time.Duration) error {
	tr, err := t.Transport(ctx, dev)
	if err == nil {
		var out transport.Output
		out, err = tr.Exec(ctx, "true", nil, 64<<10)
		if err == nil && out.Exit != 0 {
			msg, _, _ := strings.Cut(strings.TrimSpace(string(out.Stderr)), "\n")
			return fmt.Errorf("true exited %d: %s", out.Exit, msg)
		}
	}
	if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return status.Mark(fmt.Errorf("no answer within %s", timeout), status.ErrTimeout)
	}
	return err
}

// cause is err without the path the tree names it with.
func cause(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// nodeNames names each device by its base name, as node sets do, or by
// its path where two share a base name.
func nodeNames(devs []string) []string {
	count := map[string]int{}
	for _, d := range devs {
		count[path.Base(d)]++
	}
	out := make([]string, len(devs))
	for i, d := range devs {
		out[i] = d
		if count[path.Base(d)] == 1 {
			out[i] = path.Base(d)
		}
	}
	return out
}

// median of ds, which is not empty.
func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 0 {
		return (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return s[len(s)/2]
}

// millis prints d in milliseconds: "12 ms", "0.4 ms" below 10.
func millis(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	if ms >= 10 {
		return fmt.Sprintf("%.0f ms", ms)
	}
	return fmt.Sprintf("%.1f ms", ms)
}

// plural is "1 device", "2 devices", "2 directories".
func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	if stem, ok := strings.CutSuffix(what, "y"); ok {
		return fmt.Sprintf("%d %sies", n, stem)
	}
	return fmt.Sprintf("%d %ss", n, what)
}
