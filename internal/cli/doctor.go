package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/smctl/smctl/pkg/agent"
	"github.com/smctl/smctl/pkg/doctor"
	"github.com/smctl/smctl/pkg/vtree"
)

// DoctorOptions are the flags of smctl doctor.
type DoctorOptions struct {
	Sample int // devices with a command file asked to answer
}

// newDoctorCmd builds smctl doctor; runF, when not nil, receives the
// parsed options instead of doctorRun (for tests of flag parsing).
func newDoctorCmd(ios *IOStreams, g *globalOptions, runF func(*DoctorOptions) error) *cobra.Command {
	opts := &DoctorOptions{}
	cmd := &cobra.Command{
		Use:   "doctor [--sample N]",
		Short: "Check a state root: config, agents, key file, known_hosts, nodes",
		Long: `Check the state root as smctl will use it and print one line per finding,
"ok", "warn" or "error", what was checked, and what was found:

    config       smctl.yaml loads (a mistake is named by line and column)
    agents       every agent in the agent directories (NAME.read, NAME.write,
                 discover.d) is executable and trusted, and so are the
                 directories holding them: owned by root or by you, not
                 writable by group or others (the fix is printed)
    key file     the key that decrypts ids files is there and private
    known_hosts  the files smctl's SSH client checks host keys against are
                 trusted and well formed, and how many hosts they know
    tree         how many devices there are, and how many have a command file
    nodes        a sample of the devices with a command file (--sample,
                 evenly spread over them) answers through its transport within
                 --timeout (default 5s); each one that does not is named with
                 the cause, then how many answered and their median time

doctor runs no agent and changes nothing. It exits 0 when there is no
error (warnings do not count), 1 when there is one, 2 on a usage error.`,
		Example: `  smctl doctor
  smctl doctor --sample 50 --timeout 2s
  smctl --root /srv/smctl doctor --sample 0      # files only, no node asked`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Sample < 0 {
				return usageErr("doctor: --sample %d: want 0 or more", opts.Sample)
			}
			if runF != nil {
				return runF(opts)
			}
			return doctorRun(cmd.Context(), ios, g, opts)
		},
	}
	cmd.Flags().IntVar(&opts.Sample, "sample", 10, "devices with a command file asked to answer (0: none)")
	return cmd
}

// doctorRun prints the findings of package doctor as they come, and fails
// when one is an error.
func doctorRun(ctx context.Context, ios *IOStreams, g *globalOptions, opts *DoctorOptions) error {
	dir, err := g.rootDir()
	if err != nil {
		return err
	}
	// The tree bounds a live listing by its timeout: the doctor's own,
	// so that a node that does not answer is named with it.
	dg := *g
	if dg.Timeout <= 0 {
		dg.Timeout = doctor.DefaultTimeout
	}
	errs, warns := 0, 0
	for f := range doctor.Check(ctx, doctor.Options{
		Root: dir,
		Open: func() (*vtree.Tree, error) {
			t, _, err := dg.openDiscovery()
			return t, err
		},
		Sample:  opts.Sample,
		Timeout: dg.Timeout,
		Fanout:  g.Fanout,
	}) {
		fmt.Fprintln(ios.Out, agent.Escape(f.String()))
		switch f.Level {
		case doctor.Error:
			errs++
		case doctor.Warn:
			warns++
		}
	}
	if errs > 0 {
		return &exitError{ExitFailed, fmt.Errorf("doctor: %s, %s", counted(errs, "error"), counted(warns, "warning"))}
	}
	return nil
}

// counted is "1 error", "2 errors".
func counted(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
