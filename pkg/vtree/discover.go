package vtree

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/smctl/smctl/pkg/agent"
	"github.com/smctl/smctl/pkg/nodeset"
)

// A discovery statement, one per line, as written to /discover_master or
// printed by a discovery agent:
//
//	TYPE NODESET [key=value ...]       add devices (kept if present)
//	remove TYPE NODESET                remove devices
//
// Keys naming attribute files (address, port, user, transport, bmc, and
// the type's attrs) are written into each new device; a value that is a
// range pairs with the names, one each (server n[1-3] bmc=10.1.0.[1-3]),
// and must expand to as many values as there are names; other keys are
// options for the type's own discovery agent, run on every new device that
// is a container (Sysman: discovery runs on newly found containers).
type statement struct {
	remove bool
	typ    string
	spec   string
	names  []string
	attrs  map[string]string // attribute files, one value for every device
	opts   []string          // key=value for the container's discovery
	// each holds attribute values given as a range that expands alongside
	// the names, one per device: "server n[1-3] bmc=10.1.0.[1-3]".
	each map[string][]string
}

func (t *Tree) parseStatement(line string) (*statement, error) {
	f := strings.Fields(line)
	st := &statement{attrs: map[string]string{}}
	if len(f) > 0 && f[0] == "remove" {
		st.remove = true
		f = f[1:]
	}
	if len(f) < 2 {
		return nil, fmt.Errorf("want \"TYPE NAMES [key=value ...]\" or \"remove TYPE NAMES\" (types: %s)", strings.Join(t.typeNames(), ", "))
	}
	st.typ, st.spec = f[0], f[1]
	if _, ok := t.Config.Types[st.typ]; !ok {
		return nil, fmt.Errorf("unknown device type %q (types: %s; add one under types: in smctl.yaml)", st.typ, strings.Join(t.typeNames(), ", "))
	}
	names, err := nodeset.Expand(st.spec)
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		if err := validName(n); err != nil {
			return nil, err
		}
	}
	st.names = names
	known := t.attrNames()
	for k := range t.Config.Types[st.typ].Attrs {
		known = append(known, k)
	}
	given := map[string]bool{}
	for _, kv := range f[2:] {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%q: want key=value", kv)
		}
		if st.remove {
			return nil, errors.New("remove takes no key=value")
		}
		if given[k] {
			return nil, fmt.Errorf("%s given twice", k)
		}
		given[k] = true
		if slices.Contains(known, k) {
			if v == "" || strings.ContainsAny(v, "\n\x00") {
				return nil, fmt.Errorf("%s: empty or invalid value", k)
			}
			if strings.ContainsAny(v, "[,") && len(names) > 1 {
				vs, err := nodeset.Expand(v)
				if err != nil {
					return nil, fmt.Errorf("%s=%s: %w", k, v, err)
				}
				if len(vs) != len(names) {
					return nil, fmt.Errorf("%s=%s: %d values for %d devices (a range in a value pairs with the names, one each)", k, v, len(vs), len(names))
				}
				if st.each == nil {
					st.each = map[string][]string{}
				}
				st.each[k] = vs
				continue
			}
			st.attrs[k] = v
			continue
		}
		st.opts = append(st.opts, kv)
	}
	if len(st.opts) > 0 {
		if h := t.hooksFor(st.typ)[DiscoverAgent]; h == nil || h.write == nil {
			return nil, fmt.Errorf("unknown key %q for type %s (attributes: %s)", st.opts[0], st.typ, strings.Join(known, ", "))
		}
	}
	return st, nil
}

func validName(n string) error {
	switch {
	case n == "" || n == "." || n == "..":
		return fmt.Errorf("bad device name %q", n)
	case strings.ContainsAny(n, "/\x00") || strings.HasPrefix(n, "."):
		return fmt.Errorf("bad device name %q: no '/', NUL or leading '.'", n)
	case len(n) > MaxName:
		return fmt.Errorf("device name longer than %d bytes", MaxName)
	}
	return nil
}

func (t *Tree) typeNames() []string {
	var out []string
	for k := range t.Config.Types {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// change is what discovery did to devices of one type in one place.
type change struct {
	verb, typ, where string
	names            []string
}

// Discover applies discovery statements and returns one summary line per
// kind of change ("added 100 servers: n[001-100]"); container is the device
// whose discovery printed them ("" for /discover_master). Every statement
// is checked before any is applied, so bad input changes nothing.
func (t *Tree) Discover(ctx context.Context, text string, container string) ([]string, error) {
	chs, err := t.discover(ctx, text, container)
	return summarize(chs), err
}

func (t *Tree) discover(ctx context.Context, text string, container string) ([]change, error) {
	var sts []*statement
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		lines := []string{line}
		if strings.HasPrefix(line, "import ") || line == "import" {
			var err error
			if lines, err = importStatements(line); err != nil {
				return nil, fmt.Errorf("line %d: %w", i+1, err)
			}
		}
		for _, l := range lines {
			st, err := t.parseStatement(l)
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", i+1, err)
			}
			if _, err := t.typeDir(st.typ, container); err != nil {
				return nil, fmt.Errorf("line %d: %w", i+1, err)
			}
			sts = append(sts, st)
		}
	}
	if err := t.checkSize(sts, container); err != nil {
		return nil, err
	}
	var out []change
	var errs []error
	for _, st := range sts {
		chs, err := t.apply(ctx, st, container)
		out = append(out, chs...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	return out, errors.Join(errs...)
}

// LargeDiscovery is the most devices one discovery creates unless the
// tree allows more (AllowLargeDiscovery): a slip in a node set
// ("n[1-1000000]") must not fill the backing tree with directories.
const LargeDiscovery = 10000

// LargeDiscoveryError is a discovery refused, before it created anything,
// because it would create more than LargeDiscovery devices.
type LargeDiscoveryError struct {
	New int // devices the statements would create
}

func (e *LargeDiscoveryError) Error() string {
	return fmt.Sprintf("discovery would create %d devices, more than %d at once: check the node sets, or add --yes to create them", e.New, LargeDiscovery)
}

// AllowLargeDiscovery lets discoveries through t create more than
// LargeDiscovery devices at once (smctl write --yes), or stops them again.
func (t *Tree) AllowLargeDiscovery(ok bool) { t.largeOK.Store(ok) }

// LargeDiscoveryAllowed reports whether AllowLargeDiscovery(true) was
// called on t.
func (t *Tree) LargeDiscoveryAllowed() bool { return t.largeOK.Load() }

// checkSize refuses statements that would create more than LargeDiscovery
// devices together, unless t allows it.
func (t *Tree) checkSize(sts []*statement, container string) error {
	names := 0
	for _, st := range sts {
		if !st.remove {
			names += len(st.names)
		}
	}
	if names <= LargeDiscovery || t.LargeDiscoveryAllowed() {
		return nil
	}
	if n := t.countNew(sts, container); n > LargeDiscovery {
		return &LargeDiscoveryError{New: n}
	}
	return nil
}

// countNew counts the devices the statements, applied in order, would
// create: names that are not yet devices (a directory without .type is
// not one), each counted once. It creates nothing, and lists each
// directory devices go into once instead of asking for every name.
func (t *Tree) countNew(sts []*statement, container string) int {
	// is records, for devices named by several statements, whether the
	// statements before made them devices (true) or removed them.
	var is map[string]bool
	if len(sts) > 1 {
		is = map[string]bool{}
	}
	listed := map[string]map[string]bool{} // base -> name -> is a directory
	n := 0
	for _, st := range sts {
		base, _ := t.typeDir(st.typ, container)
		there, ok := listed[base]
		if !ok {
			there = map[string]bool{}
			des, _ := t.store.readDir(rel(base)) // missing: nothing there
			for _, de := range des {
				there[de.Name()] = de.IsDir()
			}
			listed[base] = there
		}
		for _, name := range st.names {
			p := join(base, name)
			if st.remove {
				if is != nil {
					is[p] = false
				}
				continue
			}
			present, known := is[p]
			if !known {
				isDir, exists := there[name]
				// Something that is not a directory, or a device of any
				// type, stays (apply reports it); a bare directory is
				// made a device.
				present = exists && (!isDir || t.typeOf(rel(p)) != "")
			}
			if !present {
				n++
			}
			if is != nil {
				is[p] = true
			}
		}
	}
	return n
}

// summarize merges changes of the same kind, in order of appearance.
func summarize(chs []change) []string {
	type key struct{ verb, typ, where string }
	var order []key
	names := map[key][]string{}
	for _, c := range chs {
		k := key{c.verb, c.typ, c.where}
		if _, ok := names[k]; !ok {
			order = append(order, k)
		}
		names[k] = append(names[k], c.names...)
	}
	var out []string
	for _, k := range order {
		ns := names[k]
		line := fmt.Sprintf("%s %s: %s", k.verb, plural(len(ns), k.typ), nodeset.Fold(ns))
		if k.verb == "kept" {
			line = fmt.Sprintf("kept %s already present: %s", plural(len(ns), k.typ), nodeset.Fold(ns))
		}
		if k.where != "" {
			line += " in " + k.where
		}
		out = append(out, line)
	}
	return out
}

// typeDir is the virtual directory devices of typ go into.
func (t *Tree) typeDir(typ, container string) (string, error) {
	d := t.Config.Types[typ].Dir
	if path.IsAbs(d) {
		return Clean(d)
	}
	if container == "" {
		return "", fmt.Errorf("devices of type %s are found inside a container (dir: %s): discover the container", typ, d)
	}
	return Clean(container + "/" + d)
}

func plural(n int, s string) string {
	if n == 1 {
		return "1 " + s
	}
	return fmt.Sprintf("%d %ss", n, s)
}

func (t *Tree) apply(ctx context.Context, st *statement, container string) ([]change, error) {
	base, _ := t.typeDir(st.typ, container)
	if st.remove {
		var gone, missing []string
		for _, name := range st.names {
			p := join(base, name)
			if t.typeOf(rel(p)) != st.typ {
				missing = append(missing, name)
				continue
			}
			if err := t.store.root.RemoveAll(rel(p)); err != nil {
				return nil, pathErr("remove", p, unwrapPath(err))
			}
			t.forgetType(rel(p))
			gone = append(gone, name)
		}
		var out []change
		if len(gone) > 0 {
			out = append(out, change{"removed", st.typ, container, gone})
		}
		if len(missing) > 0 {
			return out, fmt.Errorf("no %s %s in %s", st.typ, nodeset.Fold(missing), base)
		}
		return out, nil
	}
	if err := t.store.root.MkdirAll(rel(base), 0o777); err != nil {
		return nil, pathErr("discover", base, unwrapPath(err))
	}
	var added, kept, containers []string
	for i, name := range st.names {
		p := join(base, name)
		isNew, err := t.addDevice(p, st, i)
		if err != nil {
			return nil, err
		}
		if isNew {
			added = append(added, name)
			containers = append(containers, p)
		} else {
			kept = append(kept, name)
		}
	}
	var out []change
	if len(added) > 0 {
		out = append(out, change{"added", st.typ, container, added})
	}
	if len(kept) > 0 {
		out = append(out, change{"kept", st.typ, container, kept})
	}
	// Discovery of what the new containers hold.
	h := t.hooksFor(st.typ)[DiscoverAgent]
	if h == nil || h.write == nil {
		return out, nil
	}
	var errs []error
	for _, p := range containers {
		chs, err := t.discoverIn(ctx, p, strings.Join(st.opts, " "))
		out = append(out, chs...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	return out, errors.Join(errs...)
}

// maxDiscoveryDepth bounds containers inside containers.
const maxDiscoveryDepth = 4

type depthKey struct{}

// discoverIn runs the discovery agent of the container device p (its
// write-only "discover" file) and applies what it prints.
func (t *Tree) discoverIn(ctx context.Context, p, opts string) ([]change, error) {
	depth, _ := ctx.Value(depthKey{}).(int)
	if depth >= maxDiscoveryDepth {
		return nil, fmt.Errorf("%s: containers nested deeper than %d", p, maxDiscoveryDepth)
	}
	ctx = context.WithValue(ctx, depthKey{}, depth+1)
	res, err := t.Write(ctx, join(p, DiscoverAgent), []byte(opts+"\n"))
	if err != nil {
		return nil, err
	}
	chs, err := t.discover(ctx, string(res.Content), p)
	if err != nil {
		return chs, fmt.Errorf("discovery in %s: %w", p, err)
	}
	return chs, nil
}

// addDevice creates the device directory p of st's type with its attribute
// files; an existing device keeps its files except the attributes given.
//
// The .type marker, which makes the directory a device, is written last,
// after the attribute files and the lock: discovery cut short (killed, a
// full disk) leaves complete devices and at most one directory without a
// marker, which is not a device yet and which discovering it again treats
// as new and completes.
func (t *Tree) addDevice(p string, st *statement, i int) (bool, error) {
	r := rel(p)
	tc := t.Config.Types[st.typ]
	isNew := false
	info, err := t.store.lstat(r)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		isNew = true
		if err := t.store.root.Mkdir(r, 0o777); err != nil {
			return false, pathErr("discover", p, unwrapPath(err))
		}
	case err != nil:
		return false, pathErr("discover", p, unwrapPath(err))
	case !info.IsDir():
		return false, pathErr("discover", p, errors.New("exists and is not a directory"))
	default:
		if typ := t.typeOf(r); typ != st.typ && typ != "" {
			return false, pathErr("discover", p, fmt.Errorf("exists as a %s", typ))
		} else if typ == "" {
			isNew = true
		}
	}
	_, name := splitPath(p)
	write := func(k, v string, overwrite bool) error {
		ar := joinRel(r, k)
		if !overwrite {
			if _, err := t.store.lstat(ar); err == nil {
				return nil
			}
		}
		return t.store.writeFile(ar, []byte(v+"\n"))
	}
	for k, v := range st.attrs {
		if err := write(k, v, true); err != nil {
			return false, pathErr("discover", join(p, k), unwrapPath(err))
		}
	}
	for k, vs := range st.each {
		if err := write(k, vs[i], true); err != nil {
			return false, pathErr("discover", join(p, k), unwrapPath(err))
		}
	}
	if err := write("address", name, false); err != nil {
		return false, pathErr("discover", join(p, "address"), unwrapPath(err))
	}
	for k, v := range tc.Attrs {
		if err := write(k, v, false); err != nil {
			return false, pathErr("discover", join(p, k), unwrapPath(err))
		}
	}
	if tc.Lock {
		if err := t.store.createLock(joinRel(r, LockName)); err != nil {
			return false, pathErr("discover", join(p, LockName), unwrapPath(err))
		}
	}
	if isNew {
		if err := t.store.writeFile(joinRel(r, typeFile), []byte(st.typ+"\n")); err != nil {
			return false, pathErr("discover", p, unwrapPath(err))
		}
	}
	t.forgetType(r)
	return isNew, nil
}

// promptedDiscovery runs every executable in the agent directories'
// discover.d, each printing discovery statements, and applies them. One
// failing agent does not stop the others.
func (t *Tree) promptedDiscovery(ctx context.Context, req *agent.Request) ([]string, error) {
	var agents []string
	seen := map[string]bool{}
	for _, d := range t.agentDirs() {
		dd := filepath.Join(d, DiscoverDir)
		des, err := os.ReadDir(dd)
		if err != nil {
			continue
		}
		for _, de := range des {
			if de.IsDir() || strings.HasPrefix(de.Name(), ".") || seen[de.Name()] {
				continue
			}
			seen[de.Name()] = true
			agents = append(agents, filepath.Join(dd, de.Name()))
		}
	}
	if len(agents) == 0 && len(t.Config.Discovery.Scan) == 0 {
		return nil, fmt.Errorf("no discovery agents installed (put executables that print \"TYPE NAMES [key=value ...]\" lines in %s) and no discovery scan in smctl.yaml", filepath.Join(t.agentDirs()[0], DiscoverDir))
	}
	var out []string
	var errs []error
	if len(t.Config.Discovery.Scan) > 0 {
		found, err := t.scan(ctx)
		if err != nil {
			errs = append(errs, err)
		}
		if len(found) > 0 {
			lines, err := t.Discover(ctx, strings.Join(found, "\n"), "")
			out = append(out, lines...)
			if err != nil {
				errs = append(errs, fmt.Errorf("discovery scan: %w", err))
			}
		}
	}
	for _, a := range agents {
		res, err := (&agent.Exec{Path: a, Self: t.opts.Self}).Run(ctx, req)
		if err == nil && res.RC != 0 {
			err = fmt.Errorf("exit %d: %s", res.RC, res.Message)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("discovery agent %s: %w", filepath.Base(a), err))
			continue
		}
		lines, err := t.Discover(ctx, string(res.Output), "")
		out = append(out, lines...)
		if err != nil {
			errs = append(errs, fmt.Errorf("discovery agent %s: %w", filepath.Base(a), err))
		}
	}
	return out, errors.Join(errs...)
}
