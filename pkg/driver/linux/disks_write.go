package linux

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"strconv"
	"strings"

	"github.com/smctl/smctl/pkg/proc"
	"github.com/smctl/smctl/pkg/status"
	"github.com/smctl/smctl/pkg/transport"
)

// The writable files of disks/, each write a read of lsblk (the names
// must be the node's, nothing may be mounted where the write destroys)
// then the action, and what is now in effect:
//
//	disks/DISK/partitions       add START END [TYPE]  a partition from sector
//	                            START to END included (TYPE: linux unless
//	                            given; see partTypeRE); a disk with no
//	                            partition table gets a GPT one first
//	                            remove NUMBER         partition NUMBER
//	                            refused while anything on the disk is
//	                            mounted; through sfdisk, then partx tells
//	                            the kernel (which does not rescan a loop
//	                            device's table itself); shows the new table
//	disks/DISK/PART/mountpoint  PATH: mount it on the directory PATH
//	                            (absolute; not a mount point already;
//	                            refused when it is mounted elsewhere);
//	                            empty: unmount it, wherever mounted
//	disks/DISK/PART/mkfs        TYPE [LABEL]: ext4, ext3, ext2, xfs or vfat,
//	                            forced over what is there; refused while
//	                            mounted
//	disks/DISK/PART/pvcreate    1: make it an LVM physical volume (pvcreate
//	                            -y: other signatures wiped); refused while
//	                            mounted

// mkfsTools are the file systems mkfs makes: the command, its options
// (forced, quiet), its label option, the longest label, and the package
// that has it.
var mkfsTools = map[string]struct {
	cmd, label string
	max        int
	pkg        string
}{
	"ext4": {"mkfs.ext4 -F -q", "-L", 16, "e2fsprogs"},
	"ext3": {"mkfs.ext3 -F -q", "-L", 16, "e2fsprogs"},
	"ext2": {"mkfs.ext2 -F -q", "-L", 16, "e2fsprogs"},
	"xfs":  {"mkfs.xfs -f -q", "-L", 12, "xfsprogs"},
	"vfat": {"mkfs.vfat", "-n", 11, "dosfstools"},
}

// labelRE is a file system label mkfs writes: letters, digits, '_', '.'
// and '-'.
var labelRE = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

func (disks) destructive(rest string) []string {
	if p, ok := parseDiskPath(rest); ok && p.file != "" {
		return destructiveFiles[p.file]
	}
	return nil
}

func (disks) writable(rest string) bool {
	p, ok := parseDiskPath(rest)
	return ok && p.file != "" && p.mode()&0o200 != 0
}

func (disks) write(ctx context.Context, tr transport.Transport, rest, value string) (string, error) {
	p, ok := parseDiskPath(rest)
	if !ok || p.file == "" || p.mode()&0o200 == 0 {
		return "", &fs.PathError{Op: "write", Path: "/disks/" + rest, Err: transport.ErrNotWritable}
	}
	switch p.file {
	case "partitions":
		return writePartitions(ctx, tr, p, value)
	case "mountpoint":
		return writeMountpoint(ctx, tr, p, value)
	case "mkfs":
		return writeMkfs(ctx, tr, p, value)
	}
	return writePvcreate(ctx, tr, p, value)
}

// usage is a value refused as it is: what to write instead.
func usage(format string, args ...any) error {
	return status.Mark(fmt.Errorf(format, args...), status.ErrUsage)
}

// act runs cmd, a write's action, on the node and returns what it
// printed; an exit status other than 0 is an *exitError named name,
// need's message when a tool is missing, or busyGuard's refusal.
func act(ctx context.Context, tr transport.Transport, name, cmd string) (string, error) {
	out, err := tr.Exec(ctx, cmd, nil, 16<<20)
	if err != nil {
		return "", err
	}
	msg := proc.FirstLine(out.Stderr)
	if out.Exit == 127 && msg != "" {
		return "", errors.New(msg)
	}
	if out.Exit == busyExit && msg != "" {
		return "", status.Mark(errors.New(msg), ErrMounted)
	}
	if out.Exit != 0 {
		return "", &exitError{name: name, code: out.Exit, msg: msg}
	}
	return string(out.Stdout), nil
}

// busyExit is the exit status of busyGuard's refusal.
const busyExit = 99

// busyGuard is the shell prefix of a destructive action on the disk or
// partition name (with part, its partitions too): in the same command as
// the action, so that nothing mounted or held since the write's first
// look is destroyed, it refuses when lsblk finds a mount point on it or
// the kernel lists a holder of it (an active LVM volume, an md array,
// dm-crypt: /sys/class/block/NAME/holders). name is devNameRE's.
func busyGuard(name string, parts bool) string {
	holders := "/sys/class/block/" + name + "/holders/*"
	if parts {
		holders += " /sys/class/block/" + name + "/" + name + "*/holders/*"
	}
	return fmt.Sprintf(`if lsblk -n -o MOUNTPOINT -- %[1]s | grep -q .; then echo '%[2]s is mounted: unmount it first (write an empty value to its mountpoint)' >&2; exit %[3]d; fi; `+
		`for h in %[4]s; do if [ -e "$h" ]; then echo "%[2]s is in use by ${h##*/} (an LVM volume, an md array or dm-crypt holds it)" >&2; exit %[3]d; fi; done; `,
		devPath(name), name, busyExit, holders)
}

// partitionOp is a value written to partitions: add START END TYPE, or
// remove N.
type partitionOp struct {
	remove        bool
	n, start, end uint64
	typ           string
}

// parsePartitionOp is the partitionOp value is: add START END [TYPE]
// (TYPE linux unless given), or remove NUMBER.
func parsePartitionOp(value string) (partitionOp, error) {
	f := strings.Fields(value)
	num := func(s string) (uint64, bool) {
		n, err := strconv.ParseUint(s, 10, 63)
		return n, err == nil
	}
	switch {
	case len(f) == 2 && f[0] == "remove":
		n, ok := num(f[1])
		if !ok || n == 0 {
			return partitionOp{}, usage("%q is not a partition number", f[1])
		}
		return partitionOp{remove: true, n: n}, nil
	case (len(f) == 3 || len(f) == 4) && f[0] == "add":
		op := partitionOp{typ: "linux"}
		var ok1, ok2 bool
		op.start, ok1 = num(f[1])
		op.end, ok2 = num(f[2])
		if !ok1 || !ok2 || op.end < op.start {
			return op, usage("%q: write add START END [TYPE], START and END sectors, END not before START", value)
		}
		if len(f) == 4 {
			if op.typ = f[3]; !partTypeRE.MatchString(op.typ) {
				return op, usage("%q is not a partition type (linux, swap, lvm, raid, uefi, home, extended, a GPT type GUID or a two-digit MBR code)", op.typ)
			}
		}
		return op, nil
	}
	return partitionOp{}, usage("%q: write add START END [TYPE], or remove NUMBER", value)
}

// cmd is the shell command that makes op on disk, whose partition table
// has type pt ("": none; add makes a GPT one): sfdisk, then partx to
// tell the kernel.
func (op partitionOp) cmd(disk, pt string) (string, error) {
	d := devPath(disk)
	if op.remove {
		if pt == "" {
			return "", fmt.Errorf("%s has no partition table", disk)
		}
		return fmt.Sprintf("sfdisk -q --delete -- %s %d >/dev/null && partx -d --nr %d -- %s", d, op.n, op.n, d), nil
	}
	cmd := fmt.Sprintf("printf '%%s\\n' '%d,%d,%s' | sfdisk -q --append -- %s >/dev/null && partx -u -- %s", op.start, op.end-op.start+1, op.typ, d, d)
	if pt == "" {
		cmd = "printf 'label: gpt\\n' | sfdisk -q -- " + d + " >/dev/null && " + cmd
	}
	return cmd, nil
}

// writePartitions adds or removes a partition of the disk p names, when
// nothing on it is mounted, and shows the new table.
func writePartitions(ctx context.Context, tr transport.Transport, p diskPath, value string) (string, error) {
	op, err := parsePartitionOp(value)
	if err != nil {
		return "", err
	}
	devs, out, code, stderr, err := query(ctx, tr, blkidCmd(p.disk))
	if err != nil {
		return "", err
	}
	disk, _, ok := p.find(devs)
	if !ok {
		return "", noDisk(p.rest)
	}
	if name, on := disk.mounted(); name != "" {
		return "", mountedErr(name, on)
	}
	size, _ := strconv.ParseUint(string(disk.Size), 10, 64)
	sector, _ := strconv.ParseUint(string(disk.LogSec), 10, 64)
	if !op.remove && sector > 0 && op.end >= size/sector {
		return "", usage("sector %d is past the end of %s (%d sectors of %d bytes)", op.end, p.disk, size/sector, sector)
	}
	if out, err = extraOut(out, code, stderr); err != nil {
		return "", err
	}
	tags := blkidTags(out)
	if tags["PTTYPE"] == "" && tags["TYPE"] != "" {
		return "", fmt.Errorf("%s holds %s and no partition table: wipe it first if it is not needed (wipefs -a /dev/%s)", p.disk, tags["TYPE"], p.disk)
	}
	cmd, err := op.cmd(p.disk, tags["PTTYPE"])
	if err != nil {
		return "", err
	}
	if out, err = act(ctx, tr, "sfdisk", need("sfdisk", "fdisk")+need("partx", "util-linux")+busyGuard(p.disk, true)+cmd+" && sfdisk -J -- "+devPath(p.disk)); err != nil {
		return "", err
	}
	return formatPartitions(disk, out)
}

// writeMountpoint mounts the partition p names on the directory value, or
// unmounts it for the empty value, and shows where it is mounted.
func writeMountpoint(ctx context.Context, tr transport.Transport, p diskPath, value string) (string, error) {
	target := path.Clean(value)
	switch {
	case value == "":
		target = ""
	case !path.IsAbs(value) || strings.ContainsFunc(value, func(r rune) bool { return r < ' ' || r == 0x7f }):
		return "", usage("%q: write an absolute path to mount it on, or an empty value to unmount it", value)
	}
	devs, _, _, _, err := query(ctx, tr, "")
	if err != nil {
		return "", err
	}
	_, part, ok := p.find(devs)
	if !ok {
		return "", noDisk(p.rest)
	}
	d, on := devPath(p.part), string(part.Mountpoint)
	switch {
	case target == "" && on == "", target == on:
		return target, nil
	case target == "":
		_, err := act(ctx, tr, "umount", "umount -A -- "+d)
		return "", err
	case on != "":
		return "", mountedErr(p.part, on)
	}
	t := transport.Quote(target)
	out, err := act(ctx, tr, "mount", "if mountpoint -q -- "+t+"; then printf '%s is a mount point already: mount it on another directory\\n' "+t+
		" >&2; exit 1; fi; mount -- "+d+" "+t+" && findmnt -n -o TARGET --source "+d)
	return strings.TrimSpace(out), err
}

// writeMkfs makes the file system value (TYPE [LABEL]) on the partition p
// names, when nothing on it is mounted.
func writeMkfs(ctx context.Context, tr transport.Transport, p diskPath, value string) (string, error) {
	f := strings.Fields(value)
	if len(f) < 1 || len(f) > 2 {
		return "", usage("%q: write TYPE [LABEL]", value)
	}
	tool, ok := mkfsTools[f[0]]
	if !ok {
		return "", usage("%q is not a file system mkfs makes (ext4, ext3, ext2, xfs, vfat)", f[0])
	}
	cmd := tool.cmd
	if len(f) == 2 {
		if !labelRE.MatchString(f[1]) || len(f[1]) > tool.max {
			return "", usage("%q is not a label for %s (letters, digits, '_', '.', '-'; at most %d)", f[1], f[0], tool.max)
		}
		cmd += " " + tool.label + " " + transport.Quote(f[1])
	}
	name, _, _ := strings.Cut(tool.cmd, " ")
	if err := unmounted(ctx, tr, p); err != nil {
		return "", err
	}
	_, err := act(ctx, tr, name, need(name, tool.pkg)+busyGuard(p.part, false)+cmd+" -- "+devPath(p.part)+" >/dev/null")
	return "", err
}

// writePvcreate makes the partition p names an LVM physical volume (value
// 1), when nothing on it is mounted.
func writePvcreate(ctx context.Context, tr transport.Transport, p diskPath, value string) (string, error) {
	if value != "1" {
		return "", usage("%q: write 1 to make it an LVM physical volume", value)
	}
	if err := unmounted(ctx, tr, p); err != nil {
		return "", err
	}
	_, err := act(ctx, tr, "pvcreate", need("pvcreate", "lvm2")+busyGuard(p.part, false)+"LVM_SUPPRESS_FD_WARNINGS=1 pvcreate -q -y -- "+devPath(p.part)+" >/dev/null")
	return "", err
}

// unmounted is nil when the partition p names is the node's and nothing
// on it is mounted.
func unmounted(ctx context.Context, tr transport.Transport, p diskPath) error {
	devs, _, _, _, err := query(ctx, tr, "")
	if err != nil {
		return err
	}
	_, part, ok := p.find(devs)
	if !ok {
		return noDisk(p.rest)
	}
	if name, on := part.mounted(); name != "" {
		return mountedErr(name, on)
	}
	return nil
}
