package libvirt

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path"
	"strings"
	"time"

	golibvirt "github.com/digitalocean/go-libvirt"

	"github.com/smctl/smctl/pkg/agent"
	"github.com/smctl/smctl/pkg/status"
)

// A VM's host, written, migrates it: peer to peer (the source's libvirtd
// connects to the destination's and sends the VM), live when it runs,
// offline when it is shut off; the definition moves with it (persistent
// on the destination, undefined on the source). The migration stream goes
// to the migration address (Settings). The write stores the new host:
// the attribute by which the VM's files find it.

// migrateTimeout bounds a migration where the run has no deadline.
const migrateTimeout = 5 * time.Minute

// migrate is the write agent of a VM's host.
func (d *Driver) migrate(ctx context.Context, req *agent.Request) (agent.Result, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, migrateTimeout)
		defer cancel()
	}
	target := strings.TrimSpace(string(req.Input))
	if target == "" {
		return agent.Result{}, agent.Fail(status.Usage, fmt.Errorf("%s: write the name of the hypervisor to migrate it to", req.Device))
	}
	if target == req.Attrs["host"] {
		return agent.Result{}, agent.Fail(status.Usage, fmt.Errorf("%s is on %s already", req.Device, target))
	}
	dst, peer, err := hypervisor(ctx, req, target)
	if err != nil {
		return agent.Result{}, err
	}
	if failed(peer) {
		return agent.Result{}, agent.Fail(status.Usage, fmt.Errorf("%s: %s has failed (its failed attribute): no VM goes there until an operator clears it", req.Device, target))
	}
	if _, sp, err := hypervisor(ctx, req, req.Attrs["host"]); err == nil && failed(sp) {
		return d.restartOn(ctx, req, target, sp)
	}
	dconn, err := destinationURI(peer)
	if err != nil {
		return agent.Result{}, agent.Fail(status.Usage, fmt.Errorf("%s: %s: %w", req.Device, dst, err))
	}
	var how string
	var took time.Duration
	src, err := d.withVM(ctx, req, func(c *conn, dom golibvirt.Domain) error {
		st, _, err := c.DomainGetState(dom, 0)
		if err != nil {
			return err
		}
		flags := golibvirt.MigratePeer2peer | golibvirt.MigratePersistDest | golibvirt.MigrateUndefineSource
		var params []golibvirt.TypedParam
		how = "offline"
		if isOn(st) {
			flags |= golibvirt.MigrateLive
			how = "live"
			addr := d.settings.MigrationAddress
			if addr == "" {
				addr = migrationHost(peer)
			}
			params = []golibvirt.TypedParam{
				{Field: golibvirt.MigrateParamURI, Value: *golibvirt.NewTypedParamValueString("tcp://" + addr)},
				{Field: golibvirt.MigrateParamListenAddress, Value: *golibvirt.NewTypedParamValueString(addr)},
			}
		} else {
			flags |= golibvirt.MigrateOffline
		}
		start := time.Now()
		_, err = c.DomainMigratePerform3Params(dom, golibvirt.OptString{dconn}, params, nil, flags)
		took = time.Since(start)
		return err
	})
	var ae *agent.Error
	if errors.As(err, &ae) {
		return agent.Result{}, err
	} else if err != nil {
		return agent.Result{}, agent.Fail(status.Failed, fmt.Errorf("%s: migrating from %s to %s: %w", req.Device, src, dst, ctxErr(ctx, err)))
	}
	return agent.Result{Output: []byte(target + "\n"),
		Message: fmt.Sprintf("migrated %s from %s to %s in %.2f s", how, path.Base(src), target, took.Seconds())}, nil
}

// destinationURI is the URI by which the source's libvirtd reaches the
// destination's: its uri attribute as it is for a hypervisor of transport
// local (the same machine), else over SSH to its address
// (DRIVER+ssh://ADDRESS/PATH: the source's libvirtd needs SSH access to
// the destination, as peer-to-peer migration does).
func destinationURI(p agent.Peer) (string, error) {
	uri := p.Attrs["uri"]
	if uri == "" {
		uri = DefaultURI
	}
	h, err := parseURI(uri)
	if err != nil {
		return "", err
	}
	if tr := p.Attrs["transport"]; tr == "local" {
		return uri, nil
	}
	u, _ := url.Parse(h.open)
	drv, _, _ := strings.Cut(u.Scheme, "+")
	host := p.Attrs["address"]
	if host == "" {
		return "", fmt.Errorf("no address to migrate to")
	}
	return (&url.URL{Scheme: drv + "+ssh", Host: host, Path: u.Path}).String(), nil
}

// migrationHost is the destination's address for the migration stream:
// 127.0.0.1 for a hypervisor of transport local.
func migrationHost(p agent.Peer) string {
	if p.Attrs["transport"] == "local" || p.Attrs["address"] == "" {
		return "127.0.0.1"
	}
	return p.Attrs["address"]
}
