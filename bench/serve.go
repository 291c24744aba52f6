package main

// The serve suite: smctl serve's warm connections on -nodes nodes of
// bench/cheapsshd. In each of -runs rounds, 2 s apart: smctl write of
// vmstat to every node's command file through a running serve (its
// connections warm), the same write with --no-serve (a connection per node
// per command), and the bare client connecting first and timing only the
// command over its open connections (the floor). Then serve's memory
// holding every connection, and its CPU over 10 s of idling.

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Targets of the serve suite.
const (
	serveWarmTarget  = 500 * time.Millisecond // a warm re-run of 2000 nodes
	serveSpeedTarget = 2.5                    // no-serve / through serve
	serveRSSTarget   = 250 << 10              // KB, holding 2000 connections
	serveIdleTarget  = 0.02                   // of one core, idle
	servePeriodicCPU = 0.05                   // of one core, refreshing loadavg every 30 s
	servePeriod      = 30 * time.Second
)

func serveRows(smctl, baseline, work string) string {
	cheapBin := filepath.Join(work, "bin", "cheapsshd")
	goBuild("", "the cheap SSH server", "build", "-trimpath", "-o", cheapBin, "./bench/cheapsshd")
	dir := filepath.Join(work, "servecheap")
	srv := startCheap(cheapBin, dir, *nodes)
	defer srv.stop()
	nodesFile := simNodeFile(dir, filepath.Join(work, "servenodes.txt"))
	root := filepath.Join(work, "serveroot")
	discoverSim(smctl, root, dir)
	cmds := commandList(smctl, root, filepath.Join(work, "servecommands.txt"))

	serve := exec.Command(smctl, "--root", root, "serve")
	check(serve.Start())
	defer func() {
		serve.Process.Signal(syscall.SIGTERM)
		serve.Wait()
	}()
	for i := 0; ; i++ {
		if _, err := os.Stat(filepath.Join(root, "serve.sock")); err == nil {
			break
		}
		if i > 200 {
			check(errors.New("serve suite: smctl serve did not start"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	write := func(extra ...string) measurement {
		args := append([]string{"--root", root}, extra...)
		m := run(cmds, smctl, append(args, "write", "--stdin-paths", "vmstat")...)
		m.ok = statusOK(root)
		return m
	}
	write() // the connections made: every later run through serve is warm
	var warm, cold []measurement
	var floor []time.Duration
	for r := 0; r < *runs; r++ {
		time.Sleep(*storePace)
		warm = append(warm, write())
		time.Sleep(*storePace)
		cold = append(cold, write("--no-serve"))
		time.Sleep(*storePace)
		run(nil, baseline, "-warm", "-nodes", nodesFile, "-key", filepath.Join(dir, "id_ed25519"),
			"-hostkey", filepath.Join(dir, "known_hosts"), "-user", "sim", "-p", fmt.Sprint(*fanout), "vmstat")
		var ok, failed int
		var secs float64
		fmt.Sscanf(lastOutput, "ok %d failed %d warm %f", &ok, &failed, &secs)
		if ok != *nodes {
			check(fmt.Errorf("serve suite: the bare client reached %d nodes of %d: %s", ok, *nodes, lastOutput))
		}
		floor = append(floor, time.Duration(secs*float64(time.Second)))
	}
	w, c, f := median(warm), median(cold), medianDur(floor)
	if w.ok != *nodes || c.ok != *nodes {
		check(fmt.Errorf("serve suite: %d and %d of %d nodes ok through serve and without", w.ok, c.ok, *nodes))
	}
	rss := procStatusKB(serve.Process.Pid, "VmRSS")
	cpu0 := procCPU(serve.Process.Pid)
	time.Sleep(10 * time.Second)
	idle := (procCPU(serve.Process.Pid) - cpu0).Seconds() / 10
	periodic, files := servePeriodic(smctl, root, serve.Process)

	holds := func(ok bool) string {
		if ok {
			return "holds"
		}
		return "does NOT hold"
	}
	host, _ := os.Hostname()
	var b strings.Builder
	fmt.Fprintf(&b, "\n### serve suite: warm connections (issue 11), %s, %s, %d CPUs, %d rounds\n\n",
		time.Now().Format("2006-01-02"), host, runtime.NumCPU(), *runs)
	fmt.Fprintf(&b, "%d nodes of bench/cheapsshd, vmstat, fan-out %d; medians of the rounds\n\n", *nodes, *fanout)
	b.WriteString("| run | wall | CPU (the verb's) | target | |\n| --- | ---: | ---: | ---: | --- |\n")
	fmt.Fprintf(&b, "| smctl write through serve (warm) | %.3f s | %.3f s | <= %.1f s | %s |\n", w.wall.Seconds(), w.cpu.Seconds(), serveWarmTarget.Seconds(), holds(w.wall <= serveWarmTarget))
	fmt.Fprintf(&b, "| smctl --no-serve write | %.3f s | %.3f s | | |\n", c.wall.Seconds(), c.cpu.Seconds())
	fmt.Fprintf(&b, "| bare client over open connections (the floor) | %.3f s | | | |\n", f.Seconds())
	speed := c.wall.Seconds() / w.wall.Seconds()
	fmt.Fprintf(&b, "\nwithout serve / through serve: %.2f (target >= %.1f: %s); through serve / the floor: %.2f\n",
		speed, serveSpeedTarget, holds(speed >= serveSpeedTarget), w.wall.Seconds()/f.Seconds())
	fmt.Fprintf(&b, "serve holding %d connections: RSS %d MB (target <= %d MB: %s); idle over 10 s: %.2f %% of one core (target <= %.0f %%: %s)\n",
		*nodes, rss>>10, serveRSSTarget>>10, holds(rss <= serveRSSTarget), idle*100, serveIdleTarget*100, holds(idle <= serveIdleTarget))
	fmt.Fprintf(&b, "periodic refresh of loadavg (%d files) every %s, over %d periods after the first pass: %.2f %% of one core (target <= %.0f %%: %s)\n",
		files, servePeriod, *servePeriods, periodic*100, servePeriodicCPU*100, holds(periodic <= servePeriodicCPU))
	fmt.Fprintf(&b, "load average at the end: %s\n", loadavg())
	return b.String()
}

// servePeriods is how many periods of the periodic refresh the serve suite
// measures.
var servePeriods = flag.Int("serve-periods", 2, "serve suite: periods of the periodic refresh measured")

// servePeriodic gives root's smctl.yaml a periodic caching model for
// loadavg (every servePeriod), makes the running serve reload it, waits
// for its first pass (every node's loadavg read), and returns serve's CPU
// over the next servePeriods periods, as a fraction of one core, and the
// number of files refreshed.
func servePeriodic(smctl, root string, serve *os.Process) (float64, int) {
	cf := filepath.Join(root, "smctl.yaml")
	b, err := os.ReadFile(cf)
	check(err)
	rule := "\ncache:\n  - match: loadavg\n    model: periodic\n    every: " + servePeriod.String() + "\n"
	if !strings.Contains(string(b), "\ncache:\n") {
		check(errors.New("serve suite: smctl.yaml has no cache: line"))
	}
	check(os.WriteFile(cf, []byte(strings.Replace(string(b), "\ncache:\n", rule, 1)), 0o644))
	check(serve.Signal(syscall.SIGHUP))
	files := 0
	for i := 0; ; i++ {
		out, _ := exec.Command(smctl, "--root", root, "serve", "--status").Output()
		var read, failed int
		for _, l := range strings.Split(string(out), "\n") {
			if _, err := fmt.Sscanf(l, "periodic refresh: %d files; last pass", &files); err == nil {
				rest := l[strings.Index(l, " read ")+1:]
				fmt.Sscanf(rest, "read %d, %d of them failed", &read, &failed)
			}
		}
		if files == *nodes && read == *nodes {
			if failed > 0 {
				check(fmt.Errorf("serve suite: the first periodic pass failed on %d of %d nodes", failed, read))
			}
			break
		}
		if i > 600 {
			check(fmt.Errorf("serve suite: no periodic pass of %d files after 60 s: %s", *nodes, out))
		}
		time.Sleep(100 * time.Millisecond)
	}
	cpu0 := procCPU(serve.Pid)
	window := time.Duration(*servePeriods) * servePeriod
	time.Sleep(window)
	return (procCPU(serve.Pid) - cpu0).Seconds() / window.Seconds(), files
}

// procStatusKB is a "NAME: N kB" line of /proc/PID/status.
func procStatusKB(pid int, name string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	check(err)
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, name+":"); ok {
			n, _ := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
			return n
		}
	}
	return 0
}
