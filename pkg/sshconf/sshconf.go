// Package sshconf holds what reading an OpenSSH client configuration needs
// beyond a key-value parser, shared by the SSH transport (pkg/sshx, when it
// connects) and discovery's import (pkg/inventory, when it lists hosts), so
// that both follow Include alike: its argument splitting and which files an
// Include names, with loops and depth refused.
package sshconf

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// MaxIncludeDepth is how deep Include may nest, as in OpenSSH.
const MaxIncludeDepth = 16

// IncludeFiles returns, sorted, the files the Include pattern names on
// line n of file, which chain (the files that led to it, file last)
// includes: "~/" is the home directory, a relative pattern is relative to
// file's directory, and a pattern that matches nothing names no file. A
// file already in chain is a loop, and a chain deeper than
// MaxIncludeDepth is refused; both errors name the chain.
func IncludeFiles(file string, n int, pattern string, chain []string) ([]string, error) {
	if pattern == "~" || strings.HasPrefix(pattern, "~/") {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil, fmt.Errorf("%s:%d: Include %s: %w", file, n, pattern, err)
		}
		pattern = filepath.Join(home, pattern[1:])
	} else if !filepath.IsAbs(pattern) {
		pattern = filepath.Join(filepath.Dir(file), pattern)
	}
	matches, err := filepath.Glob(pattern)
	if err != nil {
		return nil, fmt.Errorf("%s:%d: Include %s: %w", file, n, pattern, err)
	}
	sort.Strings(matches)
	for i, m := range matches {
		m = filepath.Clean(m)
		matches[i] = m
		for _, c := range chain {
			if c == m {
				return nil, fmt.Errorf("Include loop: %s includes %s", strings.Join(chain, " includes "), m)
			}
		}
		if len(chain) > MaxIncludeDepth {
			return nil, fmt.Errorf("Include nested more than %d deep: %s includes %s", MaxIncludeDepth, strings.Join(chain, " includes "), m)
		}
	}
	return matches, nil
}

// SplitArgs splits the arguments of a line into words as OpenSSH does,
// simply: separated by blanks, double or single quotes grouping, a
// backslash escaping the next character, a word starting with # beginning
// a comment.
func SplitArgs(s string) ([]string, error) {
	var args []string
	var cur strings.Builder
	inArg := false
	var quote rune
	escaped := false
	for _, c := range s {
		switch {
		case escaped:
			cur.WriteRune(c)
			escaped = false
		case c == '\\':
			escaped, inArg = true, true
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(c)
		case c == '"' || c == '\'':
			quote, inArg = c, true
		case c == ' ' || c == '\t':
			if inArg {
				args = append(args, cur.String())
				cur.Reset()
				inArg = false
			}
		case c == '#' && !inArg:
			return args, nil
		default:
			cur.WriteRune(c)
			inArg = true
		}
	}
	if quote != 0 {
		return nil, errors.New("unterminated quote")
	}
	if inArg {
		args = append(args, cur.String())
	}
	return args, nil
}
