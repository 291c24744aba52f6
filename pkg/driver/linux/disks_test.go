package linux

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smctl/smctl/pkg/driver"
	"github.com/smctl/smctl/pkg/status"
	"github.com/smctl/smctl/pkg/transport"
)

// recorded is a file of testdata/disks (see its README).
func recorded(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "disks", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// answer is what a command prints and its exit status.
type answer struct {
	out, stderr string
	code        int
}

// diskNode answers lsblkCmd with the recorded lsblk, query's extra
// commands and writes' actions from its maps (an unknown command exits
// 127, as a shell does), and records every command it is given.
type diskNode struct {
	transport.Broken
	lsblk   string
	extras  map[string]answer
	actions map[string]answer
	cmds    []string
}

func (n *diskNode) Exec(_ context.Context, cmd string, _ []byte, _ int64) (transport.Output, error) {
	n.cmds = append(n.cmds, cmd)
	if cmd == lsblkCmd {
		return transport.Output{Stdout: []byte(n.lsblk)}, nil
	}
	if extra, ok := strings.CutPrefix(cmd, lsblkCmd+" || exit; echo @@; "); ok {
		extra, ok = strings.CutSuffix(extra, "\nc=$?; echo; echo \"@@$c\"")
		a, known := n.extras[extra]
		if !ok || !known {
			return transport.Output{Exit: 127, Stderr: []byte("sh: unknown: " + cmd)}, nil
		}
		out := fmt.Sprintf("%s@@\n%s\n@@%d\n", n.lsblk, a.out, a.code)
		return transport.Output{Stdout: []byte(out), Stderr: []byte(a.stderr)}, nil
	}
	if a, ok := n.actions[cmd]; ok {
		return transport.Output{Stdout: []byte(a.out), Stderr: []byte(a.stderr), Exit: a.code}, nil
	}
	return transport.Output{Exit: 127, Stderr: []byte("sh: unknown: " + cmd)}, nil
}

// newDiskNode is a node as recorded: loop0 (GPT: loop0p1 ext4 "data1"
// mounted, loop0p2 an LVM physical volume), loop1 (an MBR table the
// kernel has not read), vda (mounted on /), zram0 (size 0).
func newDiskNode(t *testing.T) *diskNode {
	return &diskNode{
		lsblk: recorded(t, "lsblk.json"),
		extras: map[string]answer{
			ptCmd("loop0"):        {out: recorded(t, "sfdisk-gpt.json")},
			ptCmd("loop1"):        {out: recorded(t, "sfdisk-dos.json")},
			ptCmd("vda"):          {stderr: "blkid: error: /dev/vda: Operation not permitted\n", code: 2},
			blkidCmd("loop0"):     {out: recorded(t, "blkid-disk.txt")},
			blkidCmd("vda"):       {stderr: "blkid: error: /dev/vda: Operation not permitted\n", code: 2},
			blkidCmd("loop1"):     {out: recorded(t, "blkid-dos.txt")},
			blkidCmd("loop0p1"):   {out: recorded(t, "blkid-ext4.txt")},
			blkidCmd("loop0p2"):   {out: recorded(t, "blkid-pv.txt")},
			findmntCmd("loop0p1"): {out: recorded(t, "findmnt.json")},
			findmntCmd("loop0p2"): {code: 1},
			dfCmd("loop0p1"):      {out: recorded(t, "df.txt")},
			dfCmd("loop0p2"):      {code: 1},
		},
		actions: map[string]answer{},
	}
}

// TestDisksRead: the listings, each file from one command on the node,
// from the recorded outputs.
func TestDisksRead(t *testing.T) {
	ctx := context.Background()
	names := func(es []transport.Entry, err error) string {
		var out []string
		for _, e := range es {
			out = append(out, e.Name)
		}
		return strings.Join(out, " ") + errString(err)
	}
	for _, tc := range []struct{ path, want string }{
		{"/disks", "loop0 loop1 vda"},
		{"/disks/loop0", "loop0p1 loop0p2 model partitions rotational size type"},
		{"/disks/loop1", "model partitions rotational size type"},
		{"/disks/loop0/loop0p1", "fstype label mkfs mountpoint pvcreate size usage"},
	} {
		node := newDiskNode(t)
		if got := names(Driver{}.Layer(driver.Device{}, node).ReadDir(ctx, tc.path)); got != tc.want {
			t.Errorf("ReadDir %s: %q, want %q", tc.path, got, tc.want)
		}
		if len(node.cmds) != 1 {
			t.Errorf("ReadDir %s: ran %q, want one command", tc.path, node.cmds)
		}
	}
	for _, tc := range []struct{ path, want string }{
		{"/disks/loop0/size", "67108864\n"},
		{"/disks/loop0/type", "loop\n"},
		{"/disks/loop0/rotational", "1\n"},
		{"/disks/loop0/model", ""},
		{"/disks/vda/size", "274877906944\n"},
		{"/disks/loop0/partitions", "1 2048 22527 10485760 linux\n2 22528 43007 10485760 lvm\n"},
		{"/disks/loop1/partitions", "1 2048 6143 2097152 linux\n2 6144 10239 2097152 lvm\n3 10240 32767 11534336 extended\n5 12288 14335 1048576 swap\n"},
		{"/disks/loop0/loop0p1/size", "10485760\n"},
		{"/disks/loop0/loop0p1/fstype", "ext4\n"},
		{"/disks/loop0/loop0p1/label", "data1\n"},
		{"/disks/loop0/loop0p2/fstype", "LVM2_member\n"},
		{"/disks/loop0/loop0p2/label", ""},
		{"/disks/loop0/loop0p1/mountpoint", "/tmp/smctl-rec.9LCc/mnt\n"},
		{"/disks/loop0/loop0p2/mountpoint", ""},
		{"/disks/loop0/loop0p1/usage", "8610816 14336 7863296 1%\n"},
		{"/disks/loop0/loop0p2/usage", ""},
	} {
		node := newDiskNode(t)
		got, err := Driver{}.Layer(driver.Device{}, node).ReadFile(ctx, tc.path, 1<<20)
		if err != nil || string(got) != tc.want {
			t.Errorf("%s: %q, %v; want %q", tc.path, got, err, tc.want)
		}
		if len(node.cmds) != 1 {
			t.Errorf("%s: ran %q, want one command", tc.path, node.cmds)
		}
	}
}

// TestDisksMissing: what is not a disk or partition lsblk lists, or not
// a file of one, does not exist, for reads, listings and Stat; a name
// that could not be a device's runs nothing.
func TestDisksMissing(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		path string
		runs bool // a name checked against the node's
	}{
		{"/disks/zram0", true}, {"/disks/zram0/size", true}, {"/disks/sdz/size", true}, {"/disks/loop0/loop0p9/size", true},
		{"/disks/loop1/loop0p1/size", true}, {"/disks/loop0p1/size", true},
		{"/disks/loop0/nothere", true}, {"/disks/loop0/loop0p1/nothere", false}, {"/disks/loop0/loop0p1/size/x", false},
		{"/disks/sd-a/size", false}, {"/disks/x'y/size", false}, {"/disks/loop0/..x/size", false},
	} {
		node := newDiskNode(t)
		tr := Driver{}.Layer(driver.Device{}, node)
		if _, err := tr.ReadFile(ctx, tc.path, 1<<20); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("ReadFile %s: %v", tc.path, err)
		}
		if _, err := tr.Stat(ctx, tc.path); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Stat %s: %v", tc.path, err)
		}
		if _, err := tr.ReadDir(ctx, tc.path); !errors.Is(err, fs.ErrNotExist) && !strings.Contains(errString(err), "not a directory") {
			t.Errorf("ReadDir %s: %v", tc.path, err)
		}
		if ran := len(node.cmds) > 0; ran != tc.runs {
			t.Errorf("%s: ran %q", tc.path, node.cmds)
		}
	}
}

// TestDisksStat: the modes of disks/'s files and directories.
func TestDisksStat(t *testing.T) {
	ctx := context.Background()
	tr := Driver{}.Layer(driver.Device{}, newDiskNode(t))
	for p, want := range map[string]fs.FileMode{
		"/disks": fs.ModeDir | 0o555, "/disks/loop0": fs.ModeDir | 0o555, "/disks/loop0/loop0p2": fs.ModeDir | 0o555,
		"/disks/loop0/size": 0o444, "/disks/loop0/partitions": 0o644, "/disks/loop0/loop0p1/mountpoint": 0o644,
		"/disks/loop0/loop0p1/usage": 0o444, "/disks/loop0/loop0p1/mkfs": 0o200, "/disks/loop0/loop0p1/pvcreate": 0o200,
	} {
		if e, err := tr.Stat(ctx, p); err != nil || e.Mode != want || e.Name != filepath.Base(p) {
			t.Errorf("Stat %s: %+v, %v; want mode %v", p, e, err, want)
		}
	}
}

// TestDisksReadErrors: a tool's failure says what failed; a missing tool
// says so; write-only files and directories are not read.
func TestDisksReadErrors(t *testing.T) {
	ctx := context.Background()
	node := newDiskNode(t)
	node.extras[ptCmd("loop1")] = answer{stderr: "sfdisk is not installed on the node (install fdisk)\n", code: 127}
	tr := Driver{}.Layer(driver.Device{}, node)
	for p, want := range map[string]string{
		"/disks/vda/partitions":     "blkid: error: /dev/vda: Operation not permitted (exit 2)",
		"/disks/loop1/partitions":   "sfdisk is not installed on the node (install fdisk)",
		"/disks/loop0/loop0p1/mkfs": "read /disks/loop0/loop0p1/mkfs: write-only: permission denied",
		"/disks/loop0":              "read /disks/loop0: is a directory",
		"/disks/loop0/loop0p1":      "read /disks/loop0/loop0p1: is a directory",
	} {
		if _, err := tr.ReadFile(ctx, p, 1<<20); err == nil || err.Error() != want {
			t.Errorf("%s: %v, want %q", p, err, want)
		}
	}
	if _, err := tr.ReadFile(ctx, "/disks/loop0/loop0p1/pvcreate", 1<<20); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("pvcreate read: %v", err)
	}
	node.lsblk = "garbage"
	if _, err := tr.ReadFile(ctx, "/disks/loop0/size", 1<<20); err == nil || !strings.Contains(err.Error(), "lsblk -J") {
		t.Errorf("lsblk's output not JSON: %v", err)
	}
}

// TestDisksDestructive: partitions, mkfs and pvcreate destroy whatever
// is written; mountpoint and the read-only files nothing.
func TestDisksDestructive(t *testing.T) {
	tr := Driver{}.Layer(driver.Device{}, newDiskNode(t)).(transport.Writer)
	for p, want := range map[string]string{
		"/disks/sda/partitions": "*", "/disks/sda/sda1/mkfs": "*", "/disks/sda/sda1/pvcreate": "*",
		"/disks/sda/sda1/mountpoint": "", "/disks/sda/size": "", "/disks/sda/x/y/mkfs": "", "/disks": "",
	} {
		if got := strings.Join(tr.Destructive(p), " "); got != want {
			t.Errorf("Destructive(%s) = %q, want %q", p, got, want)
		}
	}
}

// TestDisksWrite: each write checks its value, then reads lsblk (the
// names must be the node's, and nothing mounted where it destroys), then
// acts in one command; refusals run nothing past the read.
func TestDisksWrite(t *testing.T) {
	sfdisk := need("sfdisk", "fdisk") + need("partx", "util-linux")
	type want struct {
		out  string
		err  error  // wrapped by the error
		msg  string // the error's text, if not ""
		cmds int    // commands run, the action the last
	}
	for _, tc := range []struct {
		path, value string
		extras      map[string]answer // beside newDiskNode's
		act         string            // the action's command, answered with answer
		answer      answer
		want        want
	}{
		// partitions
		{path: "/disks/loop0/partitions", value: "remove 2",
			want: want{err: ErrMounted, msg: "loop0p1 is mounted on /tmp/smctl-rec.9LCc/mnt: unmount it first (write an empty value to its mountpoint)", cmds: 1}},
		{path: "/disks/vda/partitions", value: "add 2048 4095", want: want{err: ErrMounted, msg: "vda is mounted on /: unmount it first (write an empty value to its mountpoint)", cmds: 1}},
		{path: "/disks/loop1/partitions", value: "remove 5",
			act:    sfdisk + busyGuard("loop1", true) + "sfdisk -q --delete -- '/dev/loop1' 5 >/dev/null && partx -d --nr 5 -- '/dev/loop1' && sfdisk -J -- '/dev/loop1'",
			answer: answer{out: recordedAt("sfdisk-dos.json")},
			want:   want{out: "1 2048 6143 2097152 linux\n2 6144 10239 2097152 lvm\n3 10240 32767 11534336 extended\n5 12288 14335 1048576 swap\n", cmds: 2}},
		{path: "/disks/loop1/partitions", value: "add 14336 16383 swap",
			act:    sfdisk + busyGuard("loop1", true) + "printf '%s\\n' '14336,2048,swap' | sfdisk -q --append -- '/dev/loop1' >/dev/null && partx -u -- '/dev/loop1' && sfdisk -J -- '/dev/loop1'",
			answer: answer{out: recordedAt("sfdisk-dos.json")},
			want:   want{out: "1 2048 6143 2097152 linux\n2 6144 10239 2097152 lvm\n3 10240 32767 11534336 extended\n5 12288 14335 1048576 swap\n", cmds: 2}},
		{path: "/disks/loop1/partitions", value: "add 2048 4095", extras: map[string]answer{blkidCmd("loop1"): {code: 2}},
			act:    sfdisk + busyGuard("loop1", true) + "printf 'label: gpt\\n' | sfdisk -q -- '/dev/loop1' >/dev/null && printf '%s\\n' '2048,2048,linux' | sfdisk -q --append -- '/dev/loop1' >/dev/null && partx -u -- '/dev/loop1' && sfdisk -J -- '/dev/loop1'",
			answer: answer{stderr: "Sector 2048 already used.\n", code: 1},
			want:   want{msg: "sfdisk: exit 1: Sector 2048 already used.", cmds: 2}},
		{path: "/disks/loop1/partitions", value: "remove 1", extras: map[string]answer{blkidCmd("loop1"): {code: 2}}, want: want{msg: "loop1 has no partition table", cmds: 1}},
		{path: "/disks/loop1/partitions", value: "add 2048 4095", extras: map[string]answer{blkidCmd("loop1"): {out: recordedAt("blkid-ext4.txt")}},
			want: want{msg: "loop1 holds ext4 and no partition table: wipe it first if it is not needed (wipefs -a /dev/loop1)", cmds: 1}},
		{path: "/disks/loop1/partitions", value: "add 30000 32768", want: want{err: status.ErrUsage, msg: "sector 32768 is past the end of loop1 (32768 sectors of 512 bytes)", cmds: 1}},
		{path: "/disks/loop1/partitions", value: "add 5 3", want: want{err: status.ErrUsage}},
		{path: "/disks/loop1/partitions", value: "add 1 2 ntfs", want: want{err: status.ErrUsage}},
		{path: "/disks/loop1/partitions", value: "remove 0", want: want{err: status.ErrUsage}},
		{path: "/disks/loop1/partitions", value: "resize 1 2", want: want{err: status.ErrUsage}},
		{path: "/disks/sdz/partitions", value: "add 1 2", extras: map[string]answer{blkidCmd("sdz"): {code: 2}}, want: want{err: fs.ErrNotExist, cmds: 1}},
		{path: "/disks/zram0/partitions", value: "remove 1", extras: map[string]answer{blkidCmd("zram0"): {code: 2}}, want: want{err: fs.ErrNotExist, cmds: 1}},
		// mkfs
		{path: "/disks/loop0/loop0p2/mkfs", value: "ext4 data2", act: need("mkfs.ext4", "e2fsprogs") + busyGuard("loop0p2", false) + "mkfs.ext4 -F -q -L 'data2' -- '/dev/loop0p2' >/dev/null", want: want{cmds: 2}},
		{path: "/disks/loop0/loop0p2/mkfs", value: "xfs", act: need("mkfs.xfs", "xfsprogs") + busyGuard("loop0p2", false) + "mkfs.xfs -f -q -- '/dev/loop0p2' >/dev/null",
			answer: answer{stderr: "mkfs.xfs is not installed on the node (install xfsprogs)\n", code: 127},
			want:   want{msg: "mkfs.xfs is not installed on the node (install xfsprogs)", cmds: 2}},
		{path: "/disks/loop0/loop0p2/mkfs", value: "vfat DATA", act: need("mkfs.vfat", "dosfstools") + busyGuard("loop0p2", false) + "mkfs.vfat -n 'DATA' -- '/dev/loop0p2' >/dev/null", want: want{cmds: 2}},
		{path: "/disks/loop0/loop0p1/mkfs", value: "ext4", want: want{err: ErrMounted, cmds: 1}},
		{path: "/disks/loop0/loop0p2/mkfs", value: "vfat LABEL67890AB", want: want{err: status.ErrUsage}},
		{path: "/disks/loop0/loop0p2/mkfs", value: "ext4 a;b", want: want{err: status.ErrUsage}},
		{path: "/disks/loop0/loop0p2/mkfs", value: "btrfs", want: want{err: status.ErrUsage, msg: `"btrfs" is not a file system mkfs makes (ext4, ext3, ext2, xfs, vfat)`}},
		{path: "/disks/loop0/loop0p9/mkfs", value: "ext4", want: want{err: fs.ErrNotExist, cmds: 1}},
		// pvcreate
		{path: "/disks/loop0/loop0p2/pvcreate", value: "1", act: need("pvcreate", "lvm2") + busyGuard("loop0p2", false) + "LVM_SUPPRESS_FD_WARNINGS=1 pvcreate -q -y -- '/dev/loop0p2' >/dev/null",
			answer: answer{stderr: "pvcreate is not installed on the node (install lvm2)\n", code: 127},
			want:   want{msg: "pvcreate is not installed on the node (install lvm2)", cmds: 2}},
		{path: "/disks/loop0/loop0p2/pvcreate", value: "1", act: need("pvcreate", "lvm2") + busyGuard("loop0p2", false) + "LVM_SUPPRESS_FD_WARNINGS=1 pvcreate -q -y -- '/dev/loop0p2' >/dev/null",
			answer: answer{stderr: "  Cannot use /dev/loop0p2: device is too small (pv_min_size)\n", code: 5},
			want:   want{msg: "pvcreate: exit 5: Cannot use /dev/loop0p2: device is too small (pv_min_size)", cmds: 2}},
		{path: "/disks/loop0/loop0p1/pvcreate", value: "1", want: want{err: ErrMounted, cmds: 1}},
		// held since the first look (an LVM volume activated): the guard
		// in the action's own command refuses
		{path: "/disks/loop0/loop0p2/pvcreate", value: "1", act: need("pvcreate", "lvm2") + busyGuard("loop0p2", false) + "LVM_SUPPRESS_FD_WARNINGS=1 pvcreate -q -y -- '/dev/loop0p2' >/dev/null",
			answer: answer{stderr: "loop0p2 is in use by dm-0 (an LVM volume, an md array or dm-crypt holds it)\n", code: busyExit},
			want:   want{err: ErrMounted, cmds: 2}},
		{path: "/disks/loop0/loop0p2/pvcreate", value: "yes", want: want{err: status.ErrUsage}},
		// mountpoint
		{path: "/disks/loop0/loop0p2/mountpoint", value: "/mnt/x/../y/",
			act:    `if mountpoint -q -- '/mnt/y'; then printf '%s is a mount point already: mount it on another directory\n' '/mnt/y' >&2; exit 1; fi; mount -- '/dev/loop0p2' '/mnt/y' && findmnt -n -o TARGET --source '/dev/loop0p2'`,
			answer: answer{out: "/mnt/y\n"},
			want:   want{out: "/mnt/y\n", cmds: 2}},
		{path: "/disks/loop0/loop0p1/mountpoint", value: "", act: "umount -A -- '/dev/loop0p1'", want: want{cmds: 2}},
		{path: "/disks/loop0/loop0p2/mountpoint", value: "", want: want{cmds: 1}},
		{path: "/disks/loop0/loop0p1/mountpoint", value: "/tmp/smctl-rec.9LCc/mnt", want: want{out: "/tmp/smctl-rec.9LCc/mnt\n", cmds: 1}},
		{path: "/disks/loop0/loop0p1/mountpoint", value: "/other", want: want{err: ErrMounted, cmds: 1}},
		{path: "/disks/loop0/loop0p2/mountpoint", value: "mnt", want: want{err: status.ErrUsage}},
		{path: "/disks/loop0/loop0p2/mountpoint", value: "/a\tb", want: want{err: status.ErrUsage}},
		// not writable
		{path: "/disks/loop0/size", value: "1", want: want{err: transport.ErrNotWritable}},
		{path: "/disks/loop0/loop0p1/usage", value: "1", want: want{err: transport.ErrNotWritable}},
		{path: "/disks/loop0", value: "1", want: want{err: transport.ErrNotWritable}},
		{path: "/disks", value: "1", want: want{err: transport.ErrNotWritable}},
	} {
		t.Run(tc.path+" "+tc.value, func(t *testing.T) {
			node := newDiskNode(t)
			for c, a := range tc.extras {
				node.extras[c] = a
			}
			if tc.act != "" {
				node.actions[tc.act] = tc.answer
			}
			tr := Driver{}.Layer(driver.Device{}, node).(transport.Writer)
			got, err := tr.WriteFile(context.Background(), tc.path, []byte(tc.value+"\n"))
			if string(got) != tc.want.out || tc.want.err != nil && !errors.Is(err, tc.want.err) ||
				tc.want.msg != "" && errString(err) != " error: "+tc.want.msg || tc.want.err == nil && tc.want.msg == "" && err != nil {
				t.Errorf("%q, %v; want %q, %v %q", got, err, tc.want.out, tc.want.err, tc.want.msg)
			}
			if len(node.cmds) != tc.want.cmds {
				t.Errorf("ran %q, want %d commands", node.cmds, tc.want.cmds)
			} else if tc.act != "" && node.cmds[len(node.cmds)-1] != tc.act {
				t.Errorf("acted with %q, want %q", node.cmds[len(node.cmds)-1], tc.act)
			}
		})
	}
}

// recordedAt is a file of testdata/disks, read where no *testing.T is at
// hand (a table's literal); a missing file fails the test that uses it.
func recordedAt(name string) string {
	b, err := os.ReadFile(filepath.Join("testdata", "disks", name))
	if err != nil {
		return "missing " + name
	}
	return string(b)
}

// TestPartitionOutputs: partition types as partitions shows and takes
// them, the old lsblk format (util-linux before 2.33: every value a
// string), blkid's escapes.
func TestPartitionOutputs(t *testing.T) {
	for in, want := range map[string]string{
		"0FC63DAF-8483-4772-8E79-3D69D8477DE4": "linux", "e6d6d379-f507-44c2-a23c-238f2a3df928": "lvm", "5": "extended",
		"83": "linux", "7": "07", "EF": "uefi", "21686148-6449-6E6F-744E-656564454649": "21686148-6449-6E6F-744E-656564454649",
	} {
		if got := partType(in); got != want {
			t.Errorf("partType(%q) = %q, want %q", in, got, want)
		} else if !partTypeRE.MatchString(got) {
			t.Errorf("partType(%q) = %q, which partitions does not take back", in, got)
		}
	}
	old := `{"blockdevices": [{"name": "sda", "size": "500107862016", "model": "Samsung SSD 860 ", "type": "disk", "rota": "0", "mountpoint": null, "log-sec": "512",
		"children": [{"name": "sda1", "size": "536870912", "model": null, "type": "part", "rota": "0", "mountpoint": "/boot/efi", "log-sec": "512"}]}]}`
	devs, err := parseLsblk(old)
	if err != nil || len(devs) != 1 || devs[0].Size != "500107862016" || devs[0].Model != "Samsung SSD 860" || devs[0].Rota != "0" || !listedDisk(devs[0]) {
		t.Fatalf("old lsblk: %+v, %v", devs, err)
	}
	if name, on := devs[0].mounted(); name != "sda1" || on != "/boot/efi" {
		t.Errorf("mounted: %q on %q", name, on)
	}
	if got := blkidTags(recorded(t, "blkid-pv.txt"))["VERSION"]; got != "LVM2 001" {
		t.Errorf("blkid VERSION=LVM2\\ 001: %q", got)
	}
	for _, out := range []string{"1B-blocks Used Avail Use%\n", "garbage\n1 2 3\n"} {
		if _, err := formatDf(out); err == nil {
			t.Errorf("formatDf(%q): no error", out)
		}
	}
	if _, err := formatPartitions(blockDev{}, `{"partitiontable": {"device": "/dev/sda", "partitions": [{"node": "/dev/sdb1"}]}}`); err == nil {
		t.Error("a partition of another disk: no error")
	}
}

// TestListedDisk: disks/ lists whole disks and attached loop devices, not
// RAM disks, empty devices, partitions or optical drives.
func TestListedDisk(t *testing.T) {
	for _, tc := range []struct {
		d    blockDev
		want bool
	}{
		{blockDev{Name: "sda", Size: "500107862016", Type: "disk"}, true},
		{blockDev{Name: "loop7", Size: "67108864", Type: "loop"}, true},
		{blockDev{Name: "loop3", Size: "0", Type: "loop"}, false},
		{blockDev{Name: "ram0", Size: "16777216", Type: "disk"}, false},
		{blockDev{Name: "zram0", Size: "4294967296", Type: "disk"}, false},
		{blockDev{Name: "sda1", Size: "1048576", Type: "part"}, false},
		{blockDev{Name: "sr0", Size: "1073741312", Type: "rom"}, false},
	} {
		if got := listedDisk(tc.d); got != tc.want {
			t.Errorf("listedDisk(%+v) = %v, want %v", tc.d, got, tc.want)
		}
	}
}
