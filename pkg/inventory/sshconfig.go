package inventory

import (
	"bufio"
	"fmt"
	"path"
	"path/filepath"
	"strings"

	"github.com/smctl/smctl/pkg/sshconf"
	"github.com/smctl/smctl/pkg/trust"
)

// SSHConfig returns the hosts named in an ssh_config file: every Host
// pattern without wildcards or negation, each once, in file order.
//
// Include directives are followed as OpenSSH follows them: each argument
// is a glob pattern (a leading ~/ is the home directory), a relative one
// taken from the directory of the file holding the Include (for
// ~/.ssh/config, ~/.ssh, as OpenSSH); the matches are read in sorted
// order, and their hosts come where the Include line stands, after the
// hosts named before it. A pattern matching no file is not an error.
// Includes nest up to 16 deep; deeper, or a file including itself, is an
// error naming the chain of files. An Include inside a Host block counts
// only for the hosts that block matches, as in OpenSSH: a host named in
// the included file is listed only if it matches the patterns of the
// blocks holding the Includes that led to it (an Include at the top of a
// file, under Host * or under Match, holds for every host: Match criteria
// are not evaluated).
//
// Every file read, the first and the included ones, must be trusted
// (package trust: owned by root or the user, not writable by group or
// others), as package sshx requires of the ssh_config it connects with.
func SSHConfig(path string) ([]Host, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	r := &sshReader{seen: map[string]bool{}}
	if err := r.read(abs, nil, nil); err != nil {
		return nil, err
	}
	return r.out, nil
}

type sshReader struct {
	out  []Host
	seen map[string]bool
}

// read adds the hosts of file, included through the files of chain
// under the Host patterns of conds.
func (r *sshReader) read(file string, chain []string, conds [][]string) error {
	chain = append(chain, file)
	f, err := trust.Open(file)
	if err != nil {
		if len(chain) > 1 {
			return fmt.Errorf("%s: %w", strings.Join(chain, " includes "), err)
		}
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	var block []string // patterns of the Host block read; nil: any host
	for sc.Scan() {
		n++
		key, args, err := sshLine(sc.Text())
		if err != nil {
			return fmt.Errorf("%s:%d: %w", file, n, err)
		}
		switch strings.ToLower(key) {
		case "host":
			block = args
		hosts:
			for _, s := range args {
				if s == "" || strings.ContainsAny(s, "*?!") || r.seen[s] {
					continue
				}
				for _, c := range conds {
					if !sshMatch(c, s) {
						continue hosts
					}
				}
				r.seen[s] = true
				r.out = append(r.out, Host{Name: s})
			}
		case "match":
			block = nil
		case "include":
			if len(args) == 0 {
				return fmt.Errorf("%s:%d: Include needs a file", file, n)
			}
			for _, pattern := range args {
				inner := conds
				if block != nil {
					inner = append(conds[:len(conds):len(conds)], block)
				}
				if err := r.include(file, n, pattern, chain, inner); err != nil {
					return err
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	return nil
}

// include reads the files matching pattern, named on line n of file.
func (r *sshReader) include(file string, n int, pattern string, chain []string, conds [][]string) error {
	matches, err := sshconf.IncludeFiles(file, n, pattern, chain)
	if err != nil {
		return err
	}
	for _, m := range matches {
		if err := r.read(m, chain, conds); err != nil {
			return err
		}
	}
	return nil
}

// sshMatch reports whether name matches the patterns of a Host line, as
// OpenSSH: one of them matches it and no negated one (!PATTERN) does; *
// matches any run of characters, ? any one character.
func sshMatch(patterns []string, name string) bool {
	found := false
	for _, p := range patterns {
		neg := strings.HasPrefix(p, "!")
		p = strings.TrimPrefix(p, "!")
		// Only * and ? are special in ssh_config patterns.
		p = strings.NewReplacer(`\`, `\\`, "[", `\[`, "]", `\]`).Replace(p)
		if ok, _ := path.Match(p, name); ok {
			if neg {
				return false
			}
			found = true
		}
	}
	return found
}

// sshLine splits an ssh_config line into its keyword and arguments, as
// OpenSSH does: "Keyword args", "Keyword=args" or "Keyword = args", the
// arguments separated by blanks, double or single quotes grouping, a
// backslash escaping the next character. Blank and comment lines give "".
func sshLine(line string) (string, []string, error) {
	line = strings.TrimSpace(line)
	if line == "" || line[0] == '#' {
		return "", nil, nil
	}
	i := strings.IndexAny(line, " \t=")
	if i < 0 {
		return line, nil, nil
	}
	key, rest := line[:i], strings.TrimLeft(line[i:], " \t")
	if strings.HasPrefix(rest, "=") {
		rest = strings.TrimLeft(rest[1:], " \t")
	}
	args, err := sshconf.SplitArgs(rest)
	if err != nil {
		return "", nil, err
	}
	return key, args, nil
}
