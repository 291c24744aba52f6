package checks

import (
	"context"
	"fmt"
	"io/fs"
	"net"
	"path"
	"slices"
	"strings"

	"github.com/smctl/smctl/pkg/driver"
	"github.com/smctl/smctl/pkg/transport"
)

// dirName is the live directory the driver presents (smctl.yaml's
// live_dirs must list it).
const dirName = "checks"

// StateSuffix ends the name of a check's state file, beside the check's.
const StateSuffix = ".state"

// Layer implements driver.Layer: tr, with the directory checks/ of dev on
// top; every other path passes through to tr.
func (d *Driver) Layer(dev driver.Device, tr transport.Transport) transport.Transport {
	return &node{Transport: tr, d: d, dev: dev}
}

// node is a device's transport with its checks/ directory.
type node struct {
	transport.Transport
	d   *Driver
	dev driver.Device
}

// node passes the optional abilities of the transports below it through
// (the linux driver's writes, libvirt's socket, smctl cp).
var (
	_ transport.Writer     = (*node)(nil)
	_ transport.UnixDialer = (*node)(nil)
	_ transport.FileOpener = (*node)(nil)
)

// split returns the path below checks/ of name ("" for the directory), or
// false for a path of the node.
func split(name string) (string, bool) {
	clean := path.Clean(name)
	if clean == "/"+dirName {
		return "", true
	}
	rest, ok := strings.CutPrefix(clean, "/"+dirName+"/")
	return rest, ok
}

// file returns the check the file rest of checks/ is about and whether it
// is the state file.
func (n *node) file(rest string) (Spec, bool, bool) {
	name, state := strings.CutSuffix(rest, StateSuffix)
	s, ok := n.d.spec(n.dev.Type, name)
	return s, state, ok
}

func (n *node) notExist(op, name, rest string) error {
	return &fs.PathError{Op: op, Path: name, Err: fmt.Errorf("no check %s for devices of type %s (smctl.yaml checks:): %w", rest, n.dev.Type, fs.ErrNotExist)}
}

// ReadDir implements transport.Transport: checks/ lists NAME and
// NAME.state for every check of the device's type.
func (n *node) ReadDir(ctx context.Context, name string) ([]transport.Entry, error) {
	rest, ok := split(name)
	if !ok {
		return n.Transport.ReadDir(ctx, name)
	}
	if rest != "" {
		if _, _, ok := n.file(rest); ok {
			return nil, &fs.PathError{Op: "readdir", Path: name, Err: fmt.Errorf("not a directory")}
		}
		return nil, n.notExist("readdir", name, rest)
	}
	var out []transport.Entry
	for _, s := range n.d.Checks(n.dev.Type) {
		out = append(out, transport.Entry{Name: s.Name, Mode: 0o444}, transport.Entry{Name: s.Name + StateSuffix, Mode: 0o444})
	}
	slices.SortFunc(out, func(a, b transport.Entry) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Stat implements transport.Transport.
func (n *node) Stat(ctx context.Context, name string) (transport.Entry, error) {
	rest, ok := split(name)
	switch {
	case !ok:
		return n.Transport.Stat(ctx, name)
	case rest == "":
		return transport.Entry{Name: dirName, Mode: fs.ModeDir | 0o555}, nil
	}
	if _, _, ok := n.file(rest); ok {
		return transport.Entry{Name: rest, Mode: 0o444}, nil
	}
	return transport.Entry{}, n.notExist("stat", name, rest)
}

// ReadFile implements transport.Transport: checks/NAME runs the check
// (Content), checks/NAME.state reads its state (stateLine).
func (n *node) ReadFile(ctx context.Context, name string, max int64) ([]byte, error) {
	rest, ok := split(name)
	if !ok {
		return n.Transport.ReadFile(ctx, name, max)
	}
	if rest == "" {
		return nil, &fs.PathError{Op: "read", Path: name, Err: fmt.Errorf("is a directory")}
	}
	s, state, ok := n.file(rest)
	if !ok {
		return nil, n.notExist("read", name, rest)
	}
	var b []byte
	if state {
		line, err := n.d.stateLine(n.dev.Path, s)
		if err != nil {
			return nil, err
		}
		b = []byte(line + "\n")
	} else {
		r, perf, err := n.d.run(ctx, s, n.dev, n.Transport)
		if err != nil {
			return nil, err
		}
		b = Content(r, perf)
	}
	if max > 0 && int64(len(b)) > max {
		return nil, fmt.Errorf("%s: %w (%d bytes)", name, transport.ErrTooLarge, max)
	}
	return b, nil
}

// stateLine is the content of checks/NAME.state: the status LoadStatus
// finds, or a line saying why there is none yet.
func (d *Driver) stateLine(device string, s Spec) (string, error) {
	st, ok, err := LoadStatus(d.root, device, s.Name)
	switch {
	case err != nil:
		return "", err
	case !ok:
		return fmt.Sprintf("PENDING no state kept yet: smctl serve runs this check every %s and keeps its state here (reading checks/%s runs it once and keeps nothing)",
			s.Every, s.Name), nil
	}
	return st.String(), nil
}

// WriteFile implements transport.Writer: nothing of checks/ is written;
// other paths go to the device's transport, when it writes.
func (n *node) WriteFile(ctx context.Context, name string, data []byte) ([]byte, error) {
	if _, ok := split(name); !ok {
		if w, ok := n.Transport.(transport.Writer); ok {
			return w.WriteFile(ctx, name, data)
		}
	}
	return nil, &fs.PathError{Op: "write", Path: name, Err: transport.ErrNotWritable}
}

// Writable implements transport.Writer.
func (n *node) Writable(name string) bool {
	w, ok := n.Transport.(transport.Writer)
	if _, mine := split(name); mine || !ok {
		return false
	}
	return w.Writable(name)
}

// Destructive implements transport.Writer.
func (n *node) Destructive(name string) []string {
	w, ok := n.Transport.(transport.Writer)
	if _, mine := split(name); mine || !ok {
		return nil
	}
	return w.Destructive(name)
}

// DialUnix passes a UNIX socket's stream through to the device's
// transport.
func (n *node) DialUnix(ctx context.Context, path string) (net.Conn, error) {
	return transport.DialUnix(ctx, n.Transport, path)
}

// OpenFiles passes smctl cp through to the device's transport.
func (n *node) OpenFiles(ctx context.Context) (transport.Files, error) {
	return transport.OpenFiles(ctx, n.Transport)
}
