// Package stateroot makes a new smctl state root (smctl init): smctl.yaml
// written with the drivers' sections and types, the backing tree, the
// agents, the key, and the first devices, built aside and renamed into
// place so that a failure never leaves a half-made root.
package stateroot

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/smctl/smctl/pkg/config"
	"github.com/smctl/smctl/pkg/creds"
	"github.com/smctl/smctl/pkg/driver"
	"github.com/smctl/smctl/pkg/vtree"
	"github.com/smctl/smctl/pkg/vtree/devices"
)

// ErrInitialized is returned by Init for a root that already exists.
var ErrInitialized = errors.New("already an smctl state root")

// Options say what a new state root holds.
type Options struct {
	// Agents are installed in the first agent directory (smctl's embedded
	// agents.d).
	Agents fs.FS
	// KeyFile, when not empty, replaces the key file path of the
	// configuration; an existing key there is kept.
	KeyFile string
	// Drivers give the sections and default types smctl.yaml is written
	// with; Init closes them.
	Drivers *driver.Set
	// Extensions add their sections to smctl.yaml.
	Extensions []vtree.Extension
	// Devices are created in the new tree, each in its type's directory.
	Devices []NewDevice
	// Discover, when not empty, is written to /discover_master once the
	// devices are made (the built-in localhost server): its agent, an
	// extension's, applies it.
	Discover string
}

// NewDevice is a device Init creates.
type NewDevice struct {
	Type, Name string
	Attrs      map[string]string
}

// Init creates a state root at dir: smctl.yaml, the backing tree with
// /discover_master and the devices asked for, the agents and the key
// file. It builds everything in a temporary sibling directory and renames
// it into place, so a failure never leaves a half-made root.
func Init(ctx context.Context, dir string, o Options) error {
	agents, keyFile, drivers := o.Agents, o.KeyFile, o.Drivers
	if _, err := os.Stat(filepath.Join(dir, config.FileName)); err == nil {
		return fmt.Errorf("%s: %w", dir, ErrInitialized)
	}
	if des, err := os.ReadDir(dir); err == nil && len(des) > 0 {
		return fmt.Errorf("%s exists and is not empty: choose another --root", dir)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".init-")
	if err != nil {
		return err
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(tmp)
		}
	}()
	if drivers == nil {
		drivers = driver.NewSet()
	}
	defer drivers.Close()
	schema := drivers.Schema()
	for _, e := range o.Extensions {
		if s := e.Section(); s.Key != "" {
			schema.Sections = append(schema.Sections, s)
		}
	}
	cfg := schema.Default()
	b, err := schema.Marshal(cfg)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(tmp, config.FileName), b, 0o644); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(tmp, cfg.Tree), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(tmp, cfg.Tree, vtree.DiscoverMaster), nil, 0o644); err != nil {
		return err
	}
	// /groups holds the node groups, one file each (smctl -g, @NAME).
	if err := os.Mkdir(filepath.Join(tmp, cfg.Tree, strings.TrimPrefix(vtree.GroupsDir, "/")), 0o755); err != nil {
		return err
	}
	// /subscriptions holds smctl serve's subscriptions, one file each.
	if err := os.Mkdir(filepath.Join(tmp, cfg.Tree, strings.TrimPrefix(vtree.SubscriptionsDir, "/")), 0o755); err != nil {
		return err
	}
	agentDir := filepath.Join(tmp, cfg.AgentDirs[0])
	if err := os.CopyFS(agentDir, agents); err != nil {
		return fmt.Errorf("installing agents: %w", err)
	}
	// Embedded files carry no execute bits: agents get them back.
	err = filepath.WalkDir(agentDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if isAgentFile(p) {
			return os.Chmod(p, 0o755)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("installing agents: %w", err)
	}
	if keyFile == "" {
		keyFile = filepath.Join(tmp, cfg.KeyFile)
	}
	if _, err := os.Stat(keyFile); errors.Is(err, fs.ErrNotExist) {
		if err := creds.CreateKey(keyFile); err != nil {
			return err
		}
	}
	t, err := vtree.Open(tmp, vtree.Options{KeyFile: keyFile, Drivers: drivers, Extensions: o.Extensions})
	if err != nil {
		return err
	}
	for _, d := range o.Devices {
		if err == nil {
			err = addIn(t, d)
		}
	}
	if err == nil && o.Discover != "" {
		_, err = t.Write(ctx, "/"+vtree.DiscoverMaster, []byte(o.Discover))
	}
	t.Close()
	if err != nil {
		return err
	}
	// MkdirTemp made it private; a root is an ordinary directory whose
	// files' own permissions are the access control (the key stays 0600).
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	if err := os.Remove(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return err
	}
	ok = true
	return nil
}

// isAgentFile reports whether the installed file p is an executable agent.
func isAgentFile(p string) bool {
	base := filepath.Base(p)
	dir := filepath.Base(filepath.Dir(p))
	return strings.HasSuffix(base, ".read") || strings.HasSuffix(base, ".write") ||
		dir == vtree.DiscoverDir || dir == "reference" && base != "README"
}

// addIn creates d in its type's directory, which must be absolute.
func addIn(t *vtree.Tree, d NewDevice) error {
	dir := t.Config.Types[d.Type].Dir
	if !path.IsAbs(dir) {
		return fmt.Errorf("device %s: type %q has no directory of its own (dir: %q)", d.Name, d.Type, dir)
	}
	if d.Name == "" || strings.ContainsAny(d.Name, "/\x00") || strings.HasPrefix(d.Name, ".") || len(d.Name) > vtree.MaxName {
		return fmt.Errorf("bad device name %q", d.Name)
	}
	if err := devices.MakeDirs(t, dir); err != nil {
		return err
	}
	_, err := devices.Add(t, path.Join(dir, d.Name), d.Type, d.Attrs)
	return err
}
