package libvirt

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	golibvirt "github.com/digitalocean/go-libvirt"

	"github.com/smctl/smctl/pkg/agent"
	"github.com/smctl/smctl/pkg/status"
	"github.com/smctl/smctl/pkg/trust"
)

// VMs are defined and undefined through discovery:
//
//	smctl write /discover_master "vm NAME host=H xml=FILE [start=1]"
//	smctl write /discover_master "remove vm NAME"     (--yes: also a running one)
//
// The first makes the device /systems/vms/NAME and runs its define agent,
// which defines the VM on H from the definition in FILE (read by the
// smctl that runs the statement, with its user's permissions; relative
// to its working directory) and starts it with start=1; when that fails
// the device is not kept. The second runs the VM's undefine agent (its
// definition removed from its host, its disks left as they are, as virsh
// undefine does) and removes the device when that succeeded.

// maxDefinition bounds a definition read from a file.
const maxDefinition = 1 << 20

// define is a new VM's define agent: Input is discovery's options,
// xml=FILE and start=0|1.
func (d *Driver) define(ctx context.Context, req *agent.Request) (agent.Result, error) {
	ctx, cancel := bounded(ctx)
	defer cancel()
	name := path.Base(req.Device)
	file, start, err := defineOptions(string(req.Input))
	if err != nil {
		return agent.Result{}, agent.Fail(status.Usage, fmt.Errorf("%s: %w", req.Device, err))
	}
	x, err := readDefinition(file)
	if err != nil {
		return agent.Result{}, agent.Fail(status.Usage, fmt.Errorf("%s: %w", req.Device, err))
	}
	if err := checkDefinition(x, name, nil); err != nil {
		return agent.Result{}, agent.Fail(status.Usage, fmt.Errorf("%s: %s: %w", req.Device, file, err))
	}
	host := req.Attrs["host"]
	did := "defined on " + host
	hv, err := d.withHost(ctx, req, host, func(c *conn) error {
		if _, err := c.DomainLookupByName(name); err == nil {
			return agent.Fail(status.Usage, fmt.Errorf("%s defines a VM %s already: write 1 to /discover_master to find it", host, name))
		} else if !golibvirt.IsNotFound(err) {
			return err
		}
		dom, err := c.DomainDefineXML(x)
		if err != nil {
			return fmt.Errorf("defining from %s: %w", file, err)
		}
		c.forget(name)
		if start {
			if err := c.DomainCreate(dom); err != nil {
				// Defined but not started: undo, so the device's absence
				// (discovery does not keep it) tells the truth.
				if uerr := c.DomainUndefine(dom); uerr != nil {
					return fmt.Errorf("starting: %w (and it stays defined: %v)", err, uerr)
				}
				return fmt.Errorf("starting: %w", err)
			}
			did += ", started"
		}
		return nil
	})
	if err != nil {
		return agent.Result{}, vmFail(ctx, req, hv, err)
	}
	return agent.Result{Output: []byte(did + "\n"), Message: did}, nil
}

// defineOptions reads discovery's options for a new VM.
func defineOptions(in string) (file string, start bool, err error) {
	for _, kv := range strings.Fields(in) {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "xml":
			file = v
		case "start":
			switch v {
			case "1", "yes", "on":
				start = true
			case "0", "no", "off":
			default:
				return "", false, fmt.Errorf("start=%s: want start=1 or start=0", v)
			}
		default:
			return "", false, fmt.Errorf("%q: a VM takes xml=FILE and start=1", kv)
		}
	}
	if file == "" {
		return "", false, errors.New("a new VM needs its definition: xml=FILE")
	}
	return file, start, nil
}

// readDefinition reads a definition file: a regular file that only the
// user and root may write (it decides what the hypervisor runs: its
// emulator, its disks), in a directory only they may change (as
// ssh_config is judged), at most maxDefinition bytes.
func readDefinition(file string) (string, error) {
	f, err := trust.Open(file)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return "", fmt.Errorf("%s: not a regular file", file)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxDefinition+1))
	if err != nil {
		return "", err
	}
	if len(b) > maxDefinition {
		return "", fmt.Errorf("%s: larger than %d bytes", file, maxDefinition)
	}
	return string(b), nil
}

// undefine is a VM's undefine agent, run by discovery's remove: Input
// "yes" stops a running VM first (smctl write --yes), else it is refused.
// A VM its host no longer defines, or whose host is no hypervisor of the
// tree, has nothing to undefine.
func (d *Driver) undefine(ctx context.Context, req *agent.Request) (agent.Result, error) {
	ctx, cancel := bounded(ctx)
	defer cancel()
	yes := strings.TrimSpace(string(req.Input)) == "yes"
	host := req.Attrs["host"]
	did := "undefined on " + host
	hv, err := d.withVM(ctx, req, func(c *conn, dom golibvirt.Domain) error {
		st, _, err := c.DomainGetState(dom, 0)
		if err != nil {
			return err
		}
		if isOn(st) {
			if !yes {
				return agent.Fail(status.Usage, fmt.Errorf("%s is %s on %s: stop it first (power off), or remove it with --yes, which stops it", dom.Name, stateName(st), host))
			}
			if err := c.DomainDestroy(dom); err != nil {
				return fmt.Errorf("stopping: %w", err)
			}
			did = "stopped and " + did
		}
		flags := golibvirt.DomainUndefineManagedSave | golibvirt.DomainUndefineSnapshotsMetadata
		if err := c.DomainUndefineFlags(dom, flags); err != nil {
			return err
		}
		c.forget(dom.Name)
		return nil
	})
	switch {
	case err == nil:
	case golibvirt.IsNotFound(err):
		did = host + " defines it no more: nothing to undefine"
	case errors.Is(err, errNoHypervisor):
		did = "no hypervisor " + host + ": nothing to undefine"
	default:
		return agent.Result{}, vmFail(ctx, req, hv, err)
	}
	return agent.Result{Output: []byte(did + "\n"), Message: did}, nil
}

// vmFail is err of a VM's agent: as it is when it carries a status, else
// a failure naming the VM and its host (and the deadline when it passed).
func vmFail(ctx context.Context, req *agent.Request, hv string, err error) error {
	var ae *agent.Error
	if errors.As(err, &ae) {
		return err
	}
	return agent.Fail(status.Failed, fmt.Errorf("%s on %s: %w", req.Device, hv, ctxErr(ctx, err)))
}

// checkDefinition checks that the definition x is one domain whose own
// name (its single <name> child) is name and, when uuid is not nil, whose
// <uuid>, if it has one, is uuid: parsed as XML, as libvirtd parses it,
// so a <name> in a comment, another element or a second domain decides
// nothing.
func checkDefinition(x, name string, uuid []byte) error {
	var def struct {
		XMLName xml.Name
		Names   []string `xml:"name"`
		UUIDs   []string `xml:"uuid"`
	}
	dec := xml.NewDecoder(strings.NewReader(x))
	if err := dec.Decode(&def); err != nil {
		return fmt.Errorf("the definition is not XML: %w", err)
	}
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if cd, ok := tok.(xml.CharData); err != nil || ok && len(bytes.TrimSpace(cd)) > 0 || !ok && !isMarkup(tok) {
			return errors.New("the definition has more than its <domain> element")
		}
	}
	if def.XMLName.Local != "domain" || len(def.Names) != 1 || strings.TrimSpace(def.Names[0]) != name {
		return fmt.Errorf("the definition must be a <domain> naming the VM %s (<name>%s</name>)", name, name)
	}
	if uuid != nil && len(def.UUIDs) > 0 {
		u, err := parseUUID(def.UUIDs[0])
		if err != nil || len(def.UUIDs) > 1 || !bytes.Equal(u, uuid) {
			return fmt.Errorf("the definition must keep the VM's own <uuid> (%s)", formatUUID(uuid))
		}
	}
	return nil
}

// isMarkup says whether tok is a comment, a processing instruction or a
// directive: what may follow the root element.
func isMarkup(tok xml.Token) bool {
	switch tok.(type) {
	case xml.Comment, xml.ProcInst, xml.Directive:
		return true
	}
	return false
}

// parseUUID reads a UUID as libvirt writes it (hex digits, dashes
// anywhere, as libvirt's parser skips them).
func parseUUID(s string) ([]byte, error) {
	b, err := hex.DecodeString(strings.ReplaceAll(strings.TrimSpace(s), "-", ""))
	if err != nil || len(b) != 16 {
		return nil, fmt.Errorf("%q is not a UUID", s)
	}
	return b, nil
}

// formatUUID writes a UUID as libvirt does.
func formatUUID(u []byte) string {
	h := hex.EncodeToString(u)
	if len(h) != 32 {
		return h
	}
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
