// Package doctor checks an smctl state root the way smctl will use it and
// reports what it finds, one Finding at a time: the configuration, the
// agents (execute bits and trust), the key file, the known_hosts files,
// the tree, and whether a sample of the devices with a command file
// answers through their transport.
//
// # Model
//
// Check yields findings as it goes (an iter.Seq), section by section:
// a section's findings come when it is done, so a slow node sample does
// not hold back the lines above it. Each finding has a level: OK, Warn
// (worth knowing, smctl still works) or Error (something will fail). A
// configuration that does not load ends the check, since everything else
// depends on it.
//
// # Safety
//
// The doctor runs no agent: it judges agent files and directories with
// the rules smctl runs them under (package trust, on the open file) but
// never executes them, and it reaches the sampled devices only through
// their transport (the tree's Transport), running "true", which stores
// nothing in the tree.
//
// # Concurrency
//
// The sample is asked in parallel (errgroup, bounded by the fan-out), each
// device under its own timeout; its findings are in sample order.
package doctor

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/smctl/smctl/pkg/config"
	"github.com/smctl/smctl/pkg/trust"
	"github.com/smctl/smctl/pkg/vtree"
)

// Level is how much a finding matters.
type Level int

// The levels, in increasing order of trouble.
const (
	OK Level = iota
	Warn
	Error
)

// String is the level as a finding's line starts: ok, warn or error.
func (l Level) String() string {
	switch l {
	case OK:
		return "ok"
	case Warn:
		return "warn"
	}
	return "error"
}

// Finding is one thing the doctor found.
type Finding struct {
	Level Level
	// Subject is what was checked: "config", "agents.d/server/power.read",
	// "key file /root/key", "known_hosts", "nodes".
	Subject string
	// Msg says what was found and, for a problem, what to do.
	Msg string
}

// String is the finding as one line: "LEVEL SUBJECT: MSG".
func (f Finding) String() string { return f.Level.String() + " " + f.Subject + ": " + f.Msg }

// DefaultTimeout bounds one sampled device's answer when Options.Timeout
// is zero.
const DefaultTimeout = 5 * time.Second

// Options say what to check.
type Options struct {
	// Root is the state root directory, named by findings made before the
	// tree is open.
	Root string
	// Open opens the tree of the state root as smctl's verbs open it,
	// with the drivers and extensions whose sections smctl.yaml may hold.
	// Check closes it.
	Open func() (*vtree.Tree, error)
	// Sample is how many devices with a command file are asked to answer
	// (0: none), evenly spaced in the sorted list of them.
	Sample int
	// Timeout bounds each sampled device's answer (0: DefaultTimeout).
	Timeout time.Duration
	// Fanout is how many devices are asked at once (0: the tree's fanout).
	Fanout int
	// KnownHosts are the known_hosts files checked; nil means those
	// OpenSSH's configuration (~/.ssh/config, /etc/ssh/ssh_config) names
	// for a host it has no block for.
	KnownHosts []string
}

// Check checks the state root o describes and yields its findings. It
// stops early when the loop over it does, or when ctx ends (the node
// sample reports what did not answer in time).
func Check(ctx context.Context, o Options) iter.Seq[Finding] {
	return func(yield func(Finding) bool) {
		t, f := open(o)
		if !yield(f) || t == nil {
			if t != nil {
				t.Close()
			}
			return
		}
		defer t.Close()
		tr, treeFindings := walkTree(ctx, t)
		sections := []func() []Finding{
			func() []Finding { return checkAgents(t) },
			func() []Finding { return checkKey(t.KeyFile(), tr.ids) },
			func() []Finding { return checkKnownHosts(o.KnownHosts) },
			func() []Finding { return treeFindings },
			func() []Finding { return checkNodes(ctx, t, tr.commands, o) },
		}
		for _, s := range sections {
			for _, f := range s() {
				if !yield(f) {
					return
				}
			}
		}
	}
}

// open opens the tree and judges the configuration: a tree and an OK
// finding, or no tree and the error that stopped it.
func open(o Options) (*vtree.Tree, Finding) {
	t, err := o.Open()
	var ce *config.Error
	var te *trust.Error
	switch {
	case err == nil:
		names := t.TypeNames()
		return t, Finding{OK, "config", fmt.Sprintf("%s parsed (%d types: %s)", config.FileName, len(names), strings.Join(names, ", "))}
	case errors.Is(err, vtree.ErrNoRoot):
		return nil, Finding{Error, "root", err.Error()}
	case errors.As(err, &ce):
		return nil, Finding{Error, "config", err.Error()}
	case errors.As(err, &te):
		return nil, Finding{Error, "config", untrusted(te, te.Name)}
	}
	return nil, Finding{Error, "root " + o.Root, err.Error()}
}

// untrusted says why the file at path (te's) is not trusted and how to
// fix it: "writable by its group, mode 0664 (chmod g-w PATH)".
func untrusted(te *trust.Error, path string) string {
	var fix string
	switch {
	case strings.Contains(te.Why, "owned by another user"):
		fix = fmt.Sprintf("owner uid %d: chown %s %s, or remove it", te.UID, currentUser(), path)
	case strings.Contains(te.Why, "group"):
		fix = "chmod g-w " + path
		if te.Mode&0o002 != 0 {
			fix = "chmod go-w " + path
		}
	case strings.Contains(te.Why, "others"):
		fix = "chmod o-w " + path
	default:
		return te.Error()
	}
	return fmt.Sprintf("%s, mode %04o (%s)", strings.TrimPrefix(te.Why, "a directory "), te.Mode.Perm(), fix)
}

// currentUser names the running user for a chown hint.
func currentUser() string {
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	return fmt.Sprint(os.Geteuid())
}

// judge opens the file or directory at path and judges it as smctl does
// before it runs an agent: trusted on the open file. It returns the
// file's information, or nil and the reason it is not trusted (a
// *trust.Error) or cannot be opened.
func judge(path string) (os.FileInfo, error) {
	// O_NONBLOCK: a FIFO planted where an agent belongs is judged (not a
	// regular file), never waited on for a writer.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if err := trust.Info(path, fi); err != nil {
		return fi, err
	}
	return fi, nil
}

// display names path for a finding: relative to the state root when it
// is inside it ("agents.d/server/power.read"), else as it is.
func display(root, path string) string {
	if r, err := filepath.Rel(root, path); err == nil && r != "." && !strings.HasPrefix(r, "..") {
		return r
	}
	return path
}
