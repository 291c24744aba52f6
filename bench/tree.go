package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// The tree suite: the Go benchmarks of -tree-pkg (pkg/vtree: find over
// 2000 x 15 files, cat of 2000 cached files, a command written to 2000
// servers), as "go test -run '^$' -bench . -benchmem" runs them, -tree-count
// times each; the median ns/op, B/op and allocs/op of each, with their
// spread (±: the largest distance of a run from the median).
//
// With -before REV the package's tests are also compiled at REV (from its
// git archive export, see rev.go) and each benchmark runs at REV and in the
// work tree (uncommitted changes included) in turn, one process per
// benchmark and side, which side goes first alternating from one run to
// the next, so that the machine's noise weighs on both alike. Benchmarks
// are matched by name (sub-benchmarks included, without the -GOMAXPROCS
// suffix); one found on one side only is reported as such. The ratio is
// work tree / REV: above 1, the work tree is slower or allocates more.
//
// It is a suite of the bench program rather than a script: it shares
// -before and its export of the revision, computes the medians and matches
// the names in Go (no benchstat), and lands in the same bench/out/ file as
// the ssh suite's comparison, so that one command gives both:
//
//	bench/run.sh -suite ssh,tree -before d1c6b6d
//	bench/run.sh -suite tree -before d1c6b6d -tree-count 3
//
// Each benchmark sets up a tree of 2000 servers, which takes longer than
// the timing itself (10 to 15 s a process on 2 cores, mostly file system):
// one run of the package's benchmarks takes 40 to 55 s per side, so the
// default of 2 runs per side makes the comparison 3 to 4 minutes with the
// compiling. Two runs give a rough ns/op (the spread says how rough: on a
// busy machine ±15 % and more); B/op and allocs/op hardly move from run to
// run. Ask for more runs (-tree-count) for a firmer median.
var (
	treeCount = flag.Int("tree-count", 2, "tree suite: runs of each benchmark per side (the median is reported)")
	treeBench = flag.String("tree-bench", ".", "tree suite: the benchmarks to run, a regexp of top-level names (go test -bench)")
	treeTime  = flag.String("tree-benchtime", "", "tree suite: go test -benchtime (default: go test's)")
	treePkg   = flag.String("tree-pkg", "./pkg/vtree", "tree suite: the package whose benchmarks run")
)

// treeSide is the package's test binary at one revision.
type treeSide struct {
	label  string
	bin    string // the compiled tests
	dir    string // the package's directory, where go test would run them
	names  []string
	has    map[string]bool
	runs   map[string][]map[string]float64 // benchmark -> each run's value by unit
	order  []string                        // the benchmarks of runs, as they came
	failed map[string]string               // benchmark -> what went wrong
}

func treeRows(work string) string {
	if *treeCount < 1 {
		check(fmt.Errorf("-tree-count %d: at least 1", *treeCount))
	}
	var sides []*treeSide
	if *before != "" {
		r := exportRevision(*before, work)
		sides = append(sides, treeTests(r.src, *before, filepath.Join(work, "bin", "tree-"+r.hash[:12]+".test")))
	}
	wd, err := os.Getwd()
	check(err)
	sides = append(sides, treeTests(wd, "work tree", filepath.Join(work, "bin", "tree.test")))

	// Top-level benchmarks in the work tree's order, then those only at REV.
	var names []string
	seen := map[string]bool{}
	for i := len(sides) - 1; i >= 0; i-- {
		for _, n := range sides[i].names {
			if !seen[n] {
				seen[n] = true
				names = append(names, n)
			}
		}
	}
	if len(names) == 0 {
		check(fmt.Errorf("tree suite: no benchmark of %s matches -tree-bench %q", *treePkg, *treeBench))
	}
	for r := 0; r < *treeCount; r++ {
		for k, name := range names {
			order := sides
			if len(sides) == 2 && (r+k)%2 == 1 {
				order = []*treeSide{sides[1], sides[0]}
			}
			for _, s := range order {
				if s.has[name] {
					fmt.Fprintf(os.Stderr, "bench: tree run %d/%d: %s (%s)\n", r+1, *treeCount, name, s.label)
					s.bench(name)
				}
			}
		}
	}
	return renderTree(sides)
}

// treeTests compiles the tests of -tree-pkg in the module at dir and lists
// their benchmarks.
func treeTests(dir, label, bin string) *treeSide {
	goBuild(dir, "the tests of "+*treePkg+" ("+label+")", "test", "-c", "-o", bin, *treePkg)
	s := &treeSide{label: label, bin: bin, dir: filepath.Join(dir, *treePkg), has: map[string]bool{},
		runs: map[string][]map[string]float64{}, failed: map[string]string{}}
	if _, err := os.Stat(bin); err != nil { // go test -c writes nothing for a package without tests
		fmt.Fprintf(os.Stderr, "bench: %s has no tests (%s)\n", *treePkg, label)
		return s
	}
	cmd := exec.Command(bin, "-test.list", *treeBench)
	cmd.Dir = s.dir
	out, err := cmd.Output()
	if err != nil {
		check(fmt.Errorf("%s (%s) -test.list %q: %v", *treePkg, label, *treeBench, err))
	}
	for _, n := range strings.Fields(string(out)) {
		if strings.HasPrefix(n, "Benchmark") {
			s.names = append(s.names, n)
			s.has[n] = true
		}
	}
	return s
}

// benchLine is a result line of go test -bench: name, iterations, then
// value-unit pairs.
var benchLine = regexp.MustCompile(`^(Benchmark\S*)\s+(\d+)\s+(.*)$`)

// bench runs one top-level benchmark (and its sub-benchmarks) once, as go
// test -run '^$' -bench '^NAME$' -benchmem -count 1 would.
func (s *treeSide) bench(name string) {
	args := []string{"-test.run", "^$", "-test.bench", "^" + regexp.QuoteMeta(name) + "$", "-test.benchmem", "-test.count", "1"}
	if *treeTime != "" {
		args = append(args, "-test.benchtime", *treeTime)
	}
	cmd := exec.Command(s.bin, args...)
	cmd.Dir = s.dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	suffix := ""
	if p := runtime.GOMAXPROCS(0); p > 1 {
		suffix = "-" + strconv.Itoa(p)
	}
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		m := benchLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		f := strings.Fields(m[3])
		vals := map[string]float64{}
		for i := 0; i+1 < len(f); i += 2 {
			if v, err := strconv.ParseFloat(f[i], 64); err == nil {
				vals[f[i+1]] = v
			}
		}
		if _, ok := vals["ns/op"]; !ok {
			continue
		}
		full := strings.TrimSuffix(m[1], suffix)
		if _, ok := s.runs[full]; !ok {
			s.order = append(s.order, full)
		}
		s.runs[full] = append(s.runs[full], vals)
	}
	if err != nil {
		s.failed[name] = "failed: " + err.Error()
		fmt.Fprintf(os.Stderr, "bench: %s (%s) failed: %v\n%s", name, s.label, err, out.String())
	}
}

// treeUnits are the units compared, in this order; custom metrics
// (files/s, µs/node) follow from ns/op and are left out.
var treeUnits = []string{"ns/op", "B/op", "allocs/op"}

func renderTree(sides []*treeSide) string {
	var b strings.Builder
	host, _ := os.Hostname()
	fmt.Fprintf(&b, "\nsmctl tree benchmarks (%s), %s, %s, %d CPUs, %s/%s, %s, median of %d runs per side",
		*treePkg, time.Now().Format("2006-01-02"), host, runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version(), *treeCount)
	if len(sides) == 2 {
		fmt.Fprintf(&b, ", interleaved; %s = %s", sides[0].label, revisions[sides[0].label].hash[:12])
	}
	b.WriteString("\n\n| benchmark | unit |")
	for _, s := range sides {
		fmt.Fprintf(&b, " %s |", s.label)
	}
	if len(sides) == 2 {
		fmt.Fprintf(&b, " %s / %s |", sides[1].label, sides[0].label)
	}
	b.WriteString(" note |\n| --- | --- |")
	for range sides {
		b.WriteString(" ---: |")
	}
	if len(sides) == 2 {
		b.WriteString(" ---: |")
	}
	b.WriteString(" --- |\n")

	// Every benchmark seen, the work tree's order first.
	var names []string
	seen := map[string]bool{}
	for i := len(sides) - 1; i >= 0; i-- {
		for _, n := range sides[i].order {
			if !seen[n] {
				seen[n] = true
				names = append(names, n)
			}
		}
	}
	for _, name := range names {
		var note []string
		top, _, _ := strings.Cut(name, "/")
		for _, s := range sides {
			switch n := len(s.runs[name]); {
			case s.failed[top] != "":
				note = append(note, s.label+": "+s.failed[top])
			case n == 0 && len(sides) == 2 && s == sides[0]:
				note = append(note, "only in the "+sides[1].label)
			case n == 0 && len(sides) == 2:
				note = append(note, "only at "+sides[0].label)
			case n < *treeCount:
				note = append(note, fmt.Sprintf("%s: %d runs", s.label, n))
			}
		}
		for i, unit := range treeUnits {
			meds := make([]float64, len(sides))
			cells := make([]string, len(sides))
			reported := false
			for k, s := range sides {
				var vs []float64
				for _, r := range s.runs[name] {
					if v, ok := r[unit]; ok {
						vs = append(vs, v)
					}
				}
				if len(vs) == 0 {
					cells[k] = "–"
					continue
				}
				reported = true
				meds[k] = medianOf(vs)
				cells[k] = formatUnit(meds[k], unit) + spread(vs, meds[k])
			}
			if !reported {
				continue
			}
			label := name
			if i > 0 {
				label = ""
			}
			fmt.Fprintf(&b, "| %s | %s |", label, unit)
			for _, c := range cells {
				fmt.Fprintf(&b, " %s |", c)
			}
			if len(sides) == 2 {
				if meds[0] > 0 && meds[1] > 0 {
					fmt.Fprintf(&b, " %.3f |", meds[1]/meds[0])
				} else if meds[0] == 0 && meds[1] == 0 && cells[0] != "–" && cells[1] != "–" {
					b.WriteString(" 1.000 |")
				} else {
					b.WriteString(" |")
				}
			}
			if i == 0 {
				fmt.Fprintf(&b, " %s |\n", strings.Join(note, "; "))
			} else {
				b.WriteString(" |\n")
			}
		}
	}
	return b.String()
}

func formatUnit(v float64, unit string) string {
	if unit != "ns/op" {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	switch {
	case v >= 1e9:
		return fmt.Sprintf("%.3f s", v/1e9)
	case v >= 1e6:
		return fmt.Sprintf("%.2f ms", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.2f µs", v/1e3)
	}
	return fmt.Sprintf("%.0f ns", v)
}

// spread is the largest distance of a run from the median, in per cent.
func spread(vs []float64, med float64) string {
	if len(vs) < 2 || med == 0 {
		return ""
	}
	d := 0.0
	for _, v := range vs {
		d = max(d, abs64(v-med)/med)
	}
	return fmt.Sprintf(" ±%.0f%%", d*100)
}

func abs64(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
