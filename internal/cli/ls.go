package cli

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/smctl/smctl/pkg/vtree"
	"github.com/smctl/smctl/pkg/vtree/vfs"
)

// LsOptions are the flags of smctl ls.
type LsOptions struct {
	Paths     []string
	Long      bool
	Recursive bool
	Output    string
}

// newLsCmd builds smctl ls; runF, when not nil, receives the parsed
// options instead of lsRun (for tests of flag parsing).
func newLsCmd(ios *IOStreams, g *globalOptions, runF func(*LsOptions) error) *cobra.Command {
	opts := &LsOptions{}
	cmd := &cobra.Command{
		Use:   "ls [-l] [-R] [PATH...]",
		Short: "List directories of the tree",
		Long: `List the files of each directory (default /). Listing runs no agents; only
live directories (proc, sys) are listed from the node. -l shows for each file
its mode (r and w from its agents and the backing file's permissions), size,
the age of its content and the status code of its last agent run. Directories
show size 0, as proc and sys show theirs: they are virtual (their entries are
stored files, agents' files and live directories), so the backing file
system's size of them says nothing; count entries with smctl ls DIR | wc -l.
-R lists subdirectories too, but does not enter live directories it meets.`,
		Example: `  smctl ls /systems/servers
  smctl ls -l /systems/servers/localhost     # mode, size, age, last status
  smctl ls /systems/servers/n0042/proc       # the node's /proc, listed live
  smctl ls -R -o json /systems | jq -r .path`,
		ValidArgsFunction: completePaths(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Paths = args
			if runF != nil {
				return runF(opts)
			}
			return lsRun(cmd.Context(), ios, g, opts)
		},
	}
	cmd.Flags().BoolVarP(&opts.Long, "long", "l", false, "long listing: mode, size, age, last status")
	cmd.Flags().BoolVarP(&opts.Recursive, "recursive", "R", false, "list subdirectories recursively")
	cmd.Flags().StringVarP(&opts.Output, "output", "o", "", "output format: json (one JSON object per entry)")
	return cmd
}

type lsJSON struct {
	Path      string `json:"path"`
	Op        string `json:"op"`
	RC        int    `json:"rc"`
	Type      string `json:"type,omitempty"`
	Mode      string `json:"mode,omitempty"`
	Size      int64  `json:"size"`
	ModTime   string `json:"mtime,omitempty"`
	Status    *int   `json:"status,omitempty"`
	Message   string `json:"message,omitempty"`
	Ran       string `json:"ran,omitempty"`
	At        string `json:"at,omitempty"`
	Stale     bool   `json:"stale,omitempty"`
	Error     string `json:"error,omitempty"`
	ElapsedMS int64  `json:"elapsed_ms"`
}

func lsRun(ctx context.Context, ios *IOStreams, g *globalOptions, opts *LsOptions) error {
	if err := checkOutput(opts.Output); err != nil {
		return err
	}
	t, err := g.open()
	if err != nil {
		return err
	}
	defer t.Close()
	args, err := pathArgs(ios, opts.Paths)
	if err != nil {
		return err
	}
	if len(args) == 0 {
		args = []string{"/"}
	}
	paths, failed := expand(ctx, ios, t, args)
	headers := len(paths) > 1 || opts.Recursive
	first := true
	for _, p := range paths {
		start := time.Now()
		info, err := t.Stat(ctx, p)
		if err != nil {
			failed++
			lsError(ios, opts, p, err, start)
			continue
		}
		if !info.IsDir() {
			lsEntries(ctx, ios, t, opts, "", []fs.DirEntry{fileEntry{info}}, start)
			continue
		}
		// One walk lists every directory once; entries are grouped by
		// directory and printed directory by directory, as ls -R does.
		var dirs []string
		listed := map[string][]fs.DirEntry{}
		err = vfs.Walk(ctx, t, info.Path(), vfs.WalkOptions{MaxDepth: walkDepth(opts.Recursive)}, func(dp string, e *vtree.Entry, err error) error {
			if err != nil {
				failed++
				lsError(ios, opts, dp, err, start)
				return nil
			}
			if e == nil {
				dirs = append(dirs, dp)
				listed[dp] = []fs.DirEntry{}
				return nil
			}
			parent, _ := path.Split(dp)
			if parent != "/" {
				parent = strings.TrimSuffix(parent, "/")
			}
			listed[parent] = append(listed[parent], e)
			if e.IsDir() && opts.Recursive && (!e.Live() || info.Live) {
				dirs = append(dirs, dp)
				if listed[dp] == nil {
					listed[dp] = []fs.DirEntry{}
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		sort.Strings(dirs)
		for _, d := range dirs {
			if headers && opts.Output == "" {
				if !first {
					fmt.Fprintln(ios.Out)
				}
				fmt.Fprintf(ios.Out, "%s:\n", d)
			}
			first = false
			lsEntries(ctx, ios, t, opts, d, listed[d], start)
		}
	}
	if failed > 0 {
		return errSomeFailed
	}
	return nil
}

// walkDepth: -R walks everything; plain ls lists the directory itself.
func walkDepth(recursive bool) int {
	if recursive {
		return -1
	}
	return 1
}

// fileEntry presents a file given on the command line as a listing entry.
type fileEntry struct{ info *vtree.Info }

func (f fileEntry) Name() string               { return f.info.Path() }
func (f fileEntry) IsDir() bool                { return false }
func (f fileEntry) Type() fs.FileMode          { return f.info.Mode().Type() }
func (f fileEntry) Info() (fs.FileInfo, error) { return f.info, nil }

func lsError(ios *IOStreams, opts *LsOptions, p string, err error, start time.Time) {
	if opts.Output == "json" {
		b, _ := jsonLineOf(lsJSON{Path: p, Op: "ls", RC: vtree.RC(err), Error: err.Error(), ElapsedMS: time.Since(start).Milliseconds()})
		fmt.Fprintf(ios.Out, "%s\n", b)
		return
	}
	ios.Errorf("%v", err)
}

func lsEntries(ctx context.Context, ios *IOStreams, t Tree, opts *LsOptions, dir string, es []fs.DirEntry, start time.Time) {
	if !opts.Long && opts.Output == "" {
		for _, e := range es {
			fmt.Fprintln(ios.Out, e.Name())
		}
		return
	}
	var rows [][5]string
	for _, e := range es {
		p := e.Name()
		if dir != "" {
			p = joinPath(dir, e.Name())
		}
		fi, err := e.Info()
		if err != nil {
			lsError(ios, opts, p, err, start)
			continue
		}
		last, ran := t.Last(ctx, p)
		if opts.Output == "json" {
			l := lsJSON{Path: p, Op: "ls", Type: "file", Mode: fi.Mode().String(), Size: fi.Size(), ElapsedMS: time.Since(start).Milliseconds()}
			if fi.IsDir() {
				l.Type = "dir"
			}
			if !fi.ModTime().IsZero() {
				l.ModTime = fi.ModTime().UTC().Format(time.RFC3339)
			}
			if ran {
				l.Status, l.Message, l.Ran, l.Stale = &last.RC, last.Message, last.Ran, last.Stale
				l.At = last.At.UTC().Format(time.RFC3339Nano)
			}
			b, _ := jsonLineOf(l)
			fmt.Fprintf(ios.Out, "%s\n", b)
			continue
		}
		status := "-"
		age := "-"
		if !fi.ModTime().IsZero() && !fi.IsDir() {
			age = fmtAge(time.Since(fi.ModTime()))
		}
		name := e.Name()
		if ran {
			// The status is the last run's code, and what ran follows
			// the name, as a symlink's target does; the age stays the
			// content's, which the caching models go by.
			status = fmt.Sprint(last.RC)
			if last.Ran != "" {
				name += " (ran: " + last.Ran + ")"
			}
		}
		rows = append(rows, [5]string{fi.Mode().String(), fmt.Sprint(fi.Size()), age, status, name})
	}
	var w [4]int
	for _, r := range rows {
		for i := range w {
			w[i] = max(w[i], len(r[i]))
		}
	}
	for _, r := range rows {
		fmt.Fprintf(ios.Out, "%-*s %*s %*s %*s %s\n", w[0], r[0], w[1], r[1], w[2], r[2], w[3], r[3], r[4])
	}
}

func joinPath(dir, name string) string {
	if dir == "/" {
		return "/" + name
	}
	return dir + "/" + name
}

// fmtAge prints a duration the way ls -l users read ages: 5s, 3m, 2h, 4d.
func fmtAge(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}
