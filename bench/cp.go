package main

// The cp suite: one file of -cp-mib MiB (10) copied to -cp-nodes nodes
// (200) by smctl cp, clush --copy (scp, which speaks SFTP since OpenSSH
// 9.0) and pdcp, each with fan-out -fanout, in interleaved rounds:
//
//   - on simulated nodes (smctl sim, in its own process, which serves SFTP
//     over a file space per node): every node's copy is checked, byte for
//     byte; pdcp cannot run there (it runs pdcp on each node);
//   - on a real OpenSSH sshd on 127.0.0.1 (internal-sftp; pdcp runs the
//     machine's own pdcp on the "node"): the names are one machine, so
//     every copy lands on one path; the tools' own reports are counted.
//
// Wall and CPU time include each tool's children (scp and ssh processes);
// the simulator's or sshd's side is not counted for any tool. Ratios are
// to smctl's figures of the same scenario.

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/smctl/smctl/internal/testsshd"
	"github.com/smctl/smctl/pkg/sim"
)

var (
	cpNodes = flag.Int("cp-nodes", 200, "cp suite: nodes copied to")
	cpMiB   = flag.Int("cp-mib", 10, "cp suite: size of the file copied, MiB")
	cpSim   = flag.Bool("cp-sim", true, "cp suite: the simulated nodes (-cp-sim=false: the real sshd only)")
)

// cpRows runs the cp suite and returns its table.
func cpRows(smctl, work string) string {
	payload := filepath.Join(work, "payload")
	data := make([]byte, *cpMiB<<20)
	_, _ = rand.Read(data)
	check(os.WriteFile(payload, data, 0o644))
	var rows []row
	if *cpSim {
		rows = append(rows, cpSimRows(smctl, work, payload, data)...)
	}
	rows = append(rows, cpSshdRows(smctl, work, payload)...)
	return renderCp(rows)
}

func cpSimRows(smctl, work, payload string, data []byte) []row {
	n := *cpNodes
	simDir := filepath.Join(work, "cpsim")
	stop := startSim(smctl, simDir, n, "")
	defer stop()
	root := filepath.Join(work, "cproot")
	discoverSim(smctl, root, simDir)
	dest := func() []string {
		var ps []string
		for i := 1; i <= n; i++ {
			ps = append(ps, filepath.Join(simDir, sim.NodesDir, fmt.Sprintf("n%04d", i), "tmp", "payload"))
		}
		return ps
	}()
	// Each run starts with no copy on any node, and counts those intact.
	clean := func() {
		for _, p := range dest {
			os.Remove(p)
		}
		syscall.Sync()
	}
	// Compared by hash, through one buffer: the bench's own memory stays
	// small (a child's peak RSS starts from its parent's at fork).
	want := sha256.Sum256(data)
	buf := make([]byte, 1<<20)
	intact := func() int {
		ok := 0
		for _, p := range dest {
			f, err := os.Open(p)
			if err != nil {
				continue
			}
			h := sha256.New()
			_, err = io.CopyBuffer(h, f, buf)
			f.Close()
			if err == nil && bytes.Equal(h.Sum(nil), want[:]) {
				ok++
			}
		}
		return ok
	}
	tools := []func() measurement{
		func() measurement {
			clean()
			m := runOut(nil, smctl, "--root", root, "--fanout", fmt.Sprint(*fanout), "cp", payload, "/tmp/payload")
			m.ok = intact()
			return report("smctl cp", m, n)
		},
	}
	names := []string{"smctl cp"}
	var notes []row
	if p, err := exec.LookPath("clush"); err == nil {
		tools = append(tools, func() measurement {
			clean()
			m := runOut(nil, p, "-f", fmt.Sprint(*fanout), "-o", "-F "+filepath.Join(simDir, "ssh_config"),
				"-w", fmt.Sprintf("n[%04d-%04d]", 1, n), "--copy", payload, "--dest", "/tmp/")
			m.ok = intact()
			return report("clush --copy", m, n)
		})
		names = append(names, "clush --copy")
	} else {
		notes = append(notes, row{scenario: "sim", tool: "clush --copy", note: "not installed (apt-get install clustershell)"})
	}
	notes = append(notes, row{scenario: "sim", tool: "pdcp", note: "cannot: pdcp runs pdcp on each node, which the simulator does not"})
	all := interleaved(*runs, tools...)
	var rows []row
	base := median(all[0])
	for i, ms := range all {
		m := median(ms)
		rows = append(rows, row{"sim", names[i], n, m, ratio(m, base), cpuNote(m, base)})
	}
	clean()
	return append(rows, notes...)
}

func cpSshdRows(smctl, work, payload string) []row {
	if !testsshd.Available() {
		return []row{{scenario: "real sshd", tool: "smctl cp", note: "skipped: no /usr/sbin/sshd (apt-get install openssh-server)"}}
	}
	n := *cpNodes
	var names []string
	for i := 1; i <= n; i++ {
		names = append(names, fmt.Sprintf("s%04d", i))
	}
	srv, err := testsshd.Start(names)
	check(err)
	defer srv.Stop()
	dest := filepath.Join(srv.Dir, "dest")
	check(os.Mkdir(dest, 0o777))
	check(os.Chmod(dest, 0o777)) // the login user writes there
	root := filepath.Join(work, "cpsshdroot")
	mustRun(nil, smctl, "--root", root, "init")
	mustRun(nil, smctl, "--root", root, "write", "/discover_master", "remove server localhost")
	mustRun(nil, smctl, "--root", root, "write", "/discover_master", "import ssh_config "+srv.ConfigFile)
	hosts := filepath.Join(work, "cphosts.txt")
	check(os.WriteFile(hosts, []byte(strings.Join(names, "\n")+"\n"), 0o644))
	failedNodes := func(pattern string) int {
		seen := map[string]bool{}
		for _, m := range regexp.MustCompile(pattern).FindAllStringSubmatch(lastOutput, -1) {
			seen[m[1]] = true
		}
		return n - len(seen)
	}
	tools := []func() measurement{func() measurement {
		os.Remove(filepath.Join(dest, "payload"))
		m := runOut(nil, smctl, "--root", root, "--fanout", fmt.Sprint(*fanout), "cp", "-o", "json", payload, dest+"/")
		m.ok = strings.Count(lastOutput, `"rc":0,`)
		return report("smctl cp", m, n)
	}}
	toolNames := []string{"smctl cp"}
	var notes []row
	if p, err := exec.LookPath("clush"); err == nil {
		tools = append(tools, func() measurement {
			os.Remove(filepath.Join(dest, "payload"))
			m := runOut(nil, p, "-f", fmt.Sprint(*fanout), "-o", "-F "+srv.ConfigFile,
				"-w", fmt.Sprintf("s[%04d-%04d]", 1, n), "--copy", payload, "--dest", dest+"/")
			m.ok = failedNodes(`clush: (s\d+): `)
			return report("clush --copy", m, n)
		})
		toolNames = append(toolNames, "clush --copy")
	} else {
		notes = append(notes, row{scenario: "real sshd", tool: "clush --copy", note: "not installed (apt-get install clustershell)"})
	}
	if p, err := exec.LookPath("pdcp"); err == nil {
		env := []string{"PDSH_RCMD_TYPE=ssh", "PDSH_SSH_ARGS=-F " + srv.ConfigFile + " -2 -a -x -l%u %h"}
		tools = append(tools, func() measurement {
			os.Remove(filepath.Join(dest, "payload"))
			m := runOut(env, p, "-f", fmt.Sprint(*fanout), "-w", "^"+hosts, payload, dest+"/")
			m.ok = failedNodes(`(?m)^(?:pdcp@\S+: )?(s\d+): `)
			return report("pdcp", m, n)
		})
		toolNames = append(toolNames, "pdcp -R ssh")
	} else {
		notes = append(notes, row{scenario: "real sshd", tool: "pdcp", note: "not installed (apt-get install pdsh)"})
	}
	all := interleaved(*runs, tools...)
	var rows []row
	base := median(all[0])
	for i, ms := range all {
		m := median(ms)
		rows = append(rows, row{"real sshd", toolNames[i], n, m, ratio(m, base), cpuNote(m, base) + "; one path for all names"})
	}
	return append(rows, notes...)
}

// report says on stderr what a run that left nodes without their copy
// printed first, so that a figure of failed copies is never read as a
// speed.
func report(tool string, m measurement, n int) measurement {
	if m.ok < n {
		first, _, _ := strings.Cut(strings.TrimSpace(lastOutput), "\n")
		fmt.Fprintf(os.Stderr, "bench: %s: %d of %d nodes copied; first line of its output: %s\n", tool, m.ok, n, first)
	}
	return m
}

// cpuNote is the CPU ratio of m to base.
func cpuNote(m, base measurement) string {
	if base.cpu == 0 {
		return ""
	}
	return fmt.Sprintf("CPU / smctl %.2f", m.cpu.Seconds()/base.cpu.Seconds())
}

// runOut is runEnv keeping standard output and error in lastOutput.
func runOut(env []string, name string, args ...string) measurement {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	_ = cmd.Run() // failures are counted through the outputs
	wall := time.Since(start)
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	lastOutput = out.String()
	return measurement{wall: wall, cpu: time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), rssKB: ru.Maxrss}
}

func renderCp(rows []row) string {
	return renderTable(fmt.Sprintf("smctl cp benchmark: a %d MiB file to %d nodes, %s, %d CPUs, median of %d interleaved runs, fan-out %d",
		*cpMiB, *cpNodes, time.Now().Format("2006-01-02"), runtime.NumCPU(), *runs, *fanout), "smctl", rows)
}
