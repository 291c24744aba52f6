package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/smctl/smctl/pkg/config"
	"github.com/smctl/smctl/pkg/discover"
	"github.com/smctl/smctl/pkg/driver"
	"github.com/smctl/smctl/pkg/ha"
	"github.com/smctl/smctl/pkg/serve"
	"github.com/smctl/smctl/pkg/subscribe"
	"github.com/smctl/smctl/pkg/vtree"
)

func newServeCmd(ios *IOStreams, g *globalOptions) *cobra.Command {
	var status bool
	cmd := &cobra.Command{
		Use:   "serve [--status]",
		Short: "Keep SSH connections open for every verb (foreground)",
		Long: `Run in the foreground (under systemd or in a terminal) on the state root and
keep the SSH connections of every verb open between commands, as an OpenSSH
ControlMaster does: a verb run while serve runs sends its SSH commands to
serve, which runs them over a connection it already has. Host keys are
checked exactly as without serve; the verbs keep doing their own tree access
with their own permissions.

serve listens on serve.sock in the state root, mode 0600, and answers only
processes of its own user: it acts with its owner's credentials. A second
serve on the same root refuses, naming the running one's PID. A connection
unused for smctl.yaml's serve: idle_timeout (default 10m) is closed; the
others get an SSH keepalive, and one that is lost is dialled again on its
next use. SIGHUP reloads smctl.yaml; SIGTERM or ^C stops accepting
commands, lets those running finish, and stops.

A verb uses serve whenever its socket is in the state root; --no-serve or
$SMCTL_NO_SERVE=1 runs without it. If serve does not answer, the verb says
so once and runs its commands itself.

serve also refreshes the files of a periodic caching model as they come
due, runs prompted discovery every discovery: every of smctl.yaml, and
runs the subscriptions written to /subscriptions (see README: each file is
"paths=GLOB [every=D] [for=N] [until=TIME] [webhook=URL] [exec=CMD]"; serve
runs only those owned by its user or root and writable by no one else).

--status prints the running serve's connections, commands, periodic
refresh, automatic discovery and subscriptions.`,
		Example: `  smctl serve &
  smctl write /systems/servers/*/command uptime     # through serve's connections
  smctl serve --status
  smctl --no-serve cat /systems/servers/n1/command
  smctl write /subscriptions/power 'paths=/systems/servers/*/power every=30s exec=logger "$SMCTL_PATH: $SMCTL_NEW"'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if status {
				return serveStatus(cmd.Context(), ios, g)
			}
			return serveRun(cmd.Context(), ios, g)
		},
	}
	cmd.Flags().BoolVar(&status, "status", false, "print the running serve's connections and commands")
	return cmd
}

// serveConfig reads serve's settings from the root's smctl.yaml.
func serveConfig(g *globalOptions) (string, serve.Config, error) {
	t, _, err := g.openDiscovery()
	if err != nil {
		return "", serve.Config{}, err
	}
	defer t.Close()
	return t.Root, serve.Config{IdleTimeout: t.Config.Serve.IdleTimeout.Duration}, nil
}

func serveRun(ctx context.Context, ios *IOStreams, g *globalOptions) error {
	root, cfg, err := serveConfig(g)
	if err != nil {
		return err
	}
	srv, err := serve.Listen(root, cfg)
	if errors.Is(err, serve.ErrRunning) {
		return &exitError{ExitUsage, err}
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(ios.ErrOut, "smctl serve: %s, socket %s, pid %d, idle_timeout %s\n", root, srv.Socket(), os.Getpid(), cfg.IdleTimeout)
	// Drivers' connections that listen (a hypervisor's events) live as
	// long as serve, not one pass's tree.
	g.keep = &driver.Keeper{}
	defer g.keep.Close()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	reloaded := make(chan struct{}, 1) // wakes the periodic refresh
	defer signal.Stop(hup)
	go func() {
		for range hup {
			_, cfg, err := serveConfig(g)
			if err != nil {
				ios.Errorf("serve: smctl.yaml not reloaded: %v", err)
				continue
			}
			srv.SetConfig(cfg)
			select {
			case reloaded <- struct{}{}:
			default:
			}
			fmt.Fprintf(ios.ErrOut, "smctl serve: smctl.yaml reloaded, idle_timeout %s\n", cfg.IdleTimeout)
		}
	}()
	srv.Go(func(ctx context.Context) { refreshLoop(ctx, g, srv, reloaded) })
	srv.Go(func(ctx context.Context) { discoverLoop(ctx, g, srv) })
	// High availability: checks, fencing, VMs restarted (package ha).
	h := ha.New()
	srv.SetHA(h.Status)
	srv.Go(func(ctx context.Context) {
		h.Run(ctx, func() (*vtree.Tree, ha.Settings, error) {
			hx := ha.NewExtension()
			t, _, err := g.openWith(srv, discover.New(), hx)
			return t, hx.Settings(), err
		})
	})
	subs := &subscribe.Manager{Root: root, Logf: func(format string, args ...any) {
		fmt.Fprintf(ios.ErrOut, "smctl serve: "+format+"\n", args...)
	}, Open: func() (subscribe.Tree, error) {
		t, _, err := g.openWarm(srv)
		return t, err
	}}
	srv.SetSubscriptions(subs.Status)
	srv.Go(subs.Run)
	if err := srv.Serve(ctx); err != nil {
		return err
	}
	fmt.Fprintf(ios.ErrOut, "smctl serve: stopped\n")
	return &exitError{ExitOK, nil} // a signal is how serve ends: not an interruption
}

// refreshLoop runs the read agents of the files whose caching model is
// periodic as they come due (serve.Refresh), over serve's own connections,
// until ctx ends. The tree is opened for each pass: devices discovered
// meanwhile are seen, and a changed smctl.yaml takes effect (at once when
// reloaded says it was reloaded).
func refreshLoop(ctx context.Context, g *globalOptions, srv *serve.Server, reloaded <-chan struct{}) {
	for {
		wait := time.Minute // no periodic file: look again in a minute
		t, _, err := g.openWarm(srv)
		if err == nil && !slices.ContainsFunc(t.Config.Cache, func(r config.CacheRule) bool { return r.Model == config.Periodic }) {
			t.Close() // no periodic rule: nothing to walk the tree for
			srv.NoteRefresh(serve.Refreshed{}, nil)
		} else if err == nil {
			var r serve.Refreshed
			r, err = serve.Refresh(ctx, t, t.Config.CachePolicy, t.Fanout())
			t.Close()
			if r.Files > 0 {
				wait = min(max(r.Next, 100*time.Millisecond), time.Minute)
			}
			srv.NoteRefresh(r, err)
		} else {
			srv.NoteRefresh(serve.Refreshed{}, err)
		}
		select {
		case <-ctx.Done():
			return
		case <-reloaded:
		case <-time.After(wait):
		}
	}
}

// discoverLoop runs prompted discovery every discovery: every of
// smctl.yaml (automatic discovery), first one period after serve starts,
// until ctx ends; smctl.yaml is read again for each wait, so a reload
// takes effect. Its discovery tracks what it was told of: a device no
// longer reported is reported as vanished.
func discoverLoop(ctx context.Context, g *globalOptions, srv *serve.Server) {
	track := discover.New()
	track.Track()
	for {
		t, d, err := g.openWarm(srv)
		every := time.Duration(0)
		if err == nil {
			every = d.Every()
			t.Close()
		}
		wait := every
		if every <= 0 {
			wait = time.Minute // not asked for: look again in a minute
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		if every <= 0 {
			continue
		}
		srv.NoteDiscovery(discoverOnce(ctx, g, srv, track))
	}
}

// discoverOnce runs prompted discovery as writing 1 to /discover_master
// does, over serve's connections, with the discovery d, and returns what
// it reported (also stored in /discover_master: watch sees it).
func discoverOnce(ctx context.Context, g *globalOptions, srv *serve.Server, d *discover.Discovery) serve.Discovered {
	at := time.Now()
	t, _, err := g.openWith(srv, d)
	if err != nil {
		return serve.Discovered{At: at, Err: err.Error()}
	}
	defer t.Close()
	res, err := t.Write(ctx, "/"+vtree.DiscoverMaster, []byte("1\n"))
	out := serve.Discovered{At: at}
	if res != nil {
		out.Report = strings.TrimSpace(string(res.Content))
	}
	if err != nil {
		out.Err = err.Error()
	}
	return out
}

func serveStatus(ctx context.Context, ios *IOStreams, g *globalOptions) error {
	root, err := g.rootDir()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	st, err := serve.Ask(ctx, root)
	if err != nil {
		return &exitError{ExitFailed, err}
	}
	fmt.Fprintf(ios.Out, "smctl serve on %s: pid %d, up %s, idle_timeout %s\n", st.Root, st.PID, time.Since(st.Started).Round(time.Second), st.IdleTimeout)
	fmt.Fprintf(ios.Out, "connections: %d open, %d of them idle\n", st.Open, st.Idle)
	fmt.Fprintf(ios.Out, "commands: %d running, %d run, %d of them failed; %d connections of other users refused\n", st.InFlight, st.Served, st.Failed, st.Refused)
	switch r := st.Refresh; {
	case st.RefreshErr != "":
		fmt.Fprintf(ios.Out, "periodic refresh: failed %s ago: %s\n", time.Since(st.RefreshAt).Round(time.Second), st.RefreshErr)
	case r.Files > 0:
		fmt.Fprintf(ios.Out, "periodic refresh: %d files; last pass %s ago read %d, %d of them failed; next due in %s\n",
			r.Files, time.Since(st.RefreshAt).Round(time.Second), r.Read, r.Failed, r.Next.Round(time.Second))
	default:
		fmt.Fprintf(ios.Out, "periodic refresh: no file of a periodic caching model\n")
	}
	if d := st.Discovery; !d.At.IsZero() {
		report := strings.ReplaceAll(d.Report, "\n", "; ")
		if d.Err != "" {
			report = strings.TrimPrefix(report+"; failed: "+d.Err, "; ")
		}
		fmt.Fprintf(ios.Out, "automatic discovery: %s ago: %s\n", time.Since(d.At).Round(time.Second), report)
	}
	for _, l := range st.HA {
		fmt.Fprintf(ios.Out, "high availability: %s\n", l)
	}
	fmt.Fprintf(ios.Out, "subscriptions: %d\n", len(st.Subscriptions))
	for _, l := range st.Subscriptions {
		fmt.Fprintf(ios.Out, "  %s\n", l)
	}
	return nil
}
