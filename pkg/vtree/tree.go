// Package vtree is smctl's virtual tree: Sysman's /sysman file system,
// served in process instead of through FUSE.
//
// # Model
//
// A state root holds smctl.yaml, the agent directories and the backing
// tree, a real directory whose files hold the last value read or written,
// so results survive between invocations and Unix permissions on the
// backing files are the access control. A directory containing a hidden
// .type file is a device of that type; the files it shows are its stored
// files plus one file per agent installed for its type (agents.d/<type>/
// power.read makes a readable "power" in every device of that type; a
// driver's built-in one only where the device has the attribute files it
// requires), plus the live directories (proc, sys) read from the node on
// every access. Files at the root take agents from agents.d/<name>.<op>.
//
// Reading a file runs its read agent first (subject to the caching model
// in smctl.yaml) and stores the output; writing runs its write agent and
// stores its output, or the value written when the agent printed nothing.
// Each agent run leaves NAME.status ("<rc> [message]"). Lookup, listing and
// Stat never run agents, except that live directories are listed from the
// node. Special files: ids (encrypted credentials, inherited downwards),
// lock (serialises every agent run below its directory, across processes)
// and NAME.status (read-only).
//
// # Concurrency
//
// A Tree is safe for concurrent use; fan-out runs many reads at once. Every
// method takes a context first: agent runs and live reads honour its
// cancellation, and each agent run is bounded by the configured timeout.
//
// # Errors
//
// Errors are *fs.PathError values naming the virtual path, wrapping
// fs.ErrNotExist, fs.ErrPermission, ErrBadPath, ErrReadOnly and friends, or
// an *AgentError carrying the status code of a failed agent run.
package vtree

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/smctl/smctl/pkg/agent"
	"github.com/smctl/smctl/pkg/config"
	"github.com/smctl/smctl/pkg/driver"
	"github.com/smctl/smctl/pkg/trust"
	"github.com/smctl/smctl/pkg/vtree/ids"
	"github.com/smctl/smctl/pkg/vtree/store"
	"github.com/smctl/smctl/pkg/vtree/vpath"
)

// Names with a meaning of their own.
const (
	typeFile       = store.TypeFile
	statusSuffix   = store.StatusSuffix
	stderrSuffix   = store.StderrSuffix
	IDsName        = store.IDsName
	LockName       = store.LockName
	DiscoverMaster = "discover_master"
	DiscoverAgent  = "discover" // a type's own discovery, run on new devices
	DefineAgent    = "define"   // a type's making of a new device from discovery's options
	RemoveAgent    = "undefine" // what discovery's remove runs first, if the type has it
	DiscoverDir    = "discover.d"
)

// Errors wrapped in *fs.PathError by tree operations.
var (
	ErrReadOnly   = errors.New("read-only: it has a read agent but no write agent")
	ErrStatusFile = errors.New("status and stderr files are written by smctl only")
	ErrLiveWrite  = errors.New("read-only live file")
	ErrIsDir      = errors.New("is a directory")
	ErrNotDir     = errors.New("not a directory")
	ErrNoRoot     = errors.New("no smctl state root")
)

// Options tune Open.
type Options struct {
	// Self is the smctl binary, given to script agents as $SMCTL_BIN.
	Self string
	// KeyFile overrides the key file of smctl.yaml (e.g. $SMCTL_KEY_FILE).
	KeyFile string
	// Timeout overrides the agent timeout of smctl.yaml when positive.
	Timeout time.Duration
	// Drivers reach devices and provide the built-in agents of the types
	// smctl.yaml declares, and own its sections (ssh:, ipmi:). The tree
	// closes them when it is closed. Nil is no driver.
	Drivers *driver.Set
	// Extensions work above the tree through its methods (discovery);
	// they are attached once it is open.
	Extensions []Extension
	// Builtins, when set, adds built-in agents after the drivers' (for
	// embedders and tests).
	Builtins func(r *agent.Registry)
}

// Tree is an opened state root.
type Tree struct {
	Root    string // state root directory
	Config  *config.Config
	store   *store.Store
	opts    Options
	timeout time.Duration
	keyFile string
	reg     agent.Registry

	mu         sync.Mutex
	hooks      map[string]map[string]*hook // by type, then file name
	types      map[string]typeInfo         // device dir (rel) -> type
	agentFiles *agent.Dirs                 // executable agents
	attrList   []string                    // attrNames and the drivers' attributes
	agentMu    sync.Mutex
	dirErr     map[string]error // backing directory -> why it is not trusted
	// Per-command caches: a Tree lives for one smctl command, so lock and
	// ids files, and device attributes, are looked up once per directory
	// (writes through this Tree keep them current).
	devices map[string]Device // by virtual path
	dirs    map[string]*node  // stored directories resolved (storedDir), by virtual path
	ids     *ids.Keyring      // ids files, decrypted once, and their key
}

type hook struct {
	read, write agent.Agent
	file        driver.File // what its driver declares: required attributes, values
}

// Open opens the state root at dir, which smctl init made.
func Open(dir string, opts Options) (*Tree, error) {
	cfgFile := filepath.Join(dir, config.FileName)
	if _, err := os.Stat(cfgFile); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w at %s: create one with \"smctl init\" (or choose another with --root or $SMCTL_ROOT)", ErrNoRoot, dir)
		}
		return nil, err
	}
	// The owner of the state root is trusted with root and the running
	// user: a delegated user works in that owner's tree.
	if fi, err := os.Stat(dir); err == nil {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			trust.TrustOwner(int(st.Uid))
		}
	}
	// smctl.yaml decides which agents run: it must be trusted.
	raw, err := trust.ReadFile(cfgFile, 16<<20)
	if err != nil {
		return nil, err
	}
	if opts.Drivers == nil {
		opts.Drivers = driver.NewSet()
	}
	schema := opts.Drivers.Schema()
	for _, e := range opts.Extensions {
		if s := e.Section(); s.Key != "" {
			schema.Sections = append(schema.Sections, s)
		}
	}
	cfg, err := schema.Parse(raw)
	if err != nil {
		var ce *config.Error
		if errors.As(err, &ce) {
			ce.File = cfgFile
		}
		return nil, err
	}
	treeDir := cfg.Tree
	if !filepath.IsAbs(treeDir) {
		treeDir = filepath.Join(dir, treeDir)
	}
	r, err := os.OpenRoot(treeDir)
	if err != nil {
		return nil, fmt.Errorf("backing tree: %w", err)
	}
	t := &Tree{
		Root:    dir,
		Config:  cfg,
		store:   store.New(r, treeDir),
		dirErr:  map[string]error{},
		opts:    opts,
		timeout: cfg.Timeout.Duration,
		keyFile: cfg.KeyFile,
		hooks:   map[string]map[string]*hook{},
		types:   map[string]typeInfo{},
		devices: map[string]Device{},
		dirs:    map[string]*node{},
	}
	if opts.Timeout > 0 {
		t.timeout = opts.Timeout
	}
	if opts.KeyFile != "" {
		t.keyFile = opts.KeyFile
	}
	if !filepath.IsAbs(t.keyFile) {
		t.keyFile = filepath.Join(dir, t.keyFile)
	}
	t.ids = ids.New(t.store, t.keyFile, func(dir string) bool { return t.store.HasFile(dir, IDsName) },
		func(dir string) { t.store.ForgetFile(store.JoinRel(dir, IDsName)) })
	t.attrList = append(append([]string(nil), attrNames...), opts.Drivers.Attrs()...)
	t.store.Trusted = t.trustedName
	t.agentFiles = &agent.Dirs{Dirs: t.agentDirs(), Root: dir, PasswordArgv: cfg.PasswordArgv, Self: opts.Self, Reserved: reservedName}
	if err := opts.Drivers.Register(&t.reg, cfg.Types); err != nil {
		r.Close()
		return nil, &config.Error{File: cfgFile, Msg: err.Error()}
	}
	for _, e := range opts.Extensions {
		e.Attach(t, &t.reg)
	}
	if opts.Builtins != nil {
		opts.Builtins(&t.reg)
	}
	return t, nil
}

// Close releases the backing tree and the drivers.
func (t *Tree) Close() error {
	err := t.opts.Drivers.Close()
	t.store.CloseDirs()
	if cerr := t.store.Root().Close(); err == nil {
		err = cerr
	}
	return err
}

// Timeout is the bound on one agent run.
func (t *Tree) Timeout() time.Duration { return t.timeout }

// KeyFile is the path of the key that encrypts ids files.
func (t *Tree) KeyFile() string { return t.keyFile }

// Drivers are the tree's drivers.
func (t *Tree) Drivers() *driver.Set { return t.opts.Drivers }

// agentDirs returns the configured agent directories as absolute paths.
func (t *Tree) agentDirs() []string {
	var out []string
	for _, d := range t.Config.AgentDirs {
		if !filepath.IsAbs(d) {
			d = filepath.Join(t.Root, d)
		}
		out = append(out, d)
	}
	return out
}

// hooksFor returns the agents of the files of devices of type typ ("" for
// the root of the tree): the built-ins, overridden by executables found in
// the agent directories (the first directory listing a name wins).
func (t *Tree) hooksFor(typ string) map[string]*hook {
	t.mu.Lock()
	defer t.mu.Unlock()
	if h, ok := t.hooks[typ]; ok {
		return h
	}
	hs := map[string]*hook{}
	get := func(name string) *hook {
		if hs[name] == nil {
			hs[name] = &hook{}
		}
		return hs[name]
	}
	for name, ops := range t.reg.Names(typ) {
		get(name).file = t.opts.Drivers.File(typ, name)
		for _, op := range ops {
			a, _ := t.reg.Lookup(agent.Key{Type: typ, Name: name, Op: op})
			if op == agent.Read {
				get(name).read = a
			} else {
				get(name).write = a
			}
		}
	}
	for name, p := range t.agentFiles.Find(typ) {
		get(name).file.Requires = nil // an agent of one's own is always there
		if p.Read != nil {
			get(name).read = p.Read
		}
		if p.Write != nil {
			get(name).write, get(name).file.Values = p.Write, nil
		}
	}
	t.hooks[typ] = hs
	return hs
}

// reservedName reports names that agents cannot take over.
func reservedName(name string) bool {
	return name == IDsName || name == LockName || isResultName(name)
}

// isResultName reports NAME.status and NAME.stderr, the files the tree
// keeps beside a file whose agent ran: read-only to users.
func isResultName(name string) bool {
	return name != statusSuffix && strings.HasSuffix(name, statusSuffix) ||
		name != stderrSuffix && strings.HasSuffix(name, stderrSuffix)
}

// Device is a device directory.
type Device = driver.Device

// File is what a driver declares of a file of a device type (WriteSpec).
type File = driver.File

// attrNames are the attribute files a device may have besides those its
// type's attrs name.
var attrNames = []string{"address", "transport"}

// attrNames are the tree's attribute names and the drivers'.
// It returns a new slice, which callers may append to.
func (t *Tree) attrNames() []string { return slices.Clone(t.attrList) }

func (t *Tree) attrs(dev string, typ string) (map[string]string, error) {
	out := map[string]string{}
	files, err := t.store.ReadFiles(vpath.Rel(dev), t.DeviceAttrs(typ), 4096)
	for n, b := range files {
		out[n] = strings.TrimSpace(string(b))
	}
	return out, err
}

// node is a resolved virtual path.
type node struct {
	path  string // clean virtual path
	rel   string // backing path ("" for live entries)
	isDir bool
	// dev is the directory whose agents apply: the parent device of a file
	// directly inside it ("/" with type "" at the root); devPath is the
	// nearest device above the path (for locks, environment, transport).
	devPath string
	devType string
	devErr  error // the nearest device refuses to act (untrusted type)
	hook    *hook // agents of this file, nil if none
	// live is the node-side path for entries in live directories.
	live     string
	liveRoot bool // the live directory itself
	exists   bool // has a backing file or directory
	special  string
}

// resolve maps a clean virtual path to a node. With create, a missing final
// name in an existing directory resolves to a new plain file.
func (t *Tree) resolve(ctx context.Context, p string, create bool) (*node, error) {
	n := &node{path: "/", rel: ".", isDir: true, devPath: "/", exists: true}
	if p == "/" {
		return n, nil
	}
	for rest, more := p[1:], true; more; {
		var el string
		el, rest, more = strings.Cut(rest, "/")
		last := !more
		if n.live != "" {
			if last && isResultName(el) {
				return t.liveResult(n, el), nil
			}
			// Inside a live directory the node decides what is what.
			n.live += "/" + el
			n.path = vpath.Join(n.path, el)
			n.liveRoot, n.isDir = false, false
			continue
		}
		if !n.isDir {
			return nil, pathErr("lookup", p, ErrNotDir)
		}
		parentDevType, parentIsDev := t.dirType(n)
		childRel := store.JoinRel(n.rel, el)
		childPath := vpath.Join(n.path, el)
		if t.shadowed(n, el) {
			n = &node{path: childPath, isDir: true, devPath: n.path, devType: parentDevType, live: "/" + el, liveRoot: true}
			if last {
				return n, nil
			}
			continue
		}
		isDir, err := t.store.IsDir(childRel)
		switch {
		case err == nil:
			n = t.child(n, el, childPath, childRel, isDir)
		case errors.Is(err, fs.ErrNotExist):
			var h *hook
			if parentIsDev {
				h = t.hooksFor(parentDevType)[el]
			}
			if h != nil && !create && !t.reaches(n.path, h) {
				h = nil // its driver cannot reach the device: no such file
			}
			sp := specialName(el, n.path)
			if !last {
				return nil, pathErr("lookup", p, fs.ErrNotExist)
			}
			// The root always shows ids (Sysman's top-level /ids), empty
			// until credentials are written.
			rootIDs := sp == specialIDs && n.path == "/"
			if h == nil && !rootIDs && !create && !t.store.QuietStderr(n.rel, el) {
				return nil, pathErr("lookup", p, fs.ErrNotExist)
			}
			n = &node{path: childPath, rel: childRel, devPath: n.devPath, devType: n.devType, devErr: n.devErr, hook: h, special: sp}
		default:
			return nil, pathErr("lookup", p, err)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return n, nil
}

// shadowed reports whether el in the directory node n is a live directory
// of a device, which shadows any stored entry.
func (t *Tree) shadowed(n *node, el string) bool {
	typ, isDev := t.dirType(n)
	return isDev && typ != "" && t.isLiveType(typ) && slices.Contains(t.Config.LiveDirs, el)
}

// dirType reports whether the directory node n carries agents for the files
// directly inside it, and their type: the root (type "") and devices do.
func (t *Tree) dirType(n *node) (string, bool) {
	if n.path == "/" {
		return "", true
	}
	if n.devPath == n.path && n.devErr == nil {
		return n.devType, true
	}
	return "", false
}

func (t *Tree) isLiveType(typ string) bool {
	tc, ok := t.Config.Types[typ]
	return ok && tc.Live
}
