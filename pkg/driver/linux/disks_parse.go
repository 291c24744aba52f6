package linux

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// The outputs of the tools disks/ reads, turned into its files' lines:
// lsblk -J's devices, sfdisk -J's partition table, blkid -o export's tags,
// findmnt -J's mount points, df's usage.

// blockDev is a device of lsblk -J's tree.
type blockDev struct {
	Name       string     `json:"name"`
	Size       jsonText   `json:"size"`
	Model      jsonText   `json:"model"`
	Type       string     `json:"type"`
	Rota       jsonText   `json:"rota"`
	Mountpoint jsonText   `json:"mountpoint"`
	LogSec     jsonText   `json:"log-sec"`
	Children   []blockDev `json:"children"`
}

// jsonText is a value lsblk -J prints as a number, a boolean or null
// (util-linux 2.33 and later) or as a string (older ones), as text: ""
// for null, 1 or 0 for a boolean, a string trimmed.
type jsonText string

// UnmarshalJSON implements json.Unmarshaler.
func (t *jsonText) UnmarshalJSON(b []byte) error {
	switch s := string(b); {
	case s == "null":
		*t = ""
	case s == "true":
		*t = "1"
	case s == "false":
		*t = "0"
	case strings.HasPrefix(s, `"`):
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*t = jsonText(strings.TrimSpace(v))
	default:
		*t = jsonText(s)
	}
	return nil
}

// parseLsblk is the devices of lsblk -J's output.
func parseLsblk(b string) ([]blockDev, error) {
	var v struct {
		Devices []blockDev `json:"blockdevices"`
	}
	if err := json.Unmarshal([]byte(b), &v); err != nil {
		return nil, fmt.Errorf("lsblk -J: %w", err)
	}
	return v.Devices, nil
}

// listedDisk reports whether disks/ lists d: a whole disk or an attached
// loop device, not a RAM disk, not empty.
func listedDisk(d blockDev) bool {
	return (d.Type == "disk" || d.Type == "loop") && d.Size != "" && d.Size != "0" && !ramRE.MatchString(d.Name)
}

// partitions are d's partitions, as the kernel knows them.
func (d blockDev) partitions() []blockDev {
	var out []blockDev
	for _, c := range d.Children {
		if c.Type == "part" {
			out = append(out, c)
		}
	}
	return out
}

// mounted is the first device mounted in d's tree (d, its partitions and
// what is built on them) and where, or "".
func (d blockDev) mounted() (name, on string) {
	if d.Mountpoint != "" {
		return d.Name, string(d.Mountpoint)
	}
	for _, c := range d.Children {
		if name, on := c.mounted(); name != "" {
			return name, on
		}
	}
	return "", ""
}

// typeAliases are sfdisk's partition type aliases (sfdisk(8): "Supported
// shortcuts and aliases") by the GPT type GUID and MBR code each means.
var typeAliases = map[string]string{
	"0FC63DAF-8483-4772-8E79-3D69D8477DE4": "linux", "83": "linux",
	"0657FD6D-A4AB-43C4-84E5-0933C84B4F4F": "swap", "82": "swap",
	"05":                                   "extended",
	"933AC7E1-2EB4-4F13-B844-0E14E2AEF915": "home",
	"C12A7328-F81F-11D2-BA4B-00A0C93EC93B": "uefi", "ef": "uefi",
	"A19D880F-05FC-4D3B-A006-743F0F84911E": "raid", "fd": "raid",
	"E6D6D379-F507-44C2-A23C-238F2A3DF928": "lvm", "8e": "lvm",
}

// partTypeRE is a partition type written to partitions: an alias, a GPT
// type GUID or a two-digit MBR hex code.
var partTypeRE = regexp.MustCompile(`^(linux|swap|extended|home|uefi|raid|lvm|[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}|[0-9A-Fa-f]{2})$`)

// partType is how partitions shows a type of sfdisk -J: its alias, else
// the GUID in capitals or the MBR code in two lower-case digits, as
// partitions takes them back.
func partType(t string) string {
	if len(t) == 1 {
		t = "0" + strings.ToLower(t)
	} else if len(t) == 2 {
		t = strings.ToLower(t)
	} else {
		t = strings.ToUpper(t)
	}
	if a, ok := typeAliases[t]; ok {
		return a
	}
	return t
}

// sfdiskTable is the part of sfdisk -J's output partitions shows.
type sfdiskTable struct {
	Table struct {
		Device     string `json:"device"`
		SectorSize int64  `json:"sectorsize"`
		Partitions []struct {
			Node  string `json:"node"`
			Start int64  `json:"start"`
			Size  int64  `json:"size"`
			Type  string `json:"type"`
		} `json:"partitions"`
	} `json:"partitiontable"`
}

// formatPartitions is disk's partitions file from sfdisk -J's output (""
// for a disk with no partition table): NUMBER START END SIZE TYPE, the
// bounds in sectors, the size in bytes. The sector size is sfdisk's, else
// lsblk's (util-linux before 2.38 does not print it in -J), else 512.
func formatPartitions(disk blockDev, out string) (string, error) {
	if strings.TrimSpace(out) == "" {
		return "", nil
	}
	var t sfdiskTable
	if err := json.Unmarshal([]byte(out), &t); err != nil {
		return "", fmt.Errorf("sfdisk -J: %w", err)
	}
	sector := t.Table.SectorSize
	if sector <= 0 {
		sector, _ = strconv.ParseInt(string(disk.LogSec), 10, 64)
	}
	if sector <= 0 {
		sector = 512
	}
	var lines []string
	for _, p := range t.Table.Partitions {
		n, err := strconv.Atoi(strings.TrimPrefix(strings.TrimPrefix(p.Node, t.Table.Device), "p"))
		if err != nil || n <= 0 {
			return "", fmt.Errorf("sfdisk -J: %q is not a partition of %s", p.Node, t.Table.Device)
		}
		lines = append(lines, fmt.Sprintf("%d %d %d %d %s", n, p.Start, p.Start+p.Size-1, p.Size*sector, partType(p.Type)))
	}
	return strings.Join(lines, "\n"), nil
}

// blkidTags are the KEY=VALUE lines of blkid -o export, their values
// unescaped (blkid puts a backslash before a space or a special
// character).
func blkidTags(out string) map[string]string {
	tags := map[string]string{}
	for l := range strings.SplitSeq(out, "\n") {
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			continue
		}
		var b strings.Builder
		for i := 0; i < len(v); i++ {
			if v[i] == '\\' && i+1 < len(v) {
				i++
			}
			b.WriteByte(v[i])
		}
		tags[k] = b.String()
	}
	return tags
}

// findmntFS is a file system of findmnt -J's output.
type findmntFS struct {
	Target   string      `json:"target"`
	Children []findmntFS `json:"children"`
}

// formatFindmnt is the mount points of findmnt -J -o TARGET's output, a
// line each ("" for none).
func formatFindmnt(out string) (string, error) {
	if strings.TrimSpace(out) == "" {
		return "", nil
	}
	var v struct {
		Filesystems []findmntFS `json:"filesystems"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		return "", fmt.Errorf("findmnt -J: %w", err)
	}
	var lines []string
	var walk func([]findmntFS)
	walk = func(fss []findmntFS) {
		for _, f := range fss {
			lines = append(lines, f.Target)
			walk(f.Children)
		}
	}
	walk(v.Filesystems)
	return strings.Join(lines, "\n"), nil
}

// formatDf is df -B1 --output=size,used,avail,pcent's figures on one
// line, SIZE USED AVAIL USE% ("" when df did not run: not mounted).
func formatDf(out string) (string, error) {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 2 {
		if strings.TrimSpace(out) == "" {
			return "", nil
		}
		return "", fmt.Errorf("df: %q has no figures", strings.TrimSpace(out))
	}
	f := strings.Fields(lines[1])
	if len(f) != 4 || !strings.HasSuffix(f[3], "%") {
		return "", fmt.Errorf("df: %q is not SIZE USED AVAIL USE%%", lines[1])
	}
	return strings.Join(f, " "), nil
}
