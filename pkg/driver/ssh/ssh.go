// Package ssh is the driver of nodes reached over SSH, with package sshx
// as its client: one pool of connections per opened tree, ssh_config and
// known_hosts as OpenSSH reads them.
//
// A device's address (default: its name) is the ssh_config alias; its
// attribute files port, user and ssh_config override ssh_config; its
// inherited ids password is tried after keys.
//
// smctl.yaml section ssh: connect_timeout, retries, strict_host_key_checking
// and config_files.
package ssh

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/smctl/smctl/pkg/config"
	"github.com/smctl/smctl/pkg/driver"
	"github.com/smctl/smctl/pkg/sshx"
	"github.com/smctl/smctl/pkg/transport"
)

// Name is the driver's name and its transport's.
const Name = "ssh"

// Factory registers the driver.
var Factory = driver.Factory{Name: Name, New: func(env driver.Env) driver.Driver { return New(env) }}

// Settings are the smctl.yaml section ssh:; ssh_config supplies the rest.
type Settings struct {
	// ConnectTimeout bounds connecting (TCP and handshake) to one node
	// when ssh_config sets no ConnectTimeout.
	ConnectTimeout config.Duration `yaml:"connect_timeout"`
	// Retries is how often a transiently failed connect is retried.
	Retries int `yaml:"retries"`
	// StrictHostKeyChecking overrides ssh_config's: yes, accept-new or no.
	StrictHostKeyChecking string `yaml:"strict_host_key_checking,omitempty"`
	// ConfigFiles are the ssh_config files read (default: ~/.ssh/config,
	// /etc/ssh/ssh_config); a device's ssh_config attribute replaces them.
	ConfigFiles []string `yaml:"config_files,omitempty"`
}

// Validate implements config.Validator.
func (s *Settings) Validate(at func(key, format string, args ...any) error) error {
	if s.Retries < 0 || s.Retries > 10 {
		return at("retries", "ssh retries must be 0..10")
	}
	if s.ConnectTimeout.Duration <= 0 {
		return at("connect_timeout", "ssh connect_timeout must be positive")
	}
	switch s.StrictHostKeyChecking {
	case "", "yes", "accept-new", "no":
	default:
		return at("strict_host_key_checking", "strict_host_key_checking %q: want yes, accept-new or no", s.StrictHostKeyChecking)
	}
	return nil
}

// Driver reaches nodes over SSH.
type Driver struct {
	env      driver.Env
	settings Settings

	once sync.Once
	pool *sshx.Pool
}

// New returns the driver with its default settings.
func New(env driver.Env) *Driver {
	return &Driver{env: env, settings: Settings{ConnectTimeout: config.Duration{Duration: 10 * time.Second}, Retries: 3}}
}

var (
	_ driver.Configurable = (*Driver)(nil)
	_ driver.Attributer   = (*Driver)(nil)
	_ driver.Transporter  = (*Driver)(nil)
)

// Name implements driver.Driver.
func (*Driver) Name() string { return Name }

// Section implements driver.Configurable.
func (d *Driver) Section() config.Section {
	return config.Section{Key: "ssh", Value: &d.settings,
		Doc: "# ssh           connect_timeout, retries (transient connect failures),\n" +
			"#               strict_host_key_checking (overrides ssh_config), config_files\n"}
}

// Attrs implements driver.Attributer.
func (*Driver) Attrs() []string { return []string{"port", "user", "ssh_config"} }

// Pool is the driver's connection pool, made on first use from the
// settings smctl.yaml left.
func (d *Driver) Pool() *sshx.Pool {
	d.once.Do(func() {
		c := d.settings
		opts := sshx.Options{
			ConfigFiles:    append([]string(nil), c.ConfigFiles...),
			ConnectTimeout: c.ConnectTimeout.Duration,
			Retries:        c.Retries,
			StrictHostKey:  c.StrictHostKeyChecking,
		}
		if d.env.ConnectTimeout > 0 {
			opts.ConnectTimeout = d.env.ConnectTimeout
		}
		for i, f := range opts.ConfigFiles {
			opts.ConfigFiles[i] = expandHome(f)
		}
		d.pool = sshx.NewPool(opts)
	})
	return d.pool
}

// Transport implements driver.Transporter.
func (d *Driver) Transport(_ context.Context, dev driver.Device) (transport.Transport, error) {
	tg := sshx.Target{
		Alias:        dev.Host(),
		User:         dev.Attrs["user"],
		ConfigFile:   expandHome(dev.Attrs["ssh_config"]),
		Password:     dev.Password,
		PasswordUser: dev.User,
		FallbackUser: dev.User,
	}
	if p := dev.Attrs["port"]; p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("device %s: bad port %q", dev.Path, p)
		}
		tg.Port = n
	}
	tr := &sshx.Transport{Pool: d.Pool(), Target: tg}
	if r, ok := d.env.Warm.(sshx.Remote); ok {
		tr.Remote = r
	}
	return tr, nil
}

// Close closes the pool's connections.
func (d *Driver) Close() error {
	if d.pool == nil {
		return nil
	}
	return d.pool.Close()
}

func expandHome(p string) string {
	if strings.HasPrefix(p, "~/") {
		if h, err := os.UserHomeDir(); err == nil {
			return filepath.Join(h, p[2:])
		}
	}
	return p
}
