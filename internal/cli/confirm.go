package cli

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/smctl/smctl/pkg/nodeset"
	"github.com/smctl/smctl/pkg/vtree"
)

// destroyed returns the devices that writing value to paths would hit
// with a destructive write (what the files' drivers declare so), and those
// files.
func destroyed(ctx context.Context, t *vtree.Tree, paths []string, value []byte) (devices, files []string) {
	seen := map[string]bool{}
	byName := map[string]bool{} // destructive for some file of that name
	for _, p := range paths {
		name := path.Base(p)
		d, ok := byName[name]
		if !ok {
			d = t.Drivers().Destroys(name, value)
			byName[name] = d
		}
		if !d || !t.WriteSpec(ctx, p).Destroys(value) {
			continue
		}
		files = append(files, p)
		if d := deviceOf(t, p); !seen[d] {
			seen[d] = true
			devices = append(devices, d)
		}
	}
	return devices, files
}

// deviceOf is the device directory that the file p acts on: its nearest
// directory that is a device (a live file may be deep below it:
// processes/PID/signal).
func deviceOf(t *vtree.Tree, p string) string {
	d := path.Dir(p)
	for e := d; e != "/"; e = path.Dir(e) {
		if t.DeviceType(e) != "" {
			return e
		}
	}
	return d
}

// describeWrite is the value as one line, quoted, shortened past 60
// characters.
func describeWrite(value []byte) string {
	v := strings.TrimSpace(string(value))
	if len(v) > 60 {
		v = v[:60] + "..."
	}
	return strconv.Quote(v)
}

// foldDevices names devices by their base names as a node set, under their
// common directory when they share one.
func foldDevices(devices []string) string {
	names := make([]string, len(devices))
	for i, d := range devices {
		names[i] = path.Base(d)
	}
	return nodeset.Fold(names)
}

// confirmWrite lets a write go on unless it is destructive on more than
// confirm_over devices: then it asks on the terminal (standard error is
// one and /dev/tty opens), or, with no one to ask, refuses without --yes.
func confirmWrite(ctx context.Context, ios *IOStreams, t *vtree.Tree, paths []string, value []byte, yes bool) error {
	devices, files := destroyed(ctx, t, paths, value)
	limit := t.Config.ConfirmOver
	if len(devices) <= limit || yes {
		return nil
	}
	what := fmt.Sprintf("%s to %s (%s) of %s: %s", describeWrite(value), count(len(files), "file"), path.Base(files[0]), count(len(devices), "device"), foldDevices(devices))
	if ios.errTTY {
		if tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0); err == nil {
			defer tty.Close()
			fmt.Fprintf(tty, "smctl: write %s? (more than confirm_over: %d) [y/N] ", what, limit)
			answer, _ := readOneLine(tty)
			if a := strings.ToLower(answer); a == "y" || a == "yes" {
				return nil
			}
			return &exitError{ExitUsage, fmt.Errorf("write: not confirmed; nothing written")}
		}
	}
	return usageErr("write %s: destructive on more than confirm_over (%d) devices: give --yes to confirm, or --dry-run to see it; nothing written", what, limit)
}

// writeDryRun prints, for each path, the value and the agent that would
// write it, marking destructive writes, and runs nothing; a path the write
// would refuse (missing, live, read-only) makes it fail as the write would.
func writeDryRun(ctx context.Context, ios *IOStreams, t *vtree.Tree, paths []string, value []byte, failed int) error {
	devices, files := destroyed(ctx, t, paths, value)
	for _, p := range paths {
		in, err := t.Stat(ctx, p)
		var how string
		switch {
		case err != nil:
			ios.Errorf("write %s: %v", p, err)
			failed++
			continue
		case in.IsDir():
			ios.Errorf("write %s: is a directory", p)
			failed++
			continue
		case in.Live && t.WriteSpec(ctx, p).Writable:
			how = "written on the node"
		case in.Live:
			how = "refused (a live file the node does not let write)"
			failed++
		case in.Write:
			how = writeAgentOf(t, p)
		case in.Read:
			how = "refused (read-only: a read agent and no write agent)"
			failed++
		default:
			how = "stored as it is (no agent)"
		}
		mark := ""
		if slices.Contains(files, p) {
			mark = " (destructive)"
		}
		fmt.Fprintf(ios.Out, "%s: %s %s%s\n", p, how, describeWrite(value), mark)
	}
	summary := fmt.Sprintf("write --dry-run: %s, nothing ran", count(len(paths), "file"))
	if len(devices) > 0 {
		summary = fmt.Sprintf("write --dry-run: %s, %d destructive on %s", count(len(paths), "file"), len(files), count(len(devices), "device"))
		if len(devices) > t.Config.ConfirmOver {
			summary += fmt.Sprintf(" (more than confirm_over: %d; would ask, or need --yes)", t.Config.ConfirmOver)
		}
		summary += "; nothing ran"
	}
	ios.Errorf("%s", summary)
	if failed > 0 {
		return errSomeFailed
	}
	return nil
}

// count is n things: "1 file", "3 files".
func count(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}

// writeAgentOf names the write agent of the file p: an executable of the
// agent directories (the first that has one wins, as for running it), else
// the built-in one.
func writeAgentOf(t *vtree.Tree, p string) string {
	name := path.Base(p) + ".write"
	typ := t.DeviceType(path.Dir(p))
	for _, d := range t.AgentDirs() {
		f := filepath.Join(d, typ, name)
		if fi, err := os.Stat(f); err == nil && fi.Mode().IsRegular() {
			return "agent " + f
		}
	}
	return "built-in " + name
}
