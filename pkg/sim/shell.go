package sim

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// node is the state one simulated machine answers from.
type node struct {
	name  string
	index int
	boot  time.Time
	files map[string]func() string
	dirs  map[string][]string // dir -> sorted child names
	isDir map[string]bool
}

func newNode(name string, index int, start time.Time) *node {
	n := &node{name: name, index: index, boot: start.Add(-time.Duration(3600*(24+index%200)) * time.Second)}
	i := float64(index)
	load := func(k float64) float64 { return math.Mod(0.07*i+k, 4) }
	memTotal := 16 << 20 // KiB
	memFree := memTotal/4 + (index*7919)%(memTotal/2)
	n.files = map[string]func() string{
		"/proc/loadavg": func() string {
			return fmt.Sprintf("%.2f %.2f %.2f %d/%d %d\n", load(0.11), load(0.05), load(0.01), 1+index%4, 180+index%50, 4000+index)
		},
		"/proc/uptime": func() string {
			up := time.Since(n.boot).Seconds()
			return fmt.Sprintf("%.2f %.2f\n", up, up*1.7)
		},
		"/proc/meminfo": func() string {
			return fmt.Sprintf("MemTotal:       %d kB\nMemFree:        %d kB\nMemAvailable:   %d kB\nBuffers:        %d kB\nCached:         %d kB\nSwapTotal:             0 kB\nSwapFree:              0 kB\n",
				memTotal, memFree, memFree+memFree/3, 1000+index%900, memFree/5)
		},
		"/proc/stat": func() string {
			// Two CPUs at 100 ticks a second each since boot, busy by a
			// share that differs per node.
			t := int(time.Since(n.boot).Seconds() * 100)
			busy := 5 + index%30 // percent
			u, s, w := t*busy/100, t*busy/300, t/100
			idle := t - u - s - w
			return fmt.Sprintf("cpu  %d 0 %d %d %d 0 0 0 0 0\ncpu0 %d 0 %d %d %d 0 0 0 0 0\ncpu1 %d 0 %d %d %d 0 0 0 0 0\nprocesses %d\nprocs_running %d\nprocs_blocked 0\n",
				2*u, 2*s, 2*idle, 2*w, u, s, idle, w, u, s, idle, w, 5000+index, 1+index%4)
		},
		"/proc/diskstats": func() string {
			t := int(time.Since(n.boot).Seconds())
			return fmt.Sprintf("   8       0 sda %d 0 %d 0 %d 0 %d 0 0 %d 0 0 0 0 0 0\n", 10*t, 80*t, 5*t, 40*t, 3*t)
		},
		"/proc/net/dev": func() string {
			t := int(time.Since(n.boot).Seconds())
			return "Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n" +
				fmt.Sprintf("    lo: %d %d 0 0 0 0 0 0 %d %d 0 0 0 0 0 0\n  eth0: %d %d 0 0 0 0 0 0 %d %d 0 0 0 0 0 0\n", 1000*t, 10*t, 1000*t, 10*t, 50000*t, 40*t, 20000*t, 30*t)
		},
		"/etc/os-release": func() string { return "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\n" },
		"/proc/cpuinfo": func() string {
			return "processor\t: 0\nmodel name\t: Simulated CPU @ 2.40GHz\n\nprocessor\t: 1\nmodel name\t: Simulated CPU @ 2.40GHz\n"
		},
		"/proc/version":              func() string { return "Linux version 6.1.0-sim (smctl sim) #1 SMP\n" },
		"/proc/sys/kernel/hostname":  func() string { return name + "\n" },
		"/proc/sys/kernel/ostype":    func() string { return "Linux\n" },
		"/proc/sys/kernel/osrelease": func() string { return "6.1.0-sim\n" },
		"/sys/class/net/eth0/mtu":    func() string { return "1500\n" },
		"/sys/class/net/eth0/address": func() string {
			return fmt.Sprintf("52:54:00:%02x:%02x:%02x\n", (index>>16)&0xff, (index>>8)&0xff, index&0xff)
		},
		"/sys/devices/system/cpu/online": func() string { return "0-1\n" },
		"/sys/kernel/mm/transparent_hugepage/enabled": func() string {
			return "always [madvise] never\n"
		},
	}
	n.isDir = map[string]bool{"/": true}
	children := map[string]map[string]bool{}
	for p := range n.files {
		for d := p; d != "/"; {
			parent := d[:strings.LastIndexByte(d, '/')]
			if parent == "" {
				parent = "/"
			}
			if children[parent] == nil {
				children[parent] = map[string]bool{}
			}
			children[parent][d[strings.LastIndexByte(d, '/')+1:]] = true
			n.isDir[parent] = true
			d = parent
		}
	}
	n.dirs = map[string][]string{}
	for d, cs := range children {
		for c := range cs {
			n.dirs[d] = append(n.dirs[d], c)
		}
		sort.Strings(n.dirs[d])
	}
	return n
}

// words splits a command line as a POSIX shell would for simple commands:
// single and double quotes and backslashes.
func words(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	in := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\'' || c == '"':
			j := strings.IndexByte(s[i+1:], c)
			if j < 0 {
				return nil, fmt.Errorf("unterminated quoted string")
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
			in = true
		case c == '\\' && i+1 < len(s):
			cur.WriteByte(s[i+1])
			i++
			in = true
		case c == ' ' || c == '\t' || c == '\n':
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteByte(c)
			in = true
		}
	}
	if in {
		out = append(out, cur.String())
	}
	return out, nil
}

// run interprets command: a list of simple commands separated by ';'.
func (n *node) run(ctx context.Context, command string) (stdout, stderr string, exit int) {
	var o, e strings.Builder
	for _, part := range strings.Split(command, ";") {
		ws, err := words(part)
		if err != nil {
			return o.String(), "sh: 1: Syntax error: " + err.Error() + "\n", 2
		}
		if len(ws) == 0 {
			continue
		}
		so, se, x := n.simple(ctx, ws)
		o.WriteString(so)
		e.WriteString(se)
		exit = x
		if ws[0] == "exit" {
			break
		}
	}
	return o.String(), e.String(), exit
}

func (n *node) simple(ctx context.Context, w []string) (string, string, int) {
	switch w[0] {
	case "vmstat":
		return n.vmstat(w[1:]), "", 0
	case "hostname":
		return n.name + "\n", "", 0
	case "uptime":
		up := time.Since(n.boot)
		l := strings.Fields(n.files["/proc/loadavg"]())
		return fmt.Sprintf(" %s up %d days, %2d:%02d,  0 users,  load average: %s, %s, %s\n",
			time.Now().Format("15:04:05"), int(up.Hours())/24, int(up.Hours())%24, int(up.Minutes())%60, l[0], l[1], l[2]), "", 0
	case "uname":
		if len(w) > 1 && w[1] == "-n" {
			return n.name + "\n", "", 0
		}
		if len(w) > 1 && w[1] == "-r" {
			return "6.1.0-sim\n", "", 0
		}
		if len(w) > 1 && w[1] == "-a" {
			return "Linux " + n.name + " 6.1.0-sim #1 SMP x86_64 GNU/Linux\n", "", 0
		}
		return "Linux\n", "", 0
	case "echo":
		return strings.Join(w[1:], " ") + "\n", "", 0
	case "true", ":":
		return "", "", 0
	case "false":
		return "", "", 1
	case "exit":
		code := 0
		if len(w) > 1 {
			code, _ = strconv.Atoi(w[1])
		}
		return "", "", code
	case "sleep":
		if len(w) < 2 {
			return "", "sleep: missing operand\n", 1
		}
		f, err := strconv.ParseFloat(w[1], 64)
		if err != nil || f < 0 {
			return "", "sleep: invalid time interval '" + w[1] + "'\n", 1
		}
		select {
		case <-time.After(time.Duration(f * float64(time.Second))):
		case <-ctx.Done():
		}
		return "", "", 0
	case "cat":
		return n.cat(w[1:])
	case "ls":
		return n.ls(w[1:])
	case "ps":
		return n.ps(w[1:])
	case "systemctl":
		return n.systemctl(w[1:])
	case "who":
		return n.who()
	case "lsblk":
		return n.lsblk(w[1:])
	}
	return "", "sh: 1: " + w[0] + ": not found\n", 127
}

func (n *node) vmstat(args []string) string {
	count := 1
	if len(args) >= 2 {
		if c, err := strconv.Atoi(args[1]); err == nil && c > 0 && c <= 100 {
			count = c
		}
	}
	var b strings.Builder
	b.WriteString("procs -----------memory---------- ---swap-- -----io---- -system-- ------cpu-----\n")
	b.WriteString(" r  b   swpd   free   buff  cache   si   so    bi    bo   in   cs us sy id wa st\n")
	for k := 0; k < count; k++ {
		i := n.index + k
		us := (i*7)%60 + 1
		sy := (i*3)%10 + 1
		fmt.Fprintf(&b, "%2d %2d %6d %6d %6d %6d %4d %4d %5d %5d %4d %4d %2d %2d %2d %2d %2d\n",
			1+i%4, i%2, 0, 4000000+(i*7919)%8000000, 1000+i%900, 800000+i%90000, 0, 0, i%50, i%80, 300+i%200, 500+i%400, us, sy, 100-us-sy, 0, 0)
	}
	return b.String()
}

func (n *node) cat(args []string) (string, string, int) {
	var o, e strings.Builder
	exit := 0
	for _, a := range args {
		if a == "--" {
			continue
		}
		if f, ok := n.files[a]; ok {
			o.WriteString(f())
			continue
		}
		exit = 1
		if n.isDir[a] {
			fmt.Fprintf(&e, "cat: %s: Is a directory\n", a)
		} else {
			fmt.Fprintf(&e, "cat: %s: No such file or directory\n", a)
		}
	}
	return o.String(), e.String(), exit
}

func (n *node) ls(args []string) (string, string, int) {
	mark, self := false, false
	var paths []string
	opts := true
	for _, a := range args {
		if opts && a == "--" {
			opts = false
			continue
		}
		if opts && strings.HasPrefix(a, "-") && len(a) > 1 {
			mark = mark || strings.Contains(a, "p") || strings.Contains(a, "F")
			self = self || strings.Contains(a, "d")
			continue
		}
		paths = append(paths, strings.TrimSuffix(a, "/"))
	}
	if len(paths) == 0 {
		paths = []string{"/"}
	}
	var o, e strings.Builder
	exit := 0
	for _, p := range paths {
		if p == "" {
			p = "/"
		}
		suffix := func(full string) string {
			if mark && n.isDir[full] {
				return "/"
			}
			return ""
		}
		switch {
		case self && (n.isDir[p] || n.files[p] != nil):
			o.WriteString(p + suffix(p) + "\n")
		case n.isDir[p]:
			for _, c := range n.dirs[p] {
				full := strings.TrimSuffix(p, "/") + "/" + c
				o.WriteString(c + suffix(full) + "\n")
			}
		case n.files[p] != nil:
			o.WriteString(p + "\n")
		default:
			fmt.Fprintf(&e, "ls: cannot access '%s': No such file or directory\n", p)
			exit = 2
		}
	}
	return o.String(), e.String(), exit
}
