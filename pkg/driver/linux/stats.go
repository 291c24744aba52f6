package linux

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/smctl/smctl/pkg/transport"
)

// statsFiles are the files of stats/: system statistics, each one line
// per item, numbers in columns for awk. The rates are over a sample of
// sampleSeconds, taken on the node in one command.
//
//	stats/cpu        CPU USER SYSTEM IOWAIT IDLE  (percent; "all", then each cpuN)
//	stats/memory     NAME KB  (total, free, available, buffers, cached, swap_total, swap_free)
//	stats/io         DISK READS/s WRITES/s READ_KB/s WRITE_KB/s UTIL%  (disks that did any I/O)
//	stats/network    IFACE RX_KB/s TX_KB/s RX_PKTS/s TX_PKTS/s
//	stats/load       1MIN 5MIN 15MIN RUNNABLE/TOTAL
//	stats/processes  NAME N  (running, blocked, total, forks since boot)
//	stats/sar        the node's sysstat history as sadf -j prints it
var statsFiles = map[string]file{
	"cpu":       {read: cpuStats},
	"memory":    {read: memoryStats},
	"io":        {read: ioStats},
	"network":   {read: networkStats},
	"load":      {read: loadStats},
	"processes": {read: processStats},
	"sar":       {read: sarStats},
}

// sampleSeconds is how long a rate is sampled.
const sampleSeconds = 1

// sample reads file twice on the node, sampleSeconds apart, in one
// command, with the node's uptime at each read: the two contents and the
// seconds between them.
func sample(ctx context.Context, tr transport.Transport, file string) (a, b []byte, secs float64, err error) {
	cmd := fmt.Sprintf("cat /proc/uptime %[1]s; sleep %[2]d; echo @@; cat /proc/uptime %[1]s", file, sampleSeconds)
	out, err := run(ctx, tr, cmd, 4<<20)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("reading %s: %w", file, err)
	}
	first, second, ok := bytes.Cut([]byte(out), []byte("@@\n"))
	if !ok {
		return nil, nil, 0, fmt.Errorf("reading %s: no second sample", file)
	}
	t0, a := cutUptime(first)
	t1, b := cutUptime(second)
	if secs = t1 - t0; secs <= 0 {
		return nil, nil, 0, fmt.Errorf("reading %s: the node's clock did not move", file)
	}
	return a, b, secs, nil
}

// cutUptime splits the first line, /proc/uptime, from the rest.
func cutUptime(b []byte) (float64, []byte) {
	line, rest, _ := bytes.Cut(b, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) == 0 {
		return 0, rest
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v, rest
}

// fieldsOf maps the first field of each line to the numbers after it.
func fieldsOf(b []byte, trim string) (map[string][]float64, []string) {
	m := map[string][]float64{}
	var order []string
	for l := range strings.SplitSeq(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		key := strings.TrimSuffix(f[0], trim)
		var nums []float64
		for _, s := range f[1:] {
			v, err := strconv.ParseFloat(s, 64)
			if err != nil {
				break
			}
			nums = append(nums, v)
		}
		if _, dup := m[key]; !dup {
			order = append(order, key)
		}
		m[key] = nums
	}
	return m, order
}

func cpuStats(ctx context.Context, tr transport.Transport) (string, error) {
	a, b, _, err := sample(ctx, tr, "/proc/stat")
	if err != nil {
		return "", err
	}
	return formatCPU(a, b)
}

// formatCPU is the CPU time shares between two reads of /proc/stat.
func formatCPU(a, b []byte) (string, error) {
	ma, order := fieldsOf(a, "")
	mb, _ := fieldsOf(b, "")
	var lines []string
	for _, k := range order {
		if !strings.HasPrefix(k, "cpu") {
			continue
		}
		x, y := ma[k], mb[k]
		if len(x) < 5 || len(y) < len(x) {
			continue
		}
		d := func(i int) float64 {
			if i >= len(x) {
				return 0
			}
			return y[i] - x[i]
		}
		total := 0.0
		for i := range x[:min(len(x), 8)] { // user nice system idle iowait irq softirq steal
			total += d(i)
		}
		if total <= 0 {
			total = 1
		}
		name := k
		if k == "cpu" {
			name = "all"
		}
		pct := func(v float64) string { return strconv.FormatFloat(100*v/total, 'f', 1, 64) }
		lines = append(lines, strings.Join([]string{name, pct(d(0) + d(1)), pct(d(2) + d(5) + d(6)), pct(d(4)), pct(d(3))}, " "))
	}
	if len(lines) == 0 {
		return "", fmt.Errorf("/proc/stat: no cpu lines")
	}
	return strings.Join(lines, "\n"), nil
}

func memoryStats(ctx context.Context, tr transport.Transport) (string, error) {
	b, err := tr.ReadFile(ctx, "/proc/meminfo", 1<<20)
	if err != nil {
		return "", err
	}
	m, _ := fieldsOf(b, ":")
	var lines []string
	for _, kv := range [][2]string{{"total", "MemTotal"}, {"free", "MemFree"}, {"available", "MemAvailable"}, {"buffers", "Buffers"},
		{"cached", "Cached"}, {"swap_total", "SwapTotal"}, {"swap_free", "SwapFree"}} {
		if v, ok := m[kv[1]]; ok && len(v) > 0 {
			lines = append(lines, fmt.Sprintf("%s %.0f", kv[0], v[0]))
		}
	}
	if len(lines) == 0 {
		return "", fmt.Errorf("/proc/meminfo: no memory figures")
	}
	return strings.Join(lines, "\n"), nil
}

func ioStats(ctx context.Context, tr transport.Transport) (string, error) {
	a, b, secs, err := sample(ctx, tr, "/proc/diskstats")
	if err != nil {
		return "", err
	}
	return formatIO(a, b, secs), nil
}

// formatIO is the disks' rates between two reads of /proc/diskstats (its
// lines: major minor NAME reads merged sectors ms writes merged sectors ms
// inflight ms_io ...), for the disks that did any I/O since boot.
func formatIO(a, b []byte, secs float64) string {
	disks := func(b []byte) (map[string][]float64, []string) {
		m := map[string][]float64{}
		var order []string
		for l := range strings.SplitSeq(string(b), "\n") {
			f := strings.Fields(l)
			if len(f) < 14 {
				continue
			}
			var nums []float64
			for _, s := range f[3:14] {
				v, _ := strconv.ParseFloat(s, 64)
				nums = append(nums, v)
			}
			m[f[2]] = nums
			order = append(order, f[2])
		}
		return m, order
	}
	ma, order := disks(a)
	mb, _ := disks(b)
	var lines []string
	for _, k := range order {
		x, y := ma[k], mb[k]
		if y == nil || y[0]+y[4] == 0 {
			continue
		}
		r := func(i int) float64 { return (y[i] - x[i]) / secs }
		lines = append(lines, fmt.Sprintf("%s %.1f %.1f %.1f %.1f %.1f", k, r(0), r(4), r(2)/2, r(6)/2, min(100, r(9)/10)))
	}
	return strings.Join(lines, "\n")
}

func networkStats(ctx context.Context, tr transport.Transport) (string, error) {
	a, b, secs, err := sample(ctx, tr, "/proc/net/dev")
	if err != nil {
		return "", err
	}
	return formatNet(a, b, secs), nil
}

// formatNet is the interfaces' rates between two reads of /proc/net/dev
// (IFACE: rx bytes packets ... (8) tx bytes packets ...).
func formatNet(a, b []byte, secs float64) string {
	ifaces := func(b []byte) (map[string][]float64, []string) {
		m := map[string][]float64{}
		var order []string
		for l := range strings.SplitSeq(string(b), "\n") {
			// The two header lines have no ':'; a name may have a '|'.
			name, rest, ok := strings.Cut(l, ":")
			if !ok {
				continue
			}
			var nums []float64
			for _, s := range strings.Fields(rest) {
				v, _ := strconv.ParseFloat(s, 64)
				nums = append(nums, v)
			}
			if len(nums) >= 10 {
				name = strings.TrimSpace(name)
				m[name] = nums
				order = append(order, name)
			}
		}
		return m, order
	}
	ma, order := ifaces(a)
	mb, _ := ifaces(b)
	var lines []string
	for _, k := range order {
		x, y := ma[k], mb[k]
		if y == nil {
			continue
		}
		r := func(i int) float64 { return (y[i] - x[i]) / secs }
		lines = append(lines, fmt.Sprintf("%s %.1f %.1f %.1f %.1f", k, r(0)/1024, r(8)/1024, r(1), r(9)))
	}
	return strings.Join(lines, "\n")
}

func loadStats(ctx context.Context, tr transport.Transport) (string, error) {
	b, err := tr.ReadFile(ctx, "/proc/loadavg", 4096)
	if err != nil {
		return "", err
	}
	return LoadAverages(b, 4)
}

func processStats(ctx context.Context, tr transport.Transport) (string, error) {
	out, err := run(ctx, tr, "cat /proc/stat /proc/loadavg", 4<<20)
	if err != nil {
		return "", err
	}
	m, _ := fieldsOf([]byte(out), "")
	get := func(k string) string {
		if v := m[k]; len(v) > 0 {
			return strconv.FormatFloat(v[0], 'f', 0, 64)
		}
		return "?"
	}
	total := "?"
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if f := strings.Fields(lines[len(lines)-1]); len(f) >= 4 {
		if _, t, ok := strings.Cut(f[3], "/"); ok {
			total = t
		}
	}
	return fmt.Sprintf("running %s\nblocked %s\ntotal %s\nforks %s", get("procs_running"), get("procs_blocked"), total, get("processes")), nil
}

func sarStats(ctx context.Context, tr transport.Transport) (string, error) {
	out, err := run(ctx, tr, "command -v sadf >/dev/null || { echo 'sysstat is not installed on the node (no sadf)' >&2; exit 3; }; sadf -j -- -A", 64<<20)
	var ee *exitError
	if errors.As(err, &ee) && ee.code == 3 {
		return "", errors.New(ee.msg) // no sadf: the message says so
	}
	if errors.As(err, &ee) && strings.HasPrefix(ee.msg, "Cannot open") {
		return "", fmt.Errorf("sadf: %s: sysstat keeps no history of today (is its collection enabled? ENABLED=\"true\" in /etc/default/sysstat)", ee.msg)
	}
	if err != nil {
		return "", err
	}
	return strings.TrimRight(out, "\n"), nil
}
