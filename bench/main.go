// Command bench measures smctl against the tools administrators use today.
//
// The ssh suite: smctl collecting vmstat from many nodes against
// a bare x/crypto/ssh client (the floor) and, where installed, pdsh, clush
// and pssh, all over the same nodes in one run on one machine:
//
//   - 2000 simulated nodes (smctl sim, in its own process);
//   - the same with --fanout 1 (the paper's synchronous mode, Figure 10);
//   - 2000 nodes of which 5 % refuse, 2 % hang and 3 % fail;
//   - 500 names on a real OpenSSH sshd on 127.0.0.1 (needs sshd; root
//     for a login user of its own).
//
// On the 2000 clean simulated nodes the baseline and smctl run in rounds,
// interleaved: each round runs every tool once, each round starting with
// the next tool, so that the machine's noise weighs on all alike. With
// -before REV (rev.go), smctl built from git revision REV joins these
// rounds as the row "smctl@REV" (after its own first write into a tree
// of its own, also reported; the simulated nodes are the work tree's
// smctl sim for all), and a line under the table gives the ratio
// smctl / smctl@REV of the median wall times (with each round's ratio)
// and of the median CPU times; each row keeps its ratio to the baseline
// of the same run. This is the refactoring check "the 2000-node vmstat
// ratio within 5 % of before", in one run:
//
//	bench/run.sh -suite ssh,tree -before d1c6b6d
//
// The other ssh scenarios measure the work tree's smctl only.
//
// The ipmi suite: the power state of 200 ipmi_sim BMCs read by smctl, by
// FreeIPMI's ipmipower (the reference) and by an ipmitool loop; then with
// 20 of them down.
//
// The mem suite (mem.go): a command printing 1 MiB, different on every
// node, on -mem-nodes simulated nodes: smctl write, then smctl cat -b;
// peak RSS of each against -mem-target MB, every result checked intact.
// -mem-before REV measures smctl at REV after it (not interleaved).
//
// The cp suite (cp.go): a 10 MiB file copied to 200 nodes by smctl cp,
// clush --copy and pdcp, simulated and on a real sshd.
//
// The tree suite (tree.go): the Go benchmarks of -tree-pkg (pkg/vtree),
// median of -tree-count runs of each; with -before REV also at REV,
// interleaved benchmark by benchmark, with the ratio work tree / REV of
// ns/op, B/op and allocs/op per benchmark, matched by name.
//
// The store suite (store.go): the tree's cost per node (issue 10), on
// -nodes nodes of bench/cheapsshd, a server cheaper per session than its
// clients: the baseline, smctl's steady-state and first write (find |
// write), find and cat of the written tree, in interleaved rounds, with
// the targets; then system calls per node of a steady-state write
// and of the baseline (strace -f -c). With -before REV, smctl at REV too.
//
// The serve suite (serve.go): smctl serve's warm connections (issue 11) on
// -nodes nodes of bench/cheapsshd: a write through a running serve against
// the same write without it and against the bare client over connections
// it opened first (the floor), in rounds; serve's RSS holding them and its
// CPU while idle.
//
// The linux suite (linux.go): files of the linux driver (issue 12) read
// on -nodes simulated nodes against smctl write of the equivalent single
// command, interleaved: stats/cpu, services/sshd/state, processes/index.
//
// The vm suite (vm.go): the state of 1000 VMs on 10 private test-driver
// libvirtds by smctl against virsh in a loop and in parallel, and a live
// migration by smctl against virsh migrate (issue 13).
//
// It prints a table per suite (median of -runs runs: wall time, CPU time,
// peak RSS, nodes ok, wall time / the reference's) and writes them to
// bench/out/. -suite takes a comma-separated list; "all" is every suite.
//
//	go run ./bench [-suite all|ssh,ipmi,mem,tree,cp,run,store,serve,linux,vm,ha] [-before REV] [-nodes 2000] [-sshd-nodes 500] [-bmcs 200] [-runs 3]
//	               [-mem-nodes 2000] [-mem-before REV] [-tree-count 2] [-tree-bench REGEXP] [-tree-benchtime 1s]
//	               [-store-pace 2s] [-store-repeat 5]
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/smctl/smctl/internal/testsshd"
)

type measurement struct {
	wall, cpu time.Duration
	rssKB     int64
	ok        int
}

type row struct {
	scenario, tool string
	nodes          int
	m              measurement
	ratio          float64
	note           string
}

var (
	nodes     = flag.Int("nodes", 2000, "simulated nodes")
	sshdNodes = flag.Int("sshd-nodes", 500, "names on the real sshd (0: skip)")
	runs      = flag.Int("runs", 3, "runs per tool (the median is reported)")
	fanout    = flag.Int("fanout", 64, "parallelism given to every tool")
	skipSync  = flag.Bool("skip-sync", false, "skip the --fanout 1 run")
	suite     = flag.String("suite", "all", "comma-separated: ssh, ipmi, mem, tree, cp, run, store, serve, linux, vm, ha, or all")
	before    = flag.String("before", "", "ssh, tree and store suites: also measure this git revision, interleaved, with ratios work tree / revision")
	bmcs      = flag.Int("bmcs", 200, "ipmi_sim BMCs for the ipmi suite")
	bmcsDown  = flag.Int("bmcs-down", 20, "of them stopped for the second ipmi run")
)

// suites are the suites -suite asked for.
var suites = map[string]bool{}

// workDir is the bench's temporary directory, removed on every exit.
var workDir string

func main() {
	flag.Parse()
	for _, s := range strings.Split(*suite, ",") {
		switch s = strings.TrimSpace(s); s {
		case "all":
			for _, s := range []string{"ssh", "ipmi", "mem", "tree", "cp", "run", "store", "serve", "linux", "vm", "ha"} {
				suites[s] = true
			}
		case "ssh", "ipmi", "mem", "tree", "cp", "run", "store", "serve", "linux", "vm", "ha":
			suites[s] = true
		default:
			check(fmt.Errorf("-suite %q: no suite %q (ssh, ipmi, mem, tree, cp, run, store, serve, linux, vm, ha, all)", *suite, s))
		}
	}
	if *before != "" && !suites["ssh"] && !suites["tree"] && !suites["store"] {
		check(fmt.Errorf("-before applies to the ssh, tree and store suites (the mem suite has -mem-before)"))
	}
	work, err := os.MkdirTemp("", "smctl-bench-")
	check(err)
	workDir = work
	defer os.RemoveAll(work)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		os.RemoveAll(work)
		os.Exit(130)
	}()
	bin := filepath.Join(work, "bin")
	check(os.MkdirAll(bin, 0o755))
	smctl := filepath.Join(bin, "smctl")
	baseline := filepath.Join(bin, "baseline")
	goBuild("", "smctl in the work tree", "build", "-trimpath", "-o", smctl, "./cmd/smctl")
	goBuild("", "the baseline", "build", "-trimpath", "-o", baseline, "./bench/baseline")
	// Revisions first: one that does not build stops the bench at once.
	var revSmctl string
	if *before != "" && (suites["ssh"] || suites["store"]) {
		revSmctl = buildRevision(*before, work)
	}
	if *memBefore != "" && suites["mem"] {
		buildRevision(*memBefore, work)
	}
	if *before != "" && suites["tree"] {
		exportRevision(*before, work)
	}

	var rows []row
	var footer string
	if suites["ipmi"] {
		rows = append(rows, ipmiRows(smctl, work)...)
	}
	if suites["ssh"] {
		r, f := sshRows(smctl, revSmctl, baseline, work)
		rows, footer = append(rows, r...), f
	}
	var table string
	if len(rows) > 0 {
		table = render(rows) + footer
	}
	if suites["mem"] {
		table += memRows(smctl, work)
	}
	if suites["tree"] {
		table += treeRows(work)
	}
	if suites["cp"] {
		table += cpRows(smctl, work)
	}
	if suites["run"] {
		table += runRows(smctl, work)
	}
	if suites["store"] {
		table += storeRows(smctl, revSmctl, baseline, work)
	}
	if suites["serve"] {
		table += serveRows(smctl, baseline, work)
	}
	if suites["linux"] {
		table += linuxRows(smctl, work)
	}
	if suites["ha"] {
		table += haRows(smctl, work)
	}
	if suites["vm"] {
		table += vmRows(smctl, work)
	}
	fmt.Print(table)
	out := filepath.Join("bench", "out")
	if err := os.MkdirAll(out, 0o755); err == nil {
		name := filepath.Join(out, "results-"+time.Now().Format("2006-01-02T150405")+".md")
		_ = os.WriteFile(name, []byte(table), 0o644)
		fmt.Println("written to", name)
	}
}

// sshRows runs the ssh suite; revSmctl is smctl at -before, or "". It
// returns the rows and the comparison with revSmctl, if any.
func sshRows(smctl, revSmctl, baseline, work string) ([]row, string) {
	var rows []row
	// 1. Clean simulated cluster.
	simDir := filepath.Join(work, "sim")
	stop := startSim(smctl, simDir, *nodes, "")
	root := filepath.Join(work, "root")
	discoverSim(smctl, root, simDir)
	simNodes := simNodeFile(simDir, filepath.Join(work, "nodes.txt"))
	cmds := commandList(smctl, root, filepath.Join(work, "commands.txt"))

	// The first write into a new tree creates 4000 files; later runs (a
	// cron job, the next command) replace them. Both are reported; dirty
	// pages are flushed before each so that earlier writes do not weigh.
	write := func(bin, root, cmds string) func() measurement {
		return func() measurement {
			syscall.Sync()
			m := run(cmds, bin, "--root", root, "--fanout", fmt.Sprint(*fanout), "write", "--stdin-paths", "vmstat")
			m.ok = statusOK(root)
			return m
		}
	}
	first := write(smctl, root, cmds)()
	tools := []func() measurement{
		func() measurement {
			syscall.Sync()
			m := run(nil, baseline, "-nodes", simNodes, "-key", filepath.Join(simDir, "id_ed25519"),
				"-hostkey", filepath.Join(simDir, "known_hosts"), "-user", "sim", "-p", fmt.Sprint(*fanout), "vmstat")
			m.ok = baselineOK(m)
			return m
		},
		write(smctl, root, cmds),
	}
	var revFirst measurement
	if revSmctl != "" {
		// The same nodes in a tree of its own, made by smctl at -before.
		revRoot := filepath.Join(work, "revroot")
		discoverSim(revSmctl, revRoot, simDir)
		revCmds := commandList(revSmctl, revRoot, filepath.Join(work, "revcommands.txt"))
		revFirst = write(revSmctl, revRoot, revCmds)()
		tools = append(tools, write(revSmctl, revRoot, revCmds))
	}
	all := interleaved(*runs, tools...)
	base, sm := median(all[0]), median(all[1])
	rows = append(rows, row{"sim", "baseline (x/crypto/ssh + errgroup)", *nodes, base, 1, ""})
	rows = append(rows, row{"sim", "smctl", *nodes, sm, ratio(sm, base), "all results stored in the tree"})
	var footer string
	if revSmctl != "" {
		rev := median(all[2])
		tool := "smctl@" + *before
		rows = append(rows, row{"sim", tool, *nodes, rev, ratio(rev, base), "runs interleaved with smctl's and the baseline's"})
		footer = compareLine("smctl", tool, all[1], all[2])
	}
	rows = append(rows, row{"sim", "smctl, first write into a new tree", *nodes, first, ratio(first, base), "1 run; creates the 4000 files"})
	if revSmctl != "" {
		rows = append(rows, row{"sim", "smctl@" + *before + ", first write into a new tree", *nodes, revFirst, ratio(revFirst, base), "1 run"})
	}
	if !*skipSync {
		sync := run(cmds, smctl, "--root", root, "--fanout", "1", "write", "--stdin-paths", "vmstat")
		sync.ok = statusOK(root)
		rows = append(rows, row{"sim", "smctl --fanout 1 (synchronous, Figure 10)", *nodes, sync, ratio(sync, base), "1 run"})
	}
	cfg := filepath.Join(simDir, "ssh_config")
	hosts := filepath.Join(simDir, "hosts.txt")
	if p, err := exec.LookPath("pdsh"); err == nil {
		m := med(*runs, func() measurement {
			env := []string{"PDSH_RCMD_TYPE=ssh", "PDSH_SSH_ARGS=-F " + cfg + " -2 -a -x -l%u %h"}
			m := runEnv(env, nil, p, "-f", fmt.Sprint(*fanout), "-w", "^"+hosts, "vmstat")
			m.ok = countNodes(m, `^n\d+: procs`)
			return m
		})
		rows = append(rows, row{"sim", "pdsh -R ssh", *nodes, m, ratio(m, base), ""})
	} else {
		rows = append(rows, row{scenario: "sim", tool: "pdsh", note: "not installed (apt-get install pdsh)"})
	}
	if p, err := exec.LookPath("clush"); err == nil {
		m := med(*runs, func() measurement {
			m := run(nil, p, "-f", fmt.Sprint(*fanout), "-o", "-F "+cfg, "-w", fmt.Sprintf("n[%04d-%04d]", 1, *nodes), "vmstat")
			m.ok = countNodes(m, `^n\d+: procs`)
			return m
		})
		rows = append(rows, row{"sim", "clush", *nodes, m, ratio(m, base), ""})
	} else {
		rows = append(rows, row{scenario: "sim", tool: "clush", note: "not installed (apt-get install clustershell)"})
	}
	pssh := lookPSSH()
	if pssh != "" {
		m := med(*runs, func() measurement {
			m := run(nil, pssh, "-p", fmt.Sprint(*fanout), "-h", hosts, "-x", "-F "+cfg, "-t", "0", "vmstat")
			m.ok = countNodes(m, `\[SUCCESS\]`)
			return m
		})
		rows = append(rows, row{"sim", "pssh", *nodes, m, ratio(m, base), ""})
	} else {
		rows = append(rows, row{scenario: "sim", tool: "pssh", note: "not installed (apt-get install pssh)"})
	}
	stop()

	// 2. The same size with 5 % refusing, 2 % hanging, 3 % failing.
	const connectTimeout, commandTimeout = 3 * time.Second, 5 * time.Second
	badDir := filepath.Join(work, "simbad")
	stop = startSim(smctl, badDir, *nodes, "--refuse=0.05 --hang=0.02 --fail=0.03 --seed=9")
	badRoot := filepath.Join(work, "badroot")
	discoverSim(smctl, badRoot, badDir)
	badCmds := commandList(smctl, badRoot, filepath.Join(work, "badcommands.txt"))
	bad := med(*runs, func() measurement {
		m := run(badCmds, smctl, "--root", badRoot, "--fanout", fmt.Sprint(*fanout),
			"--connect-timeout", connectTimeout.String(), "--timeout", commandTimeout.String(), "write", "--stdin-paths", "vmstat")
		m.ok = statusOK(badRoot)
		return m
	})
	bound := sm.wall + connectTimeout + commandTimeout
	verdict := "within"
	if bad.wall > bound {
		verdict = "OVER"
	}
	rows = append(rows, row{"sim, 5% refuse 2% hang 3% fail", "smctl", *nodes, bad, ratio(bad, base),
		fmt.Sprintf("%s clean + connect + command timeout (%.1fs); every outcome in .status", verdict, bound.Seconds())})
	stop()

	// 3. A real OpenSSH sshd.
	if *sshdNodes > 0 {
		rows = append(rows, sshdRows(smctl, baseline, work)...)
	}
	return rows, footer
}

func sshdRows(smctl, baseline, work string) []row {
	if !testsshd.Available() {
		return []row{{scenario: "real sshd", tool: "smctl", note: "skipped: no /usr/sbin/sshd (apt-get install openssh-server)"}}
	}
	var names []string
	for i := 1; i <= *sshdNodes; i++ {
		names = append(names, fmt.Sprintf("s%04d", i))
	}
	srv, err := testsshd.Start(names)
	check(err)
	defer srv.Stop()
	root := filepath.Join(work, "sshdroot")
	mustRun(nil, smctl, "--root", root, "init")
	mustRun(nil, smctl, "--root", root, "write", "/discover_master", "remove server localhost")
	mustRun(nil, smctl, "--root", root, "write", "/discover_master", "import ssh_config "+srv.ConfigFile)
	cmds := commandList(smctl, root, filepath.Join(work, "sshdcommands.txt"))
	nodesFile := filepath.Join(work, "sshdnodes.txt")
	var b strings.Builder
	for range names {
		fmt.Fprintf(&b, "127.0.0.1 %d\n", srv.Port)
	}
	check(os.WriteFile(nodesFile, []byte(b.String()), 0o644))
	all := interleaved(*runs, func() measurement {
		m := run(nil, baseline, "-nodes", nodesFile, "-key", srv.KeyFile, "-hostkey", srv.KnownHosts, "-user", srv.User, "-p", fmt.Sprint(*fanout), "vmstat")
		m.ok = baselineOK(m)
		return m
	}, func() measurement {
		m := run(cmds, smctl, "--root", root, "--fanout", fmt.Sprint(*fanout), "write", "--stdin-paths", "vmstat")
		m.ok = statusOK(root)
		return m
	})
	base, sm := median(all[0]), median(all[1])
	return []row{
		{"real sshd", "baseline (x/crypto/ssh + errgroup)", *sshdNodes, base, 1, ""},
		{"real sshd", "smctl", *sshdNodes, sm, ratio(sm, base), ""},
	}
}

// startSim runs "smctl sim" in its own process and waits for it.
func startSim(smctl, dir string, n int, extra string) (stop func()) {
	args := []string{"sim", "-n", fmt.Sprint(n), "--dir", dir}
	args = append(args, strings.Fields(extra)...)
	cmd := exec.Command(smctl, args...)
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	check(cmd.Start())
	ready := filepath.Join(dir, "ready")
	for i := 0; ; i++ {
		if _, err := os.Stat(ready); err == nil {
			break
		}
		if i > 600 {
			cmd.Process.Kill()
			check(fmt.Errorf("smctl sim did not become ready"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	return func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}
}

func discoverSim(smctl, root, simDir string) {
	mustRun(nil, smctl, "--root", root, "init")
	mustRun(nil, smctl, "--root", root, "write", "/discover_master", "remove server localhost")
	f, err := os.Open(filepath.Join(simDir, "discover.txt"))
	check(err)
	defer f.Close()
	mustRun(f, smctl, "--root", root, "write", "/discover_master")
}

func simNodeFile(simDir, out string) string {
	b, err := os.ReadFile(filepath.Join(simDir, "discover.txt"))
	check(err)
	re := regexp.MustCompile(`address=(\S+) port=(\d+)`)
	var s strings.Builder
	for _, m := range re.FindAllStringSubmatch(string(b), -1) {
		fmt.Fprintf(&s, "%s %s\n", m[1], m[2])
	}
	check(os.WriteFile(out, []byte(s.String()), 0o644))
	return out
}

func commandList(smctl, root, out string) string {
	var b strings.Builder
	cmd := exec.Command(smctl, "--root", root, "find", "/systems/servers", "-name", "command")
	cmd.Stdout = &b
	check(cmd.Run())
	check(os.WriteFile(out, []byte(b.String()), 0o644))
	return out
}

func mustRun(stdin io.Reader, name string, args ...string) {
	cmd := exec.Command(name, args...)
	cmd.Stdin = stdin
	if out, err := cmd.CombinedOutput(); err != nil {
		check(fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, out))
	}
}

var lastOutput string

func run(stdinFile any, name string, args ...string) measurement {
	return runEnv(nil, stdinFile, name, args...)
}

// runEnv runs a command and measures its wall time, its CPU time and peak
// RSS including its children (wait4's rusage).
func runEnv(env []string, stdinFile any, name string, args ...string) measurement {
	cmd := exec.CommandContext(context.Background(), name, args...)
	cmd.Env = append(os.Environ(), env...)
	if p, ok := stdinFile.(string); ok {
		f, err := os.Open(p)
		check(err)
		defer f.Close()
		cmd.Stdin = f
	}
	var out strings.Builder
	cmd.Stdout = &out
	cmd.Stderr = io.Discard
	start := time.Now()
	_ = cmd.Run() // failures are counted through the outputs
	wall := time.Since(start)
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	lastOutput = out.String()
	return measurement{
		wall:  wall,
		cpu:   time.Duration(ru.Utime.Nano() + ru.Stime.Nano()),
		rssKB: ru.Maxrss,
	}
}

func baselineOK(measurement) int {
	var ok, failed int
	fmt.Sscanf(lastOutput, "ok %d failed %d", &ok, &failed)
	return ok
}

func countNodes(_ measurement, pattern string) int {
	re := regexp.MustCompile(pattern)
	n := 0
	sc := bufio.NewScanner(strings.NewReader(lastOutput))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if re.MatchString(sc.Text()) {
			n++
		}
	}
	return n
}

// statusOK counts the command.status files that say 0.
func statusOK(root string) int {
	n := 0
	matches, _ := filepath.Glob(filepath.Join(root, "tree", "systems", "servers", "*", "command.status"))
	for _, m := range matches {
		b, err := os.ReadFile(m)
		if err == nil && strings.HasPrefix(string(b), "0") {
			n++
		}
	}
	return n
}

func med(n int, f func() measurement) measurement {
	var ms []measurement
	for i := 0; i < n; i++ {
		ms = append(ms, f())
	}
	return median(ms)
}

// median is the measurement of median wall time (the upper one of an
// even number).
func median(ms []measurement) measurement {
	ms = append([]measurement(nil), ms...)
	sort.Slice(ms, func(i, j int) bool { return ms[i].wall < ms[j].wall })
	return ms[len(ms)/2]
}

// interleaved runs every tool n times, in rounds: each round runs each
// tool once, round i starting with tool i (mod the number of tools), so
// that the machine's noise of the moment weighs on all alike. It returns
// each tool's measurements, round by round.
func interleaved(n int, tools ...func() measurement) [][]measurement {
	all := make([][]measurement, len(tools))
	for i := 0; i < n; i++ {
		for k := range tools {
			j := (i + k) % len(tools)
			all[j] = append(all[j], tools[j]())
		}
	}
	return all
}

// compareLine compares two tools measured in the same rounds: the ratio
// of their median wall times (those of the table's rows), each round's
// ratio, and the ratio of their median CPU times.
func compareLine(a, b string, as, bs []measurement) string {
	var rounds []string
	for i := range as {
		rounds = append(rounds, fmt.Sprintf("%.3f", as[i].wall.Seconds()/bs[i].wall.Seconds()))
	}
	cpu := func(ms []measurement) float64 {
		ms = append([]measurement(nil), ms...)
		sort.Slice(ms, func(i, j int) bool { return ms[i].cpu < ms[j].cpu })
		return ms[len(ms)/2].cpu.Seconds() // as median: the upper one of an even number
	}
	wa, wb := median(as).wall.Seconds(), median(bs).wall.Seconds()
	return fmt.Sprintf("\n%s / %s, %d nodes, %d interleaved runs each: wall %.3f (median %.2f s / %.2f s; by round %s), CPU %.3f (median %.2f s / %.2f s)\n",
		a, b, *nodes, len(as), wa/wb, wa, wb, strings.Join(rounds, ", "), cpu(as)/cpu(bs), cpu(as), cpu(bs))
}

// medianOf is the median of xs (the mean of the middle two of an even
// number).
func medianOf(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	xs = append([]float64(nil), xs...)
	sort.Float64s(xs)
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}

func ratio(m, base measurement) float64 {
	if base.wall == 0 {
		return 0
	}
	return m.wall.Seconds() / base.wall.Seconds()
}

func render(rows []row) string {
	host, _ := os.Hostname()
	title := fmt.Sprintf("smctl SSH benchmark, %s, %s, %d CPUs, %s/%s, median of %d runs, fan-out %d",
		time.Now().Format("2006-01-02"), host, runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, *runs, *fanout)
	return renderTable(title, "baseline", rows)
}

// renderTable is the Markdown table of rows under title, the ratio column
// headed "wall / " + against.
func renderTable(title, against string, rows []row) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n%s\n\n", title)
	b.WriteString("| scenario | tool | nodes | wall | CPU | peak RSS | ok | wall / " + against + " | note |\n")
	b.WriteString("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n")
	for _, r := range rows {
		if r.nodes == 0 {
			fmt.Fprintf(&b, "| %s | %s | | | | | | | %s |\n", r.scenario, r.tool, r.note)
			continue
		}
		fmt.Fprintf(&b, "| %s | %s | %d | %.2f s | %.2f s | %d MB | %d | %.2f | %s |\n",
			r.scenario, r.tool, r.nodes, r.m.wall.Seconds(), r.m.cpu.Seconds(), r.m.rssKB/1024, r.m.ok, r.ratio, r.note)
	}
	return b.String()
}

// lookPSSH is pssh's path (Debian names it parallel-ssh), "" if none.
func lookPSSH() string {
	for _, n := range []string{"parallel-ssh", "pssh"} {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	return ""
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		if workDir != "" {
			os.RemoveAll(workDir)
		}
		os.Exit(1)
	}
}
