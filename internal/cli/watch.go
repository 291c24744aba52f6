package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/smctl/smctl/pkg/notify"
)

// WatchOptions are smctl watch's flags.
type WatchOptions struct {
	Paths   []string
	Every   time.Duration
	For     int
	Until   string
	Count   int
	Exec    string
	Webhook string
	Output  string
}

func newWatchCmd(ios *IOStreams, g *globalOptions) *cobra.Command {
	o := &WatchOptions{}
	cmd := &cobra.Command{
		Use:   "watch PATH... [--every D] [--for N] [--until TIME] [--count N] [--exec CMD] [--webhook URL] [-o json]",
		Short: "Print each change of files' values and statuses",
		Long: `Print one line per change of the value or status of the files at PATH (files,
patterns, or directories: the files below them):

    TIME PATH: OLD -> NEW

where a value is the file's content on one line and, when its last run
failed, "(rc N: message)". The values found first are not printed.

Without --every, while smctl serve runs, watch follows the writes of any
process to the stored values (serve's periodic refresh, other commands,
agents) and runs nothing itself; without serve it reads the files every
30s. With --every D, it reads the files every D as cat does, running their
read agents as their caching models say.

--for N prints a change only once the new value held for N consecutive
reads (Nagios' soft and hard states). --count N stops after N changes,
--until TIME (RFC 3339, or a duration from now) at that time. --exec CMD
runs CMD with sh for each change, with SMCTL_PATH, SMCTL_OLD, SMCTL_NEW and
SMCTL_RC set; --webhook URL posts the change as JSON
({"time","path","old","new","rc"}), tried 3 times. -o json prints that
JSON, one object per line.`,
		Example: `  smctl watch /systems/servers/*/power --every 30s --for 2
  smctl watch /systems/servers/n1/command --count 1
  smctl watch @web/proc/loadavg --every 10s -o json
  smctl watch /systems --exec 'logger "$SMCTL_PATH: $SMCTL_OLD -> $SMCTL_NEW"'`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Paths = args
			return watchRun(cmd.Context(), ios, g, o)
		},
	}
	cmd.Flags().DurationVar(&o.Every, "every", 0, "read the files every D (default: follow their writes)")
	cmd.Flags().IntVar(&o.For, "for", 1, "report a change once it held for N consecutive reads")
	cmd.Flags().StringVar(&o.Until, "until", "", "stop at TIME (RFC 3339) or after a duration")
	cmd.Flags().IntVar(&o.Count, "count", 0, "stop after N changes")
	cmd.Flags().StringVar(&o.Exec, "exec", "", "run CMD (sh) for each change")
	cmd.Flags().StringVar(&o.Webhook, "webhook", "", "POST each change as JSON to URL")
	cmd.Flags().StringVarP(&o.Output, "output", "o", "", "json: one object per change")
	return cmd
}

// defaultWatchEvery is how often watch reads the files when nothing else
// refreshes them (no smctl serve) and --every is not given.
const defaultWatchEvery = 30 * time.Second

func watchRun(ctx context.Context, ios *IOStreams, g *globalOptions, o *WatchOptions) error {
	if err := checkOutput(o.Output); err != nil {
		return err
	}
	if o.Every < 0 || o.For < 1 || o.Count < 0 {
		return usageErr("watch: --every, --for and --count want positive values")
	}
	if o.Until != "" {
		end, err := time.Parse(time.RFC3339, o.Until)
		if err != nil {
			d, derr := time.ParseDuration(o.Until)
			if derr != nil || d <= 0 {
				return usageErr("watch: --until %q: want a time (2026-12-31T00:00:00Z) or a duration", o.Until)
			}
			end = time.Now().Add(d)
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, end)
		defer cancel()
	}
	t, _, err := g.openDiscovery()
	if err != nil {
		return err
	}
	defer t.Close()
	if o.Every == 0 && g.serveClient(t.Root) == nil {
		// Nothing refreshes the files but their readers: read them.
		o.Every = defaultWatchEvery
		ios.Errorf("watch: smctl serve is not running here: reading every %s (--every)", o.Every)
	}
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	seen, failed := 0, 0
	emit := func(e notify.Event) {
		if o.Output == "json" {
			b, _ := json.Marshal(e)
			fmt.Fprintf(ios.Out, "%s\n", b)
		} else {
			fmt.Fprintf(ios.Out, "%s %s: %s -> %s\n", e.Time.Format(time.RFC3339), e.Path, e.Old, e.New)
		}
		if o.Exec != "" {
			if err := notify.Exec(ctx, o.Exec, e, ios.Out, ios.ErrOut); err != nil {
				ios.Errorf("%v", err)
				failed++
			}
		}
		if o.Webhook != "" {
			if err := notify.Post(ctx, o.Webhook, e); err != nil {
				ios.Errorf("%v", err)
				failed++
			}
		}
		if seen++; o.Count > 0 && seen >= o.Count {
			stop()
		}
	}
	err = notify.Watch(ctx, t, o.Paths, notify.Options{Every: o.Every, For: o.For, Width: g.fanout(t)}, emit)
	if err != nil {
		return err
	}
	if failed > 0 {
		return errSomeFailed
	}
	return nil
}
