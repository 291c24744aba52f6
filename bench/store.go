package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The store suite (issue 10: the tree's cost per node), on -nodes nodes
// of bench/cheapsshd, a server that costs less per session than its
// clients (its package comment says how), so that the client's cost is
// what shows:
//
//   - bench/baseline (bare x/crypto/ssh + errgroup) running vmstat on
//     every node, the floor;
//   - "smctl find /systems/servers -name command | smctl write
//     --stdin-paths vmstat" (both commands started together, as a shell
//     does: wall until both end, CPU of both) on a tree written before,
//     the steady state (a cron job, the next command);
//   - the same pipeline on a tree discovered just before (a new tree
//     each round; the discovery is not timed), the first write;
//   - smctl find /systems/servers -name command, smctl find
//     /systems/servers (every file) and smctl cat of the 2000 command
//     files (paths on stdin) on the written tree, each run -store-repeat
//     times per round, the round's figure their median.
//
// They run in interleaved rounds (-runs of them), each after sync(2), so
// that one run's writeback does not weigh on the next; the SSH runs start
// -store-pace after the previous SSH run ended (the runs were
// 2 s apart). The table gives medians; the lines under it the targets
// of issue 10 and whether each holds, the cheap server's CPU against its
// clients', and the CPU other processes and the kernel's threads used
// during the SSH runs (a loaded machine shows there, as does the kernel's
// writeback of smctl's results).
//
// Then one steady-state write and one baseline run under strace -f -c:
// system calls per node, total and by call, and the difference (what
// the tree costs beyond the SSH client). Calls of the Go runtime's
// scheduling and memory (futex, nanosleep, epoll_pwait, mmap, ...) vary
// with timing; a second total leaves them out.
//
// With -before REV, smctl at REV joins every round with trees of its
// own (the same server), and each figure gets its ratio now / REV.

var (
	storePace   = flag.Duration("store-pace", 2*time.Second, "store suite: least time between the end of one SSH run and the start of the next")
	storeRepeat = flag.Int("store-repeat", 5, "store suite: runs of find and cat per round (the round's figure is their median)")
)

// Targets of issue 10.
const (
	steadyTarget = 1.15                  // steady-state write / baseline
	firstTarget  = 1.5                   // first write into a new tree / baseline
	findTarget   = 50 * time.Millisecond // find over 2000 servers x ~15 files
	catTarget    = 40 * time.Millisecond // cat of 2000 cached files
)

// storeBuild is one smctl binary with the trees it is measured on.
type storeBuild struct {
	name, bin string
	root      string // discovered and written once before the rounds
	fresh     string // the tree discovered for the next first write
	roots     int
}

// storeTool is one line of the rounds: net tools are SSH runs (paced,
// server CPU counted); prepare runs untimed before each run.
type storeTool struct {
	name    string
	net     bool
	prepare func()
	f       func() measurement
	server  []time.Duration // the server's CPU during each run
	others  []time.Duration // CPU used by anything else during each run
}

func storeRows(smctl, revSmctl, baseline, work string) string {
	cheapBin := filepath.Join(work, "bin", "cheapsshd")
	goBuild("", "the cheap SSH server", "build", "-trimpath", "-o", cheapBin, "./bench/cheapsshd")
	dir := filepath.Join(work, "cheap")
	srv := startCheap(cheapBin, dir, *nodes)
	defer srv.stop()
	nodesFile := simNodeFile(dir, filepath.Join(work, "cheapnodes.txt"))
	loadStart := loadavg()

	builds := []*storeBuild{{name: "smctl", bin: smctl}}
	if revSmctl != "" {
		name := "smctl@" + *before
		if r := revisions[*before]; r != nil && !strings.HasPrefix(r.hash, *before) {
			name += " (" + r.hash[:10] + ")" // HEAD, a branch: which commit it was
		}
		builds = append(builds, &storeBuild{name: name, bin: revSmctl})
	}
	var cmds string
	for i, b := range builds {
		b.root = filepath.Join(work, fmt.Sprintf("storeroot%d", i))
		discoverSim(b.bin, b.root, dir)
		// The paths are the same in every tree.
		cmds = commandList(b.bin, b.root, filepath.Join(work, "storecommands.txt"))
		if m := findWrite(b.bin, b.root); m.ok != *nodes {
			check(fmt.Errorf("store suite: %s's first write stored %d results of %d", b.name, m.ok, *nodes))
		}
	}
	base := &storeTool{name: "baseline (x/crypto/ssh + errgroup)", net: true, f: func() measurement {
		m := run(nil, baseline, "-nodes", nodesFile, "-key", filepath.Join(dir, "id_ed25519"),
			"-hostkey", filepath.Join(dir, "known_hosts"), "-user", "sim", "-p", fmt.Sprint(*fanout), "vmstat")
		m.ok = baselineOK(m)
		return m
	}}
	tools := []*storeTool{base}
	type buildTools struct{ steady, first, find, findAll, cat *storeTool }
	per := make([]buildTools, len(builds))
	for i, b := range builds {
		per[i].steady = &storeTool{name: b.name + ` find \| write (steady state)`, net: true, f: func() measurement {
			return findWrite(b.bin, b.root)
		}}
		per[i].first = &storeTool{name: b.name + ` find \| write, first write into a new tree`, net: true,
			prepare: func() {
				b.roots++
				b.fresh = filepath.Join(work, fmt.Sprintf("storefresh%d-%d", i, b.roots))
				discoverSim(b.bin, b.fresh, dir)
			},
			f: func() measurement { return findWrite(b.bin, b.fresh) }}
		per[i].find = &storeTool{name: b.name + " find /systems/servers -name command", f: func() measurement {
			return repeated(func() measurement {
				m := run(nil, b.bin, "--root", b.root, "find", "/systems/servers", "-name", "command")
				m.ok = strings.Count(lastOutput, "\n")
				return m
			})
		}}
		per[i].findAll = &storeTool{name: b.name + " find /systems/servers", f: func() measurement {
			return repeated(func() measurement {
				m := run(nil, b.bin, "--root", b.root, "find", "/systems/servers")
				m.ok = strings.Count(lastOutput, "\n")
				return m
			})
		}}
		per[i].cat = &storeTool{name: b.name + " cat (the command files, paths on stdin)", f: func() measurement {
			return repeated(func() measurement {
				m := run(cmds, b.bin, "--root", b.root, "cat")
				m.ok = countNodes(m, `procs -----------memory`) // lines are prefixed with their path
				return m
			})
		}}
		tools = append(tools, per[i].steady, per[i].first, per[i].find, per[i].findAll, per[i].cat)
	}
	// A reference for the find rows, measured in the same rounds: the
	// machine's speed moves through the day, their ratio much less.
	var ref *storeTool
	if findBin, err := exec.LookPath("find"); err == nil {
		ref = &storeTool{name: "find(1) over the backing tree", f: func() measurement {
			return repeated(func() measurement {
				m := run(nil, findBin, filepath.Join(builds[0].root, "tree", "systems", "servers"), "-name", "command")
				m.ok = strings.Count(lastOutput, "\n")
				return m
			})
		}}
		tools = append(tools, ref)
	}

	var lastNet time.Time
	fs := make([]func() measurement, len(tools))
	for i, t := range tools {
		fs[i] = func() measurement {
			if t.prepare != nil {
				t.prepare()
			}
			syscall.Sync()
			if !t.net {
				return t.f()
			}
			if wait := *storePace - time.Since(lastNet); wait > 0 {
				time.Sleep(wait)
			}
			s0, b0 := srv.cpu(), machineBusy()
			m := t.f()
			s, busy := srv.cpu()-s0, machineBusy()-b0
			lastNet = time.Now()
			t.server = append(t.server, s)
			t.others = append(t.others, max(busy-s-m.cpu, 0))
			return m
		}
	}
	all := interleaved(*runs, fs...)
	meds := make([]measurement, len(tools))
	for i := range tools {
		meds[i] = median(all[i])
	}
	idx := func(t *storeTool) int {
		for i := range tools {
			if tools[i] == t {
				return i
			}
		}
		panic("no such tool")
	}
	bm := meds[0]

	var rows []row
	rows = append(rows, row{"cheapsshd", base.name, *nodes, bm, 1, serverNote(base)})
	for _, p := range per {
		for _, t := range []*storeTool{p.steady, p.first} {
			m := meds[idx(t)]
			note := serverNote(t)
			if t == p.first {
				note += "; a new tree each round, its discovery not timed"
			}
			rows = append(rows, row{"cheapsshd", t.name, *nodes, m, ratio(m, bm), note})
		}
	}
	host, _ := os.Hostname()
	var b strings.Builder
	fmt.Fprintf(&b, "\n### store suite: the tree's cost per node (issue 10), %s, %s, %d CPUs, %d interleaved rounds\n",
		time.Now().Format("2006-01-02"), host, runtime.NumCPU(), *runs)
	b.WriteString(render(rows))

	// Targets.
	holds := func(ok bool) string {
		if ok {
			return "holds"
		}
		return "does NOT hold"
	}
	b.WriteString("\n")
	for i, p := range per {
		st, fi := meds[idx(p.steady)], meds[idx(p.first)]
		fmt.Fprintf(&b, "%s steady state / baseline: %.2f wall (target <= %.2f: %s), %.2f CPU; by round %s\n",
			builds[i].name, ratio(st, bm), steadyTarget, holds(ratio(st, bm) <= steadyTarget), cpuRatio(st, bm), roundRatios(all[idx(p.steady)], all[0]))
		fmt.Fprintf(&b, "%s first write / baseline: %.2f wall (target <= %.2f: %s), %.2f CPU; by round %s\n",
			builds[i].name, ratio(fi, bm), firstTarget, holds(ratio(fi, bm) <= firstTarget), cpuRatio(fi, bm), roundRatios(all[idx(p.first)], all[0]))
	}
	if len(per) > 1 {
		b.WriteString(compareLine(builds[0].name+" steady state", builds[1].name+" steady state", all[idx(per[0].steady)], all[idx(per[1].steady)]))
		b.WriteString(strings.TrimPrefix(compareLine(builds[0].name+" first write", builds[1].name+" first write", all[idx(per[0].first)], all[idx(per[1].first)]), "\n"))
	}
	sv, cl := medianDur(base.server), bm.cpu
	fmt.Fprintf(&b, "cheapsshd CPU per SSH run (median): %.2f s during the baseline's (client %.2f s: server / client %.2f), %.2f s during %s's steady state (client %.2f s: %.2f)\n",
		sv.Seconds(), cl.Seconds(), sv.Seconds()/max(cl.Seconds(), 1e-9),
		medianDur(per[0].steady.server).Seconds(), builds[0].name, meds[idx(per[0].steady)].cpu.Seconds(),
		medianDur(per[0].steady.server).Seconds()/max(meds[idx(per[0].steady)].cpu.Seconds(), 1e-9))
	var others []time.Duration
	for _, t := range tools {
		others = append(others, t.others...)
	}
	fmt.Fprintf(&b, "CPU used during the SSH runs by other processes and the kernel's threads (the writeback and journal of smctl's writes among them): median %.2f s, largest %.2f s (of %d CPUs x the run's wall); load average %s at the start, %s at the end\n",
		medianDur(others).Seconds(), maxDur(others).Seconds(), runtime.NumCPU(), loadStart, loadavg())

	// find and cat.
	b.WriteString("\n| command | lines out | wall | CPU | peak RSS | target | |")
	if len(per) > 1 {
		fmt.Fprintf(&b, " %s wall | now / %s |", builds[1].name, *before)
	}
	b.WriteString("\n| --- | ---: | ---: | ---: | ---: | ---: | --- |")
	if len(per) > 1 {
		b.WriteString(" ---: | ---: |")
	}
	b.WriteString("\n")
	for _, k := range []struct {
		cmd    string
		tool   func(buildTools) *storeTool
		target time.Duration
	}{
		{"smctl find /systems/servers -name command", func(p buildTools) *storeTool { return p.find }, findTarget},
		{"smctl find /systems/servers", func(p buildTools) *storeTool { return p.findAll }, findTarget},
		{"smctl cat (the command files, paths on stdin)", func(p buildTools) *storeTool { return p.cat }, catTarget},
	} {
		m := meds[idx(k.tool(per[0]))]
		fmt.Fprintf(&b, "| %s | %d | %.1f ms | %.1f ms | %d MB | <= %d ms | %s |", k.cmd, m.ok, ms(m.wall), ms(m.cpu), m.rssKB/1024,
			k.target.Milliseconds(), holds(m.wall <= k.target))
		if len(per) > 1 {
			r := meds[idx(k.tool(per[1]))]
			fmt.Fprintf(&b, " %.1f ms | %.2f |", ms(r.wall), m.wall.Seconds()/r.wall.Seconds())
		}
		b.WriteString("\n")
	}
	if ref != nil {
		r, f := meds[idx(ref)], meds[idx(per[0].find)]
		fmt.Fprintf(&b, "\nReference, same rounds: find(1) over the same backing tree, -name command: %.1f ms (%d lines); %s find -name command / find(1): %.2f\n",
			ms(r.wall), r.ok, builds[0].name, f.wall.Seconds()/max(r.wall.Seconds(), 1e-9))
	}
	fmt.Fprintf(&b, "\n(each round's figure is the median of %d runs; the table gives the median of the rounds)\n", *storeRepeat)

	b.WriteString(syscallTable(builds, baseline, nodesFile, dir, cmds))
	return b.String()
}

// syscallTable runs one steady-state write of every build and one
// baseline run under strace -f -c, and tabulates their calls per node.
func syscallTable(builds []*storeBuild, baseline, nodesFile, dir, cmds string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\nSystem calls per node (strace -f -c, one run each, %d nodes):\n\n", *nodes)
	strace, err := exec.LookPath("strace")
	if err != nil {
		b.WriteString("not measured: strace is not installed (apt-get install strace)\n")
		return b.String()
	}
	type traced struct {
		name   string
		counts map[string]int
		ok     int
	}
	var ts []traced
	syscall.Sync()
	counts, err := straceCounts(strace, "", baseline, "-nodes", nodesFile, "-key", filepath.Join(dir, "id_ed25519"),
		"-hostkey", filepath.Join(dir, "known_hosts"), "-user", "sim", "-p", fmt.Sprint(*fanout), "vmstat")
	if err != nil {
		fmt.Fprintf(&b, "not measured: %v\n", err)
		return b.String()
	}
	ts = append(ts, traced{"baseline", counts, baselineOK(measurement{})})
	for _, bd := range builds {
		syscall.Sync()
		time.Sleep(*storePace)
		counts, err := straceCounts(strace, cmds, bd.bin, "--root", bd.root, "--fanout", fmt.Sprint(*fanout), "write", "--stdin-paths", "vmstat")
		if err != nil {
			fmt.Fprintf(&b, "%s: not measured: %v\n", bd.name, err)
			continue
		}
		ts = append(ts, traced{bd.name + " write (steady state)", counts, catOK(bd.bin, bd.root)})
	}
	n := float64(*nodes)
	per := func(c int) string { return strconv.FormatFloat(float64(c)/n, 'f', 1, 64) }
	// The calls to show: those of more than 0.5 per node in any run, and
	// the file calls the issue names.
	show := map[string]bool{}
	for _, name := range []string{"openat", "read", "write", "close", "fcntl", "newfstatat", "statx", "fstat", "getdents64", "flock", "pwrite64", "pread64", "ftruncate", "renameat2", "unlinkat", "linkat", "fsync", "fdatasync", "mkdirat"} {
		show[name] = true
	}
	for _, t := range ts {
		for name, c := range t.counts {
			if float64(c)/n > 0.5 {
				show[name] = true
			}
		}
	}
	var names []string
	for name := range show {
		if name != "total" {
			names = append(names, name)
		}
	}
	// Calls no run made are left out; the others come by smctl's count
	// (the largest of the builds'), most first.
	most := func(runs []traced, name string) int {
		m := 0
		for _, t := range runs {
			m = max(m, t.counts[name])
		}
		return m
	}
	names = slices.DeleteFunc(names, func(name string) bool { return most(ts, name) == 0 })
	sort.Slice(names, func(i, j int) bool {
		if a, b := most(ts[1:], names[i]), most(ts[1:], names[j]); a != b {
			return a > b
		}
		return names[i] < names[j]
	})
	b.WriteString("| system call |")
	for _, t := range ts {
		fmt.Fprintf(&b, " %s |", t.name)
	}
	for _, t := range ts[1:] {
		fmt.Fprintf(&b, " %s − baseline |", strings.TrimSuffix(t.name, " write (steady state)"))
	}
	b.WriteString("\n| --- |" + strings.Repeat(" ---: |", 2*len(ts)-1) + "\n")
	line := func(label string, count func(map[string]int) int) {
		fmt.Fprintf(&b, "| %s |", label)
		for _, t := range ts {
			fmt.Fprintf(&b, " %s |", per(count(t.counts)))
		}
		for _, t := range ts[1:] {
			fmt.Fprintf(&b, " %s |", per(count(t.counts)-count(ts[0].counts)))
		}
		b.WriteString("\n")
	}
	line("**total**", func(c map[string]int) int { return c["total"] })
	line("**total without the Go runtime's**", func(c map[string]int) int {
		s := c["total"]
		for name, k := range c {
			if runtimeCalls[name] {
				s -= k
			}
		}
		return s
	})
	for _, name := range names {
		line(name, func(c map[string]int) int { return c[name] })
	}
	b.WriteString("\nnodes ok:")
	for _, t := range ts {
		fmt.Fprintf(&b, " %s %d;", t.name, t.ok)
	}
	b.WriteString(" the Go runtime's calls (scheduling, signals, memory: ")
	var rt []string
	for name := range runtimeCalls {
		rt = append(rt, name)
	}
	sort.Strings(rt)
	b.WriteString(strings.Join(rt, ", ") + ") depend on timing; under strace every call is slower\n")
	return b.String()
}

// runtimeCalls are the system calls of the Go runtime's scheduling,
// signals and memory management, which vary from run to run.
var runtimeCalls = map[string]bool{
	"futex": true, "nanosleep": true, "sched_yield": true, "epoll_pwait": true, "epoll_wait": true,
	"tgkill": true, "getpid": true, "gettid": true, "rt_sigreturn": true, "rt_sigprocmask": true,
	"rt_sigaction": true, "sigaltstack": true, "madvise": true, "mmap": true, "munmap": true,
	"mprotect": true, "clone": true, "clone3": true, "rseq": true, "set_robust_list": true,
	"sched_getaffinity": true, "brk": true,
}

// straceCounts runs a command under strace -f -c and returns the calls
// of each system call, and "total".
func straceCounts(strace, stdinFile, name string, args ...string) (map[string]int, error) {
	out, err := os.CreateTemp(workDir, "strace-*.txt")
	check(err)
	out.Close()
	cmd := exec.Command(strace, append([]string{"-f", "-c", "-o", out.Name(), "--", name}, args...)...)
	if stdinFile != "" {
		f, err := os.Open(stdinFile)
		check(err)
		defer f.Close()
		cmd.Stdin = f
	}
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	lastOutput = stdout.String()
	counts, perr := parseStraceC(out.Name())
	if perr != nil {
		msg := strings.TrimSpace(stderr.String())
		if i := strings.IndexByte(msg, '\n'); i > 0 {
			msg = msg[:i]
		}
		return nil, fmt.Errorf("strace %s: %v (%v; %s)", filepath.Base(name), perr, runErr, msg)
	}
	return counts, nil
}

// parseStraceC reads strace -c's summary: "% time  seconds  usecs/call
// calls  errors syscall" rows, the last one "total"; the calls column is
// the fourth number from the left (usecs/call may be blank on the total
// line, errors on any).
func parseStraceC(file string) (map[string]int, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	counts := map[string]int{}
	var header string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, "% time") {
			header = l
			continue
		}
		if header == "" || strings.HasPrefix(l, "---") || strings.TrimSpace(l) == "" {
			continue
		}
		// The header's columns end where its titles end: calls ends at
		// the end of "calls".
		end := strings.Index(header, "calls") + len("calls")
		if end > len(l) {
			continue
		}
		fields := strings.Fields(l[:end])
		fs := strings.Fields(l)
		if len(fields) == 0 || len(fs) == 0 {
			continue
		}
		c, err := strconv.Atoi(fields[len(fields)-1])
		if err != nil {
			continue
		}
		counts[fs[len(fs)-1]] += c
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if counts["total"] == 0 {
		return nil, errors.New("no summary in strace's output")
	}
	return counts, nil
}

// findWrite runs smctl find /systems/servers -name command | smctl write
// --stdin-paths vmstat as a shell runs a pipeline, both commands started
// together: wall time until both ended, their CPU times added, the larger
// peak RSS; ok is the nodes whose stored result is a vmstat output with
// status 0, read back through smctl (after the measurement).
func findWrite(bin, root string) measurement {
	r, w, err := os.Pipe()
	check(err)
	find := exec.Command(bin, "--root", root, "find", "/systems/servers", "-name", "command")
	find.Stdout = w
	write := exec.Command(bin, "--root", root, "--fanout", fmt.Sprint(*fanout), "write", "--stdin-paths", "vmstat")
	write.Stdin = r
	start := time.Now()
	check(find.Start())
	check(write.Start())
	w.Close()
	r.Close()
	_ = find.Wait() // failures are counted through the stored results
	_ = write.Wait()
	wall := time.Since(start)
	fu, wu := find.ProcessState.SysUsage().(*syscall.Rusage), write.ProcessState.SysUsage().(*syscall.Rusage)
	m := measurement{
		wall:  wall,
		cpu:   time.Duration(fu.Utime.Nano() + fu.Stime.Nano() + wu.Utime.Nano() + wu.Stime.Nano()),
		rssKB: max(fu.Maxrss, wu.Maxrss),
	}
	m.ok = catOK(bin, root)
	return m
}

// catOK counts the command files of root whose last run exited 0 and
// stored a vmstat output, as smctl cat -o json reports them (whatever the
// store's format on disk).
func catOK(bin, root string) int {
	cmd := exec.Command(bin, "--root", root, "cat", "-o", "json", "/systems/servers/*/command")
	var out strings.Builder
	cmd.Stdout = &out
	_ = cmd.Run() // cat exits 1 when some failed
	n := 0
	dec := json.NewDecoder(strings.NewReader(out.String()))
	for {
		var l struct {
			RC      int     `json:"rc"`
			Content *string `json:"content"`
		}
		if err := dec.Decode(&l); err != nil {
			break
		}
		if l.RC == 0 && l.Content != nil && strings.HasPrefix(*l.Content, "procs -") {
			n++
		}
	}
	return n
}

// repeated runs f -store-repeat times and returns the median.
func repeated(f func() measurement) measurement {
	return med(max(*storeRepeat, 1), f)
}

// cheapServer is a running bench/cheapsshd.
type cheapServer struct {
	cmd *exec.Cmd
}

// startCheap runs bench/cheapsshd with n nodes writing into dir, and
// waits for it.
func startCheap(bin, dir string, n int) *cheapServer {
	os.Remove(filepath.Join(dir, "ready"))
	cmd := exec.Command(bin, "-n", fmt.Sprint(n), "-dir", dir)
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	check(cmd.Start())
	s := &cheapServer{cmd: cmd}
	for i := 0; ; i++ {
		if _, err := os.Stat(filepath.Join(dir, "ready")); err == nil {
			return s
		}
		if i > 600 {
			cmd.Process.Kill()
			check(errors.New("cheapsshd did not become ready"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *cheapServer) stop() {
	s.cmd.Process.Signal(syscall.SIGTERM)
	s.cmd.Wait()
}

// cpu is the server's CPU time so far.
func (s *cheapServer) cpu() time.Duration { return procCPU(s.cmd.Process.Pid) }

// procCPU is a process's CPU time so far (/proc/PID/stat: utime + stime,
// in the kernel's USER_HZ of 100 per second).
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The fields after the command name (in parentheses, maybe with
	// spaces): state is field 3, utime 14, stime 15.
	i := strings.LastIndexByte(string(b), ')')
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+st) * (time.Second / 100)
}

// machineBusy is the CPU time every CPU spent on anything but idle and
// I/O wait since boot (/proc/stat, USER_HZ).
func machineBusy() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal guest guest_nice
	var busy int64
	for i, v := range f[1:] {
		if i == 3 || i == 4 || i >= 8 { // idle, iowait; guest time is in user already
			continue
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		busy += n
	}
	return time.Duration(busy) * (time.Second / 100)
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}

func serverNote(t *storeTool) string {
	return fmt.Sprintf("server CPU %.2f s; others %.2f s", medianDur(t.server).Seconds(), medianDur(t.others).Seconds())
}

func medianDur(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	ds = append([]time.Duration(nil), ds...)
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds[len(ds)/2]
}

func maxDur(ds []time.Duration) time.Duration {
	var m time.Duration
	for _, d := range ds {
		m = max(m, d)
	}
	return m
}

func cpuRatio(m, base measurement) float64 {
	if base.cpu == 0 {
		return 0
	}
	return m.cpu.Seconds() / base.cpu.Seconds()
}

// roundRatios is each round's wall time of as over that of bs.
func roundRatios(as, bs []measurement) string {
	var s []string
	for i := range as {
		s = append(s, fmt.Sprintf("%.2f", as[i].wall.Seconds()/bs[i].wall.Seconds()))
	}
	return strings.Join(s, ", ")
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
