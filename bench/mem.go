package main

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"hash"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/smctl/smctl/pkg/nodeset"
)

// The memory suite: a command printing about 1 MiB, different on every
// node, run on -mem-nodes simulated nodes with smctl write, then gathered
// with smctl cat -b. Every result is already in the tree, so smctl's peak
// RSS must be bounded by the fan-out (a window of 2 x fan-out results, and
// gather's 32 MiB spill budget), not by the node count: -mem-target MB at
// most. Each result is checked intact: in the tree after write (lines,
// size, last line, status 0) and in cat -b's output (each group's content
// has the SHA-256 of its nodes' stored files).
var (
	memNodes  = flag.Int("mem-nodes", 2000, "simulated nodes of the mem suite")
	memTarget = flag.Int("mem-target", 300, "peak RSS target of the mem suite, MB")
	memBefore = flag.String("mem-before", "", "mem suite: also measure smctl built from this git revision, for comparison")
)

// The command: vmstat 1 100 prints 102 lines of about 8362 bytes on a
// simulated node; 125 of them and a line of padding make about 1 MiB.
const (
	memVmstats = 125
	memPadding = 1<<20 - memVmstats*8362 - 1 // so that the padding line ends the MiB
	memMarker  = "end-of-output-"
	memLines   = memVmstats*102 + 1
)

func memCommand() string {
	var b strings.Builder
	for range memVmstats {
		b.WriteString("vmstat 1 100; ")
	}
	b.WriteString("echo " + memMarker + strings.Repeat("x", memPadding-len(memMarker)) + "\n")
	return b.String()
}

type memRow struct {
	tool   string
	m      measurement
	output int64 // bytes of results handled
	intact int
	note   string
}

// memRows runs the mem suite with smctl (and the -mem-before build).
func memRows(smctl, work string) string {
	simDir := filepath.Join(work, "memsim")
	stop := startSim(smctl, simDir, *memNodes, "")
	defer stop()
	cmdFile := filepath.Join(work, "mib.cmd")
	check(os.WriteFile(cmdFile, []byte(memCommand()), 0o644))

	var rows []memRow
	type build struct{ name, bin string }
	builds := []build{{"smctl", smctl}}
	if *memBefore != "" {
		builds = append(builds, build{"smctl@" + *memBefore, buildRevision(*memBefore, work)})
	}
	for k, b := range builds {
		root := filepath.Join(work, fmt.Sprintf("memroot%d", k))
		discoverSim(b.bin, root, simDir)
		cmds := commandList(b.bin, root, filepath.Join(work, fmt.Sprintf("memcommands%d.txt", k)))

		syscall.Sync()
		w := runStream(cmds, io.Discard, b.bin, "--root", root, "--fanout", fmt.Sprint(*fanout), "write", "-f", cmdFile)
		sums, intact, total := storedIntact(root)
		rows = append(rows, memRow{b.name + " write -f (1 MiB per node)", w, total, intact, "results in the tree"})

		syscall.Sync()
		chk := &gatherCheck{sums: sums}
		c := runStream(cmds, chk, b.bin, "--root", root, "--fanout", fmt.Sprint(*fanout), "cat", "-b")
		intact, err := chk.finish()
		note := "every group's content = its nodes' stored files"
		if err != nil {
			note = err.Error()
		}
		rows = append(rows, memRow{b.name + " cat -b (all different)", c, chk.content, intact, note})
	}
	return renderMem(rows)
}

// runStream runs a command with its standard output going to w and
// measures it as runEnv does (wait4's rusage: peak RSS of the process).
func runStream(stdinFile string, w io.Writer, name string, args ...string) measurement {
	cmd := exec.Command(name, args...)
	f, err := os.Open(stdinFile)
	check(err)
	defer f.Close()
	cmd.Stdin = f
	cmd.Stdout = w
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	start := time.Now()
	if err := cmd.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %s %s: %v\n%.2000s", name, strings.Join(args, " "), err, errOut.String())
	}
	wall := time.Since(start)
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	return measurement{wall: wall, cpu: time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), rssKB: ru.Maxrss}
}

// storedIntact checks every node's stored command output: status 0, the
// command's line count, its last line and a size within 2 % of 1 MiB
// (vmstat's columns widen on some nodes).
// It returns their SHA-256 by node name, how many are intact, and their
// total size.
func storedIntact(root string) (map[string][sha256.Size]byte, int, int64) {
	sums := map[string][sha256.Size]byte{}
	dirs, _ := filepath.Glob(filepath.Join(root, "tree", "systems", "servers", "*"))
	intact := 0
	var total int64
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "command"))
		if err != nil {
			continue
		}
		st, _ := os.ReadFile(filepath.Join(d, "command.status"))
		sums[filepath.Base(d)] = sha256.Sum256(b)
		total += int64(len(b))
		last := b[bytes.LastIndexByte(b[:max(len(b)-1, 0)], '\n')+1:]
		if strings.HasPrefix(string(st), "0") && bytes.Count(b, []byte("\n")) == memLines &&
			bytes.HasPrefix(last, []byte(memMarker)) && abs(len(b)-1<<20) < 1<<20/50 {
			intact++
		}
	}
	return sums, intact, total
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// gatherCheck reads cat -b's output as it streams: each group is
// "---------------\nNODESET (N)\n---------------\n" then its content. It
// checks each content against the stored files of its nodes.
type gatherCheck struct {
	sums    map[string][sha256.Size]byte
	buf     []byte // an incomplete line
	state   int    // 0: want a header, 1: in a header, 2: in content
	labels  []string
	h       hash.Hash
	content int64
	intact  int
	errs    []string
}

const rule = "---------------"

func (g *gatherCheck) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			g.buf = append(g.buf, p...)
			break
		}
		line := p[:i+1]
		if len(g.buf) > 0 {
			line = append(g.buf, line...)
			g.buf = g.buf[:0]
		}
		g.line(line)
		p = p[i+1:]
	}
	return n, nil
}

func (g *gatherCheck) line(l []byte) {
	s := strings.TrimSuffix(string(l), "\n")
	switch {
	case g.state != 1 && s == rule:
		g.endGroup()
		g.state = 1
	case g.state == 1 && s == rule:
		g.state = 2
		if g.h == nil {
			g.h = sha256.New()
		}
		g.h.Reset()
	case g.state == 1:
		set, count, ok := strings.Cut(s, " (")
		labels, err := nodeset.Expand(set)
		if !ok || err != nil || strconv.Itoa(len(labels))+")" != count {
			g.errs = append(g.errs, fmt.Sprintf("bad header %q", s))
		}
		g.labels = labels
	case g.state == 2:
		g.h.Write(l)
		g.content += int64(len(l))
	default:
		g.errs = append(g.errs, fmt.Sprintf("content before a header: %.40q", s))
	}
}

func (g *gatherCheck) endGroup() {
	if g.state != 2 {
		return
	}
	var sum [sha256.Size]byte
	copy(sum[:], g.h.Sum(nil))
	for _, l := range g.labels {
		if want, ok := g.sums[l]; ok && want == sum {
			g.intact++
			delete(g.sums, l) // each node once
		} else {
			g.errs = append(g.errs, l+": content differs from its stored file")
		}
	}
	g.labels = nil
}

func (g *gatherCheck) finish() (int, error) {
	if len(g.buf) > 0 {
		g.line(g.buf)
		g.buf = nil
	}
	g.endGroup()
	if len(g.errs) > 0 {
		return g.intact, fmt.Errorf("%d errors, first: %s", len(g.errs), g.errs[0])
	}
	if len(g.sums) > 0 {
		return g.intact, errors.New(strconv.Itoa(len(g.sums)) + " nodes missing from the output")
	}
	return g.intact, nil
}

func renderMem(rows []memRow) string {
	var b strings.Builder
	host, _ := os.Hostname()
	fmt.Fprintf(&b, "\nsmctl memory benchmark, %s, %s, %d CPUs, %s/%s, %d nodes, fan-out %d, target %d MB peak RSS\n\n",
		time.Now().Format("2006-01-02"), host, runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, *memNodes, *fanout, *memTarget)
	b.WriteString("| run | nodes | results | wall | CPU | peak RSS | RSS / results | RSS / target | intact | note |\n")
	b.WriteString("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n")
	for _, r := range rows {
		rss := float64(r.m.rssKB) * 1024
		verdict := "within"
		if r.m.rssKB/1024 > int64(*memTarget) {
			verdict = "OVER"
		}
		fmt.Fprintf(&b, "| %s | %d | %d MB | %.2f s | %.2f s | %d MB | %.3f | %.2f (%s) | %d | %s |\n",
			r.tool, *memNodes, r.output>>20, r.m.wall.Seconds(), r.m.cpu.Seconds(), r.m.rssKB/1024,
			rss/float64(max(r.output, 1)), float64(r.m.rssKB/1024)/float64(*memTarget), verdict, r.intact, r.note)
	}
	return b.String()
}
