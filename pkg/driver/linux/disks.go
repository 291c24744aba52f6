package linux

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/smctl/smctl/pkg/proc"
	"github.com/smctl/smctl/pkg/status"
	"github.com/smctl/smctl/pkg/transport"
)

// disks/ is the node's disks and their partitions, listed on demand from
// lsblk, each read one round trip to the node (lsblk, and the one tool
// the file needs, in one command). One line per item, easy for awk; sizes
// in bytes, partition bounds in the disk's logical sectors (sfdisk's
// units, as the partition table holds them):
//
//	disks/DISK/size             bytes
//	disks/DISK/model            the model lsblk reports ("" for a loop device)
//	disks/DISK/type             disk or loop
//	disks/DISK/rotational       1 (spinning) or 0
//	disks/DISK/partitions       NUMBER START END SIZE TYPE, a line each:
//	                            START and END the first and last sector
//	                            (END included), SIZE in bytes, TYPE an
//	                            sfdisk alias (linux, swap, lvm, raid, uefi,
//	                            home, extended), else the table's own code
//	                            (a GPT type GUID, a two-digit MBR hex code)
//	disks/DISK/PART/size        bytes
//	disks/DISK/PART/fstype      ext4, xfs, vfat, LVM2_member, ... ("" none)
//	disks/DISK/PART/label       the file system's label ("" none)
//	disks/DISK/PART/mountpoint  where it is mounted, a line each ("" not)
//	disks/DISK/PART/usage       SIZE USED AVAIL USE% as df -B1 prints them
//	                            ("" when not mounted)
//	disks/DISK/PART/mkfs        write-only: make a file system
//	disks/DISK/PART/pvcreate    write-only: make it an LVM physical volume
//
// DISK is a whole disk lsblk lists (type disk, or an attached loop
// device), not a RAM disk (ram, zram) nor one of size 0; PART a partition
// the kernel knows of it (loop0p1, sda1). partitions, mountpoint, mkfs and
// pvcreate are written (see disks.write); partitions, mkfs and pvcreate
// destructively.
type disks struct{}

func init() { dirs["disks"] = disks{} }

// ErrMounted is wrapped by the error of a write to disks/ refused because
// something on the disk or partition is mounted: it would destroy or hide
// a file system in use.
var ErrMounted = errors.New("mounted")

// diskFiles and partFiles are the files of a disk's and a partition's
// directory, and their modes.
var (
	diskFiles = map[string]fs.FileMode{"size": 0o444, "model": 0o444, "type": 0o444, "rotational": 0o444, "partitions": 0o644}
	partFiles = map[string]fs.FileMode{"size": 0o444, "fstype": 0o444, "label": 0o444, "mountpoint": 0o644, "usage": 0o444,
		"mkfs": 0o200, "pvcreate": 0o200}
)

// lsblkCmd lists the node's block devices with what disks/ shows of them:
// a tree of JSON objects, sizes in bytes.
const lsblkCmd = "lsblk -J -b -o NAME,SIZE,MODEL,TYPE,ROTA,MOUNTPOINT,LOG-SEC"

// devNameRE is a name of a disk or partition: letters and digits, as the
// kernel names them (sda, nvme0n1p1, loop7p2); nothing a shell or a path
// reads specially.
var devNameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]{0,31}$`)

// ramRE is a RAM disk's name, which disks/ does not list.
var ramRE = regexp.MustCompile(`^z?ram[0-9]+$`)

// mountedErr is the error of a write refused because name is mounted on
// on.
func mountedErr(name, on string) error {
	return status.Mark(fmt.Errorf("%s is mounted on %s: unmount it first (write an empty value to its mountpoint)", name, on), ErrMounted)
}

// diskPath is a path below disks/ split into its disk, partition and
// file; any may be "".
type diskPath struct {
	rest, disk, part, file string
}

// parseDiskPath splits rest (DISK, DISK/FILE, DISK/PART, DISK/PART/FILE),
// its names checked, not yet against the node's: false for a path that
// cannot name anything of disks/.
func parseDiskPath(rest string) (diskPath, bool) {
	p := diskPath{rest: rest}
	els := strings.Split(rest, "/")
	if len(els) > 3 || !devNameRE.MatchString(els[0]) {
		return p, false
	}
	p.disk = els[0]
	switch {
	case len(els) == 2 && diskFiles[els[1]] != 0:
		p.file = els[1]
	case len(els) >= 2 && devNameRE.MatchString(els[1]):
		p.part = els[1]
		if len(els) == 3 {
			if partFiles[els[2]] == 0 {
				return p, false
			}
			p.file = els[2]
		}
	case len(els) > 1:
		return p, false
	}
	return p, true
}

// mode is the mode of the file or directory p names.
func (p diskPath) mode() fs.FileMode {
	switch {
	case p.file == "":
		return fs.ModeDir | 0o555
	case p.part == "":
		return diskFiles[p.file]
	}
	return partFiles[p.file]
}

// find is the disk and partition p names among devs; false if the node
// has no such disk or partition.
func (p diskPath) find(devs []blockDev) (disk, part blockDev, ok bool) {
	for _, d := range devs {
		if d.Name != p.disk || !listedDisk(d) {
			continue
		}
		if p.part == "" {
			return d, blockDev{}, true
		}
		for _, c := range d.partitions() {
			if c.Name == p.part {
				return d, c, true
			}
		}
	}
	return blockDev{}, blockDev{}, false
}

func noDisk(rest string) error {
	return &fs.PathError{Op: "open", Path: "/disks/" + rest, Err: fmt.Errorf("no such disk or partition on the node: %w", fs.ErrNotExist)}
}

// query runs lsblk on the node and then, if not "", the shell command
// extra, in one command: the block devices, and extra's output, exit
// status and standard error.
func query(ctx context.Context, tr transport.Transport, extra string) (devs []blockDev, out string, code int, stderr string, err error) {
	cmd := lsblkCmd
	if extra != "" {
		cmd += " || exit; echo @@; " + extra + "\nc=$?; echo; echo \"@@$c\""
	}
	res, err := tr.Exec(ctx, cmd, nil, 16<<20)
	if err != nil {
		return nil, "", 0, "", err
	}
	if res.Exit != 0 {
		return nil, "", 0, "", &exitError{name: "lsblk", code: res.Exit, msg: proc.FirstLine(res.Stderr)}
	}
	list, rest, _ := strings.Cut(string(res.Stdout), "@@\n")
	if devs, err = parseLsblk(list); err != nil || extra == "" {
		return devs, "", 0, "", err
	}
	i := strings.LastIndex(rest, "\n@@")
	if i < 0 {
		return nil, "", 0, "", fmt.Errorf("%s: no exit status in the output", strings.Fields(extra)[0])
	}
	code, err = strconv.Atoi(strings.TrimSpace(rest[i+3:]))
	return devs, rest[:i], code, proc.FirstLine(res.Stderr), err
}

// extraOut is the output of query's extra command: nothing when it
// failed without a word on its standard error (blkid, findmnt: nothing
// found), an error when it said why.
func extraOut(out string, code int, stderr string) (string, error) {
	switch {
	case code == 0:
		return out, nil
	case stderr == "":
		return "", nil
	case code == 127:
		return "", errors.New(stderr) // a tool is missing: need's message says so
	}
	return "", fmt.Errorf("%s (exit %d)", stderr, code) // stderr names the tool
}

// need is a shell command that fails with code 127 and says so when tool
// is not installed on the node (pkg: where to find it).
func need(tool, pkg string) string {
	return fmt.Sprintf("command -v %s >/dev/null 2>&1 || { echo '%s is not installed on the node (install %s)' >&2; exit 127; }; ", tool, tool, pkg)
}

// devPath is the quoted device node of the disk or partition name.
func devPath(name string) string { return transport.Quote("/dev/" + name) }

// ptCmd is the extra command of a read of disk's partitions: its
// partition table as sfdisk -J prints it, when blkid finds one (none: it
// fails silently, and partitions is empty).
func ptCmd(disk string) string {
	d := devPath(disk)
	return need("sfdisk", "fdisk") + "t=$(blkid -p -o value -s PTTYPE -- " + d + ") && [ -n \"$t\" ] && sfdisk -J -- " + d
}

// blkidCmd is the extra command of a read of what is on the device name
// (a file system's type and label, a partition table): blkid probing it
// (-p: lsblk reports no file systems on a node without udev, and blkid's
// cache may be stale); it exits 2 silently when it finds nothing.
func blkidCmd(name string) string { return "blkid -p -o export -- " + devPath(name) }

// findmntCmd is the extra command of a read of where part is mounted; it
// exits 1 silently when it is not.
func findmntCmd(part string) string { return "findmnt -J -o TARGET --source " + devPath(part) }

// dfCmd is the extra command of a read of part's usage: df of where it is
// mounted (df of the device node itself would say the usage of /dev when
// it is not); it fails silently when it is not mounted.
func dfCmd(part string) string {
	return "m=$(findmnt -ln -o TARGET --source " + devPath(part) + " | head -n 1) && [ -n \"$m\" ] && df -B1 --output=size,used,avail,pcent -- \"$m\""
}

func (disks) readDir(ctx context.Context, tr transport.Transport, rest string) ([]transport.Entry, error) {
	p, ok := parseDiskPath(rest)
	if rest != "" && !ok {
		return nil, noDisk(rest)
	}
	devs, _, _, _, err := query(ctx, tr, "")
	if err != nil {
		return nil, err
	}
	var out []transport.Entry
	if rest == "" {
		for _, d := range devs {
			if listedDisk(d) {
				out = append(out, transport.Entry{Name: d.Name, Mode: fs.ModeDir | 0o555})
			}
		}
		slices.SortFunc(out, func(a, b transport.Entry) int { return strings.Compare(a.Name, b.Name) })
		return out, nil
	}
	disk, _, ok := p.find(devs)
	switch {
	case !ok:
		return nil, noDisk(rest)
	case p.file != "":
		return nil, &fs.PathError{Op: "readdir", Path: "/disks/" + rest, Err: fmt.Errorf("not a directory")}
	case p.part != "":
		return entries(partFiles, nil), nil
	}
	return entries(diskFiles, disk.partitions()), nil
}

// entries are the files, and the partitions as directories, sorted.
func entries(files map[string]fs.FileMode, parts []blockDev) []transport.Entry {
	var out []transport.Entry
	for _, f := range slices.Sorted(maps.Keys(files)) {
		out = append(out, transport.Entry{Name: f, Mode: files[f]})
	}
	for _, c := range parts {
		out = append(out, transport.Entry{Name: c.Name, Mode: fs.ModeDir | 0o555})
	}
	slices.SortFunc(out, func(a, b transport.Entry) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func (disks) stat(ctx context.Context, tr transport.Transport, rest string) (transport.Entry, error) {
	if rest == "" {
		return transport.Entry{Name: "disks", Mode: fs.ModeDir | 0o555}, nil
	}
	p, ok := parseDiskPath(rest)
	if !ok {
		return transport.Entry{}, noDisk(rest)
	}
	devs, _, _, _, err := query(ctx, tr, "")
	if err != nil {
		return transport.Entry{}, err
	}
	if _, _, ok := p.find(devs); !ok {
		return transport.Entry{}, noDisk(rest)
	}
	els := strings.Split(rest, "/")
	return transport.Entry{Name: els[len(els)-1], Mode: p.mode()}, nil
}

// diskReads are the extra commands of the files whose read needs one
// beside lsblk.
var diskReads = map[string]func(diskPath) string{
	"partitions": func(p diskPath) string { return ptCmd(p.disk) },
	"fstype":     func(p diskPath) string { return blkidCmd(p.part) },
	"label":      func(p diskPath) string { return blkidCmd(p.part) },
	"mountpoint": func(p diskPath) string { return findmntCmd(p.part) },
	"usage":      func(p diskPath) string { return dfCmd(p.part) },
}

func (disks) read(ctx context.Context, tr transport.Transport, rest string) (string, error) {
	p, ok := parseDiskPath(rest)
	switch {
	case rest == "":
		return "", &fs.PathError{Op: "read", Path: "/disks", Err: fmt.Errorf("is a directory")}
	case !ok:
		return "", noDisk(rest)
	case p.file != "" && p.mode()&0o444 == 0:
		return "", &fs.PathError{Op: "read", Path: "/disks/" + rest, Err: fmt.Errorf("write-only: %w", fs.ErrPermission)}
	}
	how, hasExtra := diskReads[p.file]
	extra := ""
	if hasExtra {
		extra = how(p)
	}
	devs, out, code, stderr, err := query(ctx, tr, extra)
	if err != nil {
		return "", err
	}
	disk, part, ok := p.find(devs)
	switch {
	case !ok:
		return "", noDisk(rest)
	case p.file == "":
		return "", &fs.PathError{Op: "read", Path: "/disks/" + rest, Err: fmt.Errorf("is a directory")}
	case hasExtra:
		if out, err = extraOut(out, code, stderr); err != nil {
			return "", err
		}
	}
	return diskValue(p, disk, part, out)
}

// diskValue is the content of p's file, from its disk and partition as
// lsblk lists them and out, what its extra command printed.
func diskValue(p diskPath, disk, part blockDev, out string) (string, error) {
	dev := disk
	if p.part != "" {
		dev = part
	}
	switch p.file {
	case "size":
		return string(dev.Size), nil
	case "model":
		return string(dev.Model), nil
	case "type":
		return dev.Type, nil
	case "rotational":
		return string(dev.Rota), nil
	case "partitions":
		return formatPartitions(disk, out)
	case "fstype":
		return blkidTags(out)["TYPE"], nil
	case "label":
		return blkidTags(out)["LABEL"], nil
	case "mountpoint":
		return formatFindmnt(out)
	case "usage":
		return formatDf(out)
	}
	return "", noDisk(p.rest)
}
