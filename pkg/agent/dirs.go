package agent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/smctl/smctl/pkg/status"
	"github.com/smctl/smctl/pkg/trust"
)

// Dirs finds executable agents in agent directories, Sysman's way: an
// executable DIR/<type>/<file>.read or .write is the agent of the files
// called <file> in devices of that type, DIR/<file>.<op> of a file at the
// root of the tree. The first directory listing a name wins.
//
// A directory others may change could swap the agents smctl runs, so each
// is judged (pkg/trust), and, inside the state root, every directory above
// it up to the root: an agent found in a directory that is not trusted is
// kept, so that it overrides a built-in of the same name, but never runs.
// Judgements are kept for the life of the Dirs. It is safe for concurrent
// use.
type Dirs struct {
	// Dirs are the agent directories, absolute, in order.
	Dirs []string
	// Root is the state root: directories inside it are judged up to it.
	Root string
	// PasswordArgv names agents ("power.read") that also get -p PASSWORD.
	PasswordArgv []string
	// Self is the smctl binary, given to agents as $SMCTL_BIN.
	Self string
	// Reserved reports file names no agent may take over.
	Reserved func(name string) bool

	mu     sync.Mutex
	judged map[string]error // directory -> why it is not trusted
}

// Pair is the agents of one file.
type Pair struct{ Read, Write Agent }

// Find returns the agents found for devices of type typ ("" for the root
// of the tree), by file name.
func (d *Dirs) Find(typ string) map[string]Pair {
	out := map[string]Pair{}
	seen := map[string]bool{}
	for _, dir := range d.Dirs {
		if typ != "" {
			dir = filepath.Join(dir, typ)
		}
		des, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		dirErr := d.trust(dir)
		for _, de := range des {
			if de.IsDir() || strings.HasPrefix(de.Name(), ".") {
				continue
			}
			var name string
			var op Op
			switch {
			case strings.HasSuffix(de.Name(), ".read"):
				name, op = strings.TrimSuffix(de.Name(), ".read"), Read
			case strings.HasSuffix(de.Name(), ".write"):
				name, op = strings.TrimSuffix(de.Name(), ".write"), Write
			default:
				continue
			}
			if name == "" || seen[de.Name()] || d.Reserved != nil && d.Reserved(name) {
				continue
			}
			seen[de.Name()] = true
			var a Agent = &Exec{
				Path:         filepath.Join(dir, de.Name()),
				PassPassword: slices.Contains(d.PasswordArgv, de.Name()),
				Self:         d.Self,
			}
			if dirErr != nil {
				a = untrusted{dirErr}
			}
			p := out[name]
			if op == Read {
				p.Read = a
			} else {
				p.Write = a
			}
			out[name] = p
		}
	}
	return out
}

// trust judges an agent directory (and, inside the state root, the
// directories from the root down to it).
func (d *Dirs) trust(dir string) error {
	d.mu.Lock()
	err, ok := d.judged[dir]
	d.mu.Unlock()
	if ok {
		return err
	}
	dirs := []string{dir}
	if r, rerr := filepath.Rel(d.Root, dir); d.Root != "" && rerr == nil && !strings.HasPrefix(r, "..") {
		for p := filepath.Dir(dir); ; p = filepath.Dir(p) {
			dirs = append(dirs, p)
			if p == d.Root || p == filepath.Dir(p) {
				break
			}
		}
	}
	for _, p := range dirs {
		f, oerr := os.Open(p)
		if oerr != nil {
			err = oerr
			break
		}
		err = trust.File(p, f)
		f.Close()
		if err != nil {
			break
		}
	}
	d.mu.Lock()
	if d.judged == nil {
		d.judged = map[string]error{}
	}
	d.judged[dir] = err
	d.mu.Unlock()
	return err
}

// untrusted stands for an agent found in a directory that is not
// trusted: it never runs.
type untrusted struct{ err error }

func (u untrusted) Run(context.Context, *Request) (Result, error) {
	return Result{}, Fail(status.Usage, fmt.Errorf("agent directory: %w", u.err))
}
