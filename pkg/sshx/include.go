package sshx

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/kevinburke/ssh_config"

	"github.com/smctl/smctl/pkg/sshconf"
	"github.com/smctl/smctl/pkg/trust"
)

// Include directives are followed here, not by package ssh_config: the
// library would resolve a relative path against the passwd home's ~/.ssh,
// glob differently and read the included files without judging them. The
// files are expanded by textual inclusion before the library sees any
// text, and an Include line never reaches it, so it reads no file itself.
//
// The rules are OpenSSH's, as pkg/inventory's SSHConfig applies them to
// list hosts (the walker is duplicated there, small, rather than shared:
// neither package should import the other):
//
//   - every argument of Include is a glob pattern, a leading ~/ meaning the
//     home directory and a relative one taken from the directory of the
//     file holding the Include; the matches are read in sorted order, where
//     the Include line stands; a pattern matching nothing is not an error;
//   - every file read, the first and the included ones, must be trusted
//     (package trust); an untrusted one fails the lookup, naming the chain
//     of files that led to it;
//   - Includes nest up to 16 deep; deeper, or a file including itself, is
//     an error naming the chain;
//   - an Include inside a Host or Match block counts only for the hosts
//     that block matches: the lines at the top of the included file, and
//     its own Host and Match blocks, apply to an alias only if it also
//     matches the blocks holding the Includes that led to them.
//
// How: the files are flattened into one text. The included file's leading
// lines are put under a "Host *" line of their own, and after the included
// text the including block is re-opened by writing its Host or Match line
// again, so the lines after the Include stay under it. Each block of the
// flat text (one entry of ssh_config.Config.Hosts, the first being the
// library's implicit "Host *") records the blocks that held the Includes
// leading to it; lookup requires the alias to match them too, as OpenSSH,
// which never matches anything in a file included from a block that did
// not match. Match blocks are the library's (Match all and Match host,
// the latter on the alias); a Match line is re-opened like a Host line.
// Limits: an included file that does not exist when opened (a dangling
// symlink matched by the glob) is skipped, as OpenSSH skips it; files are
// compared by cleaned path for loops, so a loop through symlinks is caught
// by the depth limit instead; Match criteria other than all and host are
// refused by the library, as before. A relative include is taken from the
// directory of the including file, as pkg/inventory does: OpenSSH takes it
// from ~/.ssh for any user file and /etc/ssh for system ones, which is the
// same for ~/.ssh/config and /etc/ssh/ssh_config and their includes there,
// and differs only for files elsewhere (ssh -F, a node's ssh_config).

// flatConfig is an ssh_config file with its Includes expanded.
type flatConfig struct {
	cfg *ssh_config.Config
	// conds[i] are the indexes in cfg.Hosts of the blocks holding the
	// Includes that led to block i; it applies only where they match too.
	conds [][]int
}

// matches reports whether block i applies to alias.
func (c *flatConfig) matches(i int, alias string) bool {
	if !c.cfg.Hosts[i].Matches(alias) {
		return false
	}
	for _, j := range c.conds[i] {
		if !c.cfg.Hosts[j].Matches(alias) {
			return false
		}
	}
	return true
}

// readConfig reads the ssh_config file path and the files it includes.
// A missing path is (nil, nil).
func readConfig(path string) (*flatConfig, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	e := &expander{conds: [][]int{nil}} // the implicit Host * of the library
	if err := e.file(abs, nil, nil); err != nil {
		if os.IsNotExist(err) {
			return nil, nil
		}
		return nil, err
	}
	cfg, err := ssh_config.DecodeBytes([]byte(e.text.String()))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(cfg.Hosts) != len(e.conds) {
		return nil, fmt.Errorf("%s: %d blocks read, %d expected", path, len(cfg.Hosts), len(e.conds))
	}
	return &flatConfig{cfg: cfg, conds: e.conds}, nil
}

// expander writes the flat text of a configuration.
type expander struct {
	text  strings.Builder
	conds [][]int // of each block written, the implicit one first
}

// block starts a block with its Host or Match line, under conds; it returns
// the block's index.
func (e *expander) block(line string, conds []int) int {
	e.text.WriteString(line + "\n")
	e.conds = append(e.conds, conds)
	return len(e.conds) - 1
}

// file writes the text of file, included through the files of chain from
// the blocks conds.
func (e *expander) file(file string, chain []string, conds []int) error {
	chain = append(chain, file)
	f, err := trust.Open(file)
	if err != nil {
		if len(chain) > 1 {
			if os.IsNotExist(err) {
				return nil
			}
			return fmt.Errorf("%s: %w", strings.Join(chain, " includes "), err)
		}
		return err
	}
	defer f.Close()
	header, cur := "Host *", 0
	if len(chain) > 1 {
		cur = e.block(header, conds)
	}
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		// A carriage return is an end of line to the library: refused
		// inside a line, lest it hide a line from this reader.
		if strings.ContainsRune(line, '\r') {
			return fmt.Errorf("%s:%d: carriage return inside a line", file, n)
		}
		if line == "" || line[0] == '#' {
			continue
		}
		key, rest := splitKey(line)
		switch strings.ToLower(key) {
		case "host", "match":
			header = line
			cur = e.block(line, conds)
		case "include":
			args, err := sshconf.SplitArgs(rest)
			if err != nil {
				return fmt.Errorf("%s:%d: %w", file, n, err)
			}
			if len(args) == 0 {
				return fmt.Errorf("%s:%d: Include needs a file", file, n)
			}
			inner := append(e.conds[cur][:len(e.conds[cur]):len(e.conds[cur])], cur)
			before := len(e.conds)
			for _, pattern := range args {
				if err := e.include(file, n, pattern, chain, inner); err != nil {
					return err
				}
			}
			if len(e.conds) != before {
				// Back under the block holding the Include.
				cur = e.block(header, conds)
			}
		default:
			e.text.WriteString(line + "\n")
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	return nil
}

// include writes the files matching pattern, named on line n of file.
func (e *expander) include(file string, n int, pattern string, chain []string, conds []int) error {
	matches, err := sshconf.IncludeFiles(file, n, pattern, chain)
	if err != nil {
		return err
	}
	for _, m := range matches {
		if err := e.file(m, chain, conds); err != nil {
			return err
		}
	}
	return nil
}

// splitKey splits a trimmed, non-empty ssh_config line into its keyword
// and the rest: "Keyword args", "Keyword=args" or "Keyword = args". The
// keyword ends where package ssh_config ends it, at a blank or "=", so
// that a line this reader does not take for an Include is not one for the
// library either.
func splitKey(line string) (key, rest string) {
	i := strings.IndexAny(line, " \t=")
	if i < 0 {
		return line, ""
	}
	key, rest = line[:i], strings.TrimLeft(line[i:], " \t")
	if strings.HasPrefix(rest, "=") {
		rest = strings.TrimLeft(rest[1:], " \t")
	}
	return key, rest
}
