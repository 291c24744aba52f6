package sshx

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kevinburke/ssh_config"
)

// Settings are what OpenSSH's configuration says about one host alias.
type Settings struct {
	Alias            string
	HostName         string
	Port             int
	User             string
	IdentityFiles    []string
	IdentitiesOnly   bool
	IdentityAgent    string // "" means $SSH_AUTH_SOCK; "none" disables
	ProxyJump        string
	ConnectTimeout   time.Duration
	StrictHostKey    string // yes, accept-new, no
	KnownHostsFiles  []string
	GlobalKnownHosts []string
	HostKeyAlias     string
	PasswordAuth     bool

	userSet bool // User came from ssh_config
}

// configCache parses each ssh_config file once per process.
type configCache struct {
	mu    sync.Mutex
	files map[string]*parsedConfig
}

type parsedConfig struct {
	cfg *flatConfig
	err error
}

func (c *configCache) load(path string) (*flatConfig, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.files == nil {
		c.files = map[string]*parsedConfig{}
	}
	if p, ok := c.files[path]; ok {
		return p.cfg, p.err
	}
	p := &parsedConfig{}
	// As OpenSSH: a configuration file others may change (or owned by
	// another user) is refused, judged on the open file; so is every file
	// it includes (include.go). A missing file says nothing.
	p.cfg, p.err = readConfig(path)
	if p.err != nil {
		p.err = fmt.Errorf("ssh_config: %w", p.err)
	}
	c.files[path] = p
	return p.cfg, p.err
}

// lookup returns, for alias, the first value of each key across files, as
// OpenSSH does ("the first obtained value will be used"); IdentityFile
// values accumulate.
func (c *configCache) lookup(files []string, alias string) (map[string][]string, error) {
	out := map[string][]string{}
	for _, file := range files {
		cfg, err := c.load(file)
		if err != nil {
			return nil, err
		}
		if cfg == nil {
			continue
		}
		for i, h := range cfg.cfg.Hosts {
			if !cfg.matches(i, alias) {
				continue
			}
			for _, n := range h.Nodes {
				switch t := n.(type) {
				case *ssh_config.KV:
					k := strings.ToLower(t.Key)
					set(out, k, t.Value)
				case *ssh_config.Include:
					// include.go expands Includes; the library sees none.
					return nil, fmt.Errorf("ssh_config %s: unexpanded Include", file)
				}
			}
		}
	}
	return out, nil
}

func set(m map[string][]string, k, v string) {
	if _, ok := m[k]; ok && k != "identityfile" {
		return
	}
	if k == "userknownhostsfile" || k == "globalknownhostsfile" {
		m[k] = strings.Fields(v)
		return
	}
	m[k] = append(m[k], v)
}

// DefaultConfigFiles are the user's and the system's ssh_config.
func DefaultConfigFiles() []string {
	return []string{filepath.Join(homeDir(), ".ssh", "config"), "/etc/ssh/ssh_config"}
}

func homeDir() string {
	if h, err := os.UserHomeDir(); err == nil {
		return h
	}
	return "/"
}

func currentUser() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return os.Getenv("USER")
}

// resolve computes the settings of alias from files.
func (c *configCache) resolve(files []string, alias string) (*Settings, error) {
	kv, err := c.lookup(files, alias)
	if err != nil {
		return nil, err
	}
	first := func(k string) string {
		if v := kv[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	s := &Settings{
		Alias:         alias,
		HostName:      alias,
		Port:          22,
		User:          first("user"),
		IdentityAgent: first("identityagent"),
		ProxyJump:     first("proxyjump"),
		StrictHostKey: strings.ToLower(first("stricthostkeychecking")),
		HostKeyAlias:  first("hostkeyalias"),
		PasswordAuth:  !strings.EqualFold(first("passwordauthentication"), "no"),
	}
	if h := first("hostname"); h != "" {
		s.HostName = strings.ReplaceAll(h, "%h", alias)
	}
	if p := first("port"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("ssh_config: host %s: bad Port %q", alias, p)
		}
		s.Port = n
	}
	if s.User == "" {
		s.User = currentUser()
	} else {
		s.userSet = true
	}
	s.IdentitiesOnly = strings.EqualFold(first("identitiesonly"), "yes")
	if t := first("connecttimeout"); t != "" {
		n, err := strconv.Atoi(t)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("ssh_config: host %s: bad ConnectTimeout %q", alias, t)
		}
		s.ConnectTimeout = time.Duration(n) * time.Second
	}
	switch s.StrictHostKey {
	case "", "ask", "yes", "true":
		s.StrictHostKey = "yes"
	case "accept-new":
	case "no", "off", "false":
		s.StrictHostKey = "no"
	default:
		return nil, fmt.Errorf("ssh_config: host %s: bad StrictHostKeyChecking %q", alias, s.StrictHostKey)
	}
	expand := func(p string) string { return expandPath(p, s) }
	for _, f := range kv["identityfile"] {
		if strings.EqualFold(f, "none") {
			continue
		}
		s.IdentityFiles = append(s.IdentityFiles, expand(f))
	}
	if files := kv["userknownhostsfile"]; len(files) > 0 {
		for _, f := range files {
			if f != "none" {
				s.KnownHostsFiles = append(s.KnownHostsFiles, expand(f))
			}
		}
	} else {
		home := homeDir()
		s.KnownHostsFiles = []string{filepath.Join(home, ".ssh", "known_hosts"), filepath.Join(home, ".ssh", "known_hosts2")}
	}
	if files := kv["globalknownhostsfile"]; len(files) > 0 {
		for _, f := range files {
			if f != "none" {
				s.GlobalKnownHosts = append(s.GlobalKnownHosts, expand(f))
			}
		}
	} else {
		s.GlobalKnownHosts = []string{"/etc/ssh/ssh_known_hosts", "/etc/ssh/ssh_known_hosts2"}
	}
	if s.IdentityAgent != "" && !strings.EqualFold(s.IdentityAgent, "none") && s.IdentityAgent != "SSH_AUTH_SOCK" {
		s.IdentityAgent = expand(strings.TrimPrefix(s.IdentityAgent, "$"))
	}
	return s, nil
}

// expandPath expands ~ and the tokens %h %p %r %u %d %% of OpenSSH.
func expandPath(p string, s *Settings) string {
	home := homeDir()
	if p == "~" {
		p = home
	} else if strings.HasPrefix(p, "~/") {
		p = filepath.Join(home, p[2:])
	}
	if !strings.Contains(p, "%") {
		return p // most paths: no token, and no replacer built per node
	}
	r := strings.NewReplacer("%h", s.HostName, "%p", strconv.Itoa(s.Port), "%r", s.User,
		"%u", currentUser(), "%d", home, "%n", s.Alias, "%%", "%")
	return r.Replace(p)
}
