package ha

import (
	"context"
	"encoding/xml"
	"errors"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/smctl/smctl/pkg/vtree"
	"github.com/smctl/smctl/pkg/vtree/devices"
)

// attr is the device dev's attribute file name, trusted ("" when it has
// none; an error when it is not trusted).
func attr(ctx context.Context, t *vtree.Tree, dev, name string) (string, error) {
	b, err := t.ReadTrusted(ctx, path.Join(dev, name), 4096)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	return strings.TrimSpace(string(b)), err
}

// yes reads an attribute that says yes or no.
func yes(v string) bool {
	switch strings.ToLower(v) {
	case "yes", "on", "1", "true":
		return true
	}
	return false
}

// devicesOf lists the devices of type typ in the directory dir, sorted.
func devicesOf(t *vtree.Tree, dir, typ string) []string {
	there, _ := devices.List(t, dir) // none: no device
	var out []string
	for _, name := range slices.Sorted(maps.Keys(there)) {
		if p := path.Join(dir, name); there[name] && t.DeviceType(p) == typ {
			out = append(out, p)
		}
	}
	return out
}

// fresh reads the file p, running its read agent whatever the caching
// model says.
func fresh(ctx context.Context, t *vtree.Tree, p string) (string, error) {
	res, err := t.Read(ctx, p, vtree.ReadOptions{HasMaxAge: true})
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(res.Content)), nil
}

// vm is an HA VM as the tree knows it.
type vm struct {
	path, host string
	on         bool  // its last known power
	memKiB     int64 // from its definition as last read
}

// haVMs lists the VMs whose ha attribute says yes.
func haVMs(ctx context.Context, t *vtree.Tree) []vm {
	var out []vm
	for _, p := range devicesOf(t, VMDir, "vm") {
		if v, err := attr(ctx, t, p, "ha"); err != nil || !yes(v) {
			continue
		}
		host, err := attr(ctx, t, p, "host")
		if err != nil || host == "" {
			continue
		}
		v := vm{path: p, host: host, on: true}
		if st, err := t.ReadTrusted(ctx, p+"/state", 4096); err == nil {
			v.on = ran(strings.TrimSpace(string(st)))
		}
		out = append(out, v)
	}
	return out
}

// memoryKiB is a definition's <memory>, in KiB (0 when it has none or
// it does not parse). Units as libvirt takes them.
func memoryKiB(x string) int64 {
	var def struct {
		Memory struct {
			Unit  string `xml:"unit,attr"`
			Value string `xml:",chardata"`
		} `xml:"memory"`
	}
	if xml.Unmarshal([]byte(x), &def) != nil {
		return 0
	}
	n, err := strconv.ParseFloat(strings.TrimSpace(def.Memory.Value), 64)
	if err != nil || n < 0 {
		return 0
	}
	mult, ok := map[string]float64{"": 1, "b": 1.0 / 1024, "bytes": 1.0 / 1024, "kb": 1000.0 / 1024, "k": 1, "kib": 1,
		"mb": 1e6 / 1024, "m": 1024, "mib": 1024, "gb": 1e9 / 1024, "g": 1 << 20, "gib": 1 << 20,
		"tb": 1e12 / 1024, "t": 1 << 30, "tib": 1 << 30}[strings.ToLower(def.Memory.Unit)]
	if !ok {
		return 0
	}
	return int64(n * mult)
}

// ran says whether a VM in state st was running as far as high
// availability is concerned: anything but shut off, and shut off by a
// crash or a failure (it did not stop by anyone's hand).
func ran(st string) bool {
	return !strings.HasPrefix(st, "shut off") || crashed(st)
}

// domainUUID is a definition's <uuid>, "" when it has none.
func domainUUID(x string) string {
	var def struct {
		UUID string `xml:"uuid"`
	}
	if xml.Unmarshal([]byte(x), &def) != nil {
		return ""
	}
	return strings.TrimSpace(def.UUID)
}
