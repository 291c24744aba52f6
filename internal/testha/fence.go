package testha

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// fenceScript is the BMCs' power hook (testbmc.Options.PowerHook), run
// as "fence.sh I BMCDIR off|on|reset" by the chassis hook inside
// ipmi_sim; @FARM@ is the farm's directory.
const fenceScript = `#!/bin/sh
# fence.sh I BMCDIR off|on|reset: the power hook of BMC I of an HA farm
# (internal/testha). "off" and "reset" fence host hI: SIGKILL to its
# libvirtd, then to every QEMU (and a virtlogd) it started, each by its
# PID from that host's pid files, checked against the process; then wait
# until each has ended (a zombie has: PID 1 may never reap it). Only then
# does the chassis hook record the power off, so once the BMC reports off
# nothing of the host runs. A process that does not end fails the
# request and the power stays on. The host is then marked fenced
# (hI/fenced). "on" of a fenced host, and "reset" after its fence, ask
# the farm to boot it (hI/boot).
farm=@FARM@
i=$1
h=$farm/h$i
[ -d "$h" ] || { echo "fence h$i: no host $h"; exit 1; }
t0=$(date +%s%N)
# One power change at a time, and none while the farm boots the host.
exec 9>> "$h/power.lock"
flock -w 60 9 || { echo "fence h$i: $h/power.lock stays locked"; exit 1; }
case $3 in
off|reset) ;;
on) [ ! -e "$h/fenced" ] || : > "$h/boot"; exit 0 ;;
*) exit 0 ;;
esac

# ended PID: every thread of PID has ended (gone, or a zombie)
ended() {
  for t in /proc/"$1"/task/*/stat; do
    { read -r s < "$t"; } 2> /dev/null || continue
    case ${s##*) } in Z*|X*) ;; *) return 1 ;; esac
  done
  return 0
}
# named PID NAME: PID's command name (comm, 15 characters) begins with NAME
named() {
  { read -r s < /proc/"$1"/stat; } 2> /dev/null || return 1
  case $s in *" ($2"*) return 0 ;; esac
  return 1
}
# cmdhas PID WORD: PID's command line holds WORD
cmdhas() { tr '\0' ' ' < /proc/"$1"/cmdline 2> /dev/null | grep -qF -- "$2"; }
# envhas PID VAR=VALUE: PID's environment holds exactly that entry
envhas() { tr '\0' '\n' < /proc/"$1"/environ 2> /dev/null | grep -qxF -- "$2"; }
# pidin FILE: the PID in FILE
pidin() { { read -r p < "$1"; } 2> /dev/null && [ "$p" -gt 1 ] 2> /dev/null && echo "$p"; }
# killwait PID...: SIGKILL each, again until all have ended (10 s at most)
killwait() {
  n=0
  while :; do
    left=
    for p in "$@"; do ended "$p" || left="$left $p"; done
    [ -n "$left" ] || return 0
    n=$((n + 1))
    if [ $n -gt 1000 ]; then echo "fence h$i: pid(s)$left did not end after SIGKILL"; exit 1; fi
    for p in $left; do kill -KILL "$p" 2> /dev/null; done
    sleep 0.01
  done
}

# libvirtd first: once it has ended it starts no more QEMUs.
d=
p=$(pidin "$h/libvirtd.pid")
if [ -n "$p" ] && ! ended "$p" && named "$p" libvirtd && envhas "$p" "XDG_RUNTIME_DIR=$h/run"; then
  d=$p
  killwait "$d"
fi
q=
for f in "$h"/run/libvirt/qemu/run/*.pid; do
  n=${f##*/}; n=${n%.pid}
  [ "$n" != driver ] || continue
  p=$(pidin "$f") || continue
  if ! ended "$p" && named "$p" qemu-system && cmdhas "$p" "guest=$n,"; then q="$q $p"; fi
done
# A QEMU forked just before libvirtd died may have no pid file yet: any
# QEMU whose command line names this host's directory.
for f in $(grep -lsF -- "$h/config/libvirt/qemu/" /proc/[0-9]*/cmdline); do
  p=${f#/proc/}; p=${p%/cmdline}
  case " $q " in *" $p "*) continue ;; esac
  if ! ended "$p" && named "$p" qemu-system; then q="$q $p"; fi
done
p=$(pidin "$h/run/libvirt/virtlogd.pid")
if [ -n "$p" ] && ! ended "$p" && named "$p" virtlogd; then q="$q $p"; fi
# shellcheck disable=SC2086
killwait $q
rm -f "$h/boot"
: > "$h/fenced"
[ "$3" != reset ] || : > "$h/boot"
q=${q# }
echo "$(date +%Y-%m-%dT%H:%M:%S.%N) $3: killed libvirtd ${d:--} qemu/virtlogd ${q:--} in $((($(date +%s%N) - t0) / 1000000)) ms" >> "$h/fence.log"
exit 0
`

// fencedFile marks a host that a fence took down; bootFile asks the
// farm to boot it (its BMC's power is on again). Both are written under
// the host's power lock, and removed by the boot.
const (
	fencedFile = "fenced"
	bootFile   = "boot"
)

// writeFenceScript writes the farm's power hook and returns its path.
func writeFenceScript(dir string) (string, error) {
	name := filepath.Join(dir, "fence.sh")
	quoted := "'" + strings.ReplaceAll(dir, "'", `'\''`) + "'"
	s := strings.Replace(fenceScript, "@FARM@", quoted, 1)
	if err := os.WriteFile(name, []byte(s), 0o755); err != nil {
		return "", err
	}
	return name, os.Chmod(name, 0o755) // whatever the umask
}

// Fenced reports whether the host is down by a fence (its BMC's power
// off or reset) and not booted since.
func (h *Host) Fenced() bool {
	_, err := os.Stat(filepath.Join(h.Dir, fencedFile))
	return err == nil
}

// lockPower takes the host's power lock, which the fence script takes
// too: a fence never runs while the farm boots the host (it would miss
// a libvirtd whose PID is not yet written). The returned function
// releases it.
func lockPower(h *Host) (func(), error) {
	fd, err := os.OpenFile(filepath.Join(h.Dir, "power.lock"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	for {
		err = syscall.Flock(int(fd.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		fd.Close()
		return nil, fmt.Errorf("%s: power lock: %w", h.Name, err)
	}
	return func() { fd.Close() }, nil
}

// watch boots the host whenever the fence script asks for it, until
// ctx ends.
func (f *Farm) watch(ctx context.Context, h *Host) {
	defer f.wg.Done()
	t := time.NewTicker(PollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := os.Stat(filepath.Join(h.Dir, bootFile)); err == nil {
			h.boot()
		}
	}
}

// boot boots a fenced host whose power is on again and records the
// outcome.
func (h *Host) boot() {
	h.mu.Lock()
	h.booting, h.bootErr = true, nil
	h.mu.Unlock()
	err := h.bootFenced()
	h.mu.Lock()
	h.booting, h.bootErr = false, err
	h.mu.Unlock()
}

func (h *Host) bootFenced() error {
	unlock, err := lockPower(h)
	if err != nil {
		return err
	}
	defer unlock()
	if _, err := os.Stat(filepath.Join(h.Dir, bootFile)); err != nil {
		return nil // powered off again meanwhile
	}
	// A rebooted host's /run is empty (a tmpfs): no status of the VMs
	// whose QEMUs the fence killed, no stale pid files.
	if err := os.RemoveAll(filepath.Join(h.Dir, "run/libvirt")); err != nil {
		return fmt.Errorf("%s: boot: %w", h.Name, err)
	}
	for _, name := range []string{bootFile, fencedFile} {
		if err := os.Remove(filepath.Join(h.Dir, name)); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("%s: boot: %w", h.Name, err)
		}
	}
	return h.Host.Boot()
}
