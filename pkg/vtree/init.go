package vtree

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/smctl/smctl/pkg/config"
	"github.com/smctl/smctl/pkg/creds"
	"github.com/smctl/smctl/pkg/driver"
)

// ErrInitialized is returned by Init for a root that already exists.
var ErrInitialized = errors.New("already an smctl state root")

// Init creates a state root at dir: smctl.yaml, the backing tree with
// /discover_master and the localhost server, the agents from the agents
// file system (smctl's embedded agents.d) and the key file. It builds
// everything in a temporary sibling directory and renames it into place,
// so a failure never leaves a half-made root. keyFile, when not empty,
// replaces the key file path of the configuration; an existing key there
// is kept. drivers give the sections and default types smctl.yaml is
// written with; Init closes them.
func Init(ctx context.Context, dir string, agents fs.FS, keyFile string, drivers *driver.Set) error {
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
	if err := os.WriteFile(filepath.Join(tmp, cfg.Tree, DiscoverMaster), nil, 0o644); err != nil {
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
	t, err := Open(tmp, Options{KeyFile: keyFile, Drivers: drivers})
	if err != nil {
		return err
	}
	_, err = t.Write(ctx, "/"+DiscoverMaster, []byte("server localhost transport=local\n"))
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
		dir == DiscoverDir || dir == "reference" && base != "README"
}
