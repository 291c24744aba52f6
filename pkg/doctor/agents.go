package doctor

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/smctl/smctl/pkg/trust"
	"github.com/smctl/smctl/pkg/vtree"
)

// agentCheck judges the agents of one tree.
type agentCheck struct {
	root   string
	out    []Finding
	judged map[string]bool // directory -> trusted
}

// checkAgents judges every agent smctl may run, as package agent judges
// it before running it, without running it: in each agent directory, the
// files NAME.read and NAME.write (of files at the root of the tree), the
// same in the directory of each declared type, and every program in
// discover.d. Each must be executable and trusted, and so must the
// directory holding it and, inside the state root, every directory above
// it up to the root. A directory named like no declared type whose agents
// would never run is a warning.
func checkAgents(t *vtree.Tree) []Finding {
	c := &agentCheck{root: t.Root, judged: map[string]bool{}}
	types := t.TypeNames()
	total, bad, dirs := 0, 0, 0
	var where []string
	for _, ad := range t.AgentDirs() {
		des, err := os.ReadDir(ad)
		if errors.Is(err, fs.ErrNotExist) {
			c.add(Warn, display(c.root, ad), "missing: only the built-in agents run (agent_dirs in smctl.yaml)")
			continue
		}
		if err != nil {
			c.add(Error, display(c.root, ad), err.Error())
			continue
		}
		where = append(where, display(c.root, ad))
		groups := [][]string{agentFiles(ad, des, false)}
		for _, de := range des {
			if !de.IsDir() || strings.HasPrefix(de.Name(), ".") {
				continue
			}
			sub := filepath.Join(ad, de.Name())
			sdes, err := os.ReadDir(sub)
			if err != nil {
				c.add(Error, display(c.root, sub), err.Error())
				continue
			}
			switch {
			case de.Name() == vtree.DiscoverDir:
				groups = append(groups, agentFiles(sub, sdes, true))
			case slices.Contains(types, de.Name()):
				groups = append(groups, agentFiles(sub, sdes, false))
			default:
				if n := len(agentFiles(sub, sdes, false)); n > 0 {
					c.add(Warn, display(c.root, sub), fmt.Sprintf("no type %s in smctl.yaml: its %d agents never run", de.Name(), n))
				}
			}
		}
		for _, files := range groups {
			if len(files) == 0 {
				continue
			}
			dirs++
			dirOK := c.dir(filepath.Dir(files[0]))
			for _, f := range files {
				total++
				if !c.file(f) || !dirOK {
					bad++
				}
			}
		}
	}
	switch {
	case bad > 0:
		c.add(Error, "agents", fmt.Sprintf("%d of %d agents cannot run", bad, total))
	case total > 0:
		c.add(OK, "agents", fmt.Sprintf("%s in %s of %s, executable and trusted", plural(total, "agent"), plural(dirs, "directory"), strings.Join(where, ", ")))
	default:
		c.add(OK, "agents", "none installed: only the built-in agents run")
	}
	return c.out
}

func (c *agentCheck) add(l Level, subject, msg string) {
	c.out = append(c.out, Finding{l, subject, msg})
}

// agentFiles lists the agents among the entries des of dir, sorted:
// NAME.read and NAME.write, or, in discover.d (all), every file.
// Hidden files are not agents.
func agentFiles(dir string, des []fs.DirEntry, all bool) []string {
	var out []string
	for _, de := range des {
		n := de.Name()
		if de.IsDir() || strings.HasPrefix(n, ".") {
			continue
		}
		stem, ok := strings.CutSuffix(n, ".read")
		if !ok {
			stem, ok = strings.CutSuffix(n, ".write")
		}
		if all || ok && stem != "" {
			out = append(out, filepath.Join(dir, n))
		}
	}
	return out
}

// dir judges the agent directory dir and, inside the state root, the
// directories above it up to the root, each once, adding a finding for
// each one not trusted. It reports whether all are trusted.
func (c *agentCheck) dir(dir string) bool {
	chain := []string{dir}
	if r, err := filepath.Rel(c.root, dir); err == nil && !strings.HasPrefix(r, "..") {
		for p := dir; p != c.root && p != filepath.Dir(p); {
			p = filepath.Dir(p)
			chain = append(chain, p)
		}
	}
	ok := true
	for _, p := range chain {
		good, seen := c.judged[p]
		if !seen {
			_, err := judge(p)
			good = err == nil
			c.judged[p] = good
			if err != nil {
				c.add(Error, display(c.root, p), c.why(err, p)+": the agents below it never run")
			}
		}
		ok = ok && good
	}
	return ok
}

// file judges one agent and adds a finding when it cannot run. It
// reports whether it can.
func (c *agentCheck) file(path string) bool {
	fi, err := judge(path)
	name := display(c.root, path)
	switch {
	case err != nil:
		c.add(Error, name, c.why(err, path))
	case fi.IsDir():
		c.add(Error, name, "a directory, not an agent")
	case !fi.Mode().IsRegular():
		c.add(Error, name, fmt.Sprintf("not a regular file (%v), not an agent", fi.Mode().Type()))
	case fi.Mode().Perm()&0o111 == 0:
		c.add(Error, name, fmt.Sprintf("not executable, mode %04o (chmod +x %s)", fi.Mode().Perm(), path))
	default:
		return true
	}
	return false
}

// why says what is wrong with path, given judge's error.
func (c *agentCheck) why(err error, path string) string {
	var te *trust.Error
	switch {
	case errors.As(err, &te):
		return untrusted(te, path)
	case errors.Is(err, fs.ErrNotExist):
		return "a link to nothing (" + path + ")"
	}
	return err.Error()
}
