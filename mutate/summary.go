//go:build ignore

// Summary turns the gremlins results that mutate/run.sh leaves in mutate/out
// (NAME.json, NAME.time per package) into the report: the score per package
// and every surviving and timed-out mutant with the change it made and its
// source line. Run by mutate/run.sh:
//
//	go run mutate/summary.go -src DIR -out DIR [-commit C] [-tree T] [-tool T] [-seconds N] pkg/a pkg/b ...
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"go/scanner"
	"go/token"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// result is the part of gremlins' --output file that the report uses.
type result struct {
	Files []struct {
		Name      string     `json:"file_name"`
		Mutations []mutation `json:"mutations"`
	} `json:"files"`
}

type mutation struct {
	Type   string `json:"type"`
	Status string `json:"status"`
	Line   int    `json:"line"`
	Column int    `json:"column"`
}

// mutant is one mutation placed in its file, relative to the module root.
type mutant struct {
	mutation
	file string
}

// replacement is gremlins' (v0.6.0) table of what each mutation kind turns
// a token into (internal/engine/mappings.go), for the kinds mutate/gremlins.yaml
// may enable.
var replacement = map[string]map[token.Token]token.Token{
	"ARITHMETIC_BASE":       {token.ADD: token.SUB, token.MUL: token.QUO, token.QUO: token.MUL, token.REM: token.MUL, token.SUB: token.ADD},
	"CONDITIONALS_BOUNDARY": {token.GEQ: token.GTR, token.GTR: token.GEQ, token.LEQ: token.LSS, token.LSS: token.LEQ},
	"CONDITIONALS_NEGATION": {token.EQL: token.NEQ, token.GEQ: token.LSS, token.GTR: token.LEQ, token.LEQ: token.GTR, token.LSS: token.GEQ, token.NEQ: token.EQL},
	"INCREMENT_DECREMENT":   {token.DEC: token.INC, token.INC: token.DEC},
	"INVERT_ASSIGNMENTS":    {token.ADD_ASSIGN: token.SUB_ASSIGN, token.MUL_ASSIGN: token.QUO_ASSIGN, token.QUO_ASSIGN: token.MUL_ASSIGN, token.SUB_ASSIGN: token.ADD_ASSIGN},
	"INVERT_LOGICAL":        {token.LAND: token.LOR, token.LOR: token.LAND},
	"INVERT_LOOPCTRL":       {token.BREAK: token.CONTINUE, token.CONTINUE: token.BREAK},
	"INVERT_NEGATIVES":      {token.SUB: token.ADD},
}

func main() {
	src := flag.String("src", ".", "the module root the run mutated")
	out := flag.String("out", "mutate/out", "the directory of the gremlins results")
	commit := flag.String("commit", "", "the commit the run is on")
	tree := flag.String("tree", "", "what of the commit: work tree or clean export")
	tool := flag.String("tool", "", "the tool and its settings")
	seconds := flag.Int("seconds", -1, "the wall time of the whole run")
	flag.Parse()
	if err := report(os.Stdout, *src, *out, *commit, *tree, *tool, *seconds, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "mutate/summary:", err)
		os.Exit(1)
	}
}

func report(w io.Writer, src, out, commit, tree, tool string, seconds int, pkgs []string) error {
	fmt.Fprintf(w, "smctl mutation testing (make mutate)\n")
	fmt.Fprintf(w, "date:    %s\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(w, "commit:  %s\n", commit)
	fmt.Fprintf(w, "source:  %s\n", tree)
	fmt.Fprintf(w, "tool:    %s\n", tool)
	if seconds >= 0 {
		fmt.Fprintf(w, "runtime: %s\n", time.Duration(seconds)*time.Second)
	}
	fmt.Fprintln(w)

	type row struct {
		pkg     string
		count   map[string]int
		seconds string
		lived   []mutant
		timeout []mutant
		missing bool
	}
	var rows []row
	total := map[string]int{}
	for _, pkg := range pkgs {
		pkg = strings.TrimSuffix(strings.TrimPrefix(pkg, "./"), "/")
		name := strings.ReplaceAll(pkg, "/", "_")
		r := row{pkg: pkg, count: map[string]int{}, seconds: "-"}
		if b, err := os.ReadFile(filepath.Join(out, name+".time")); err == nil {
			if s, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				r.seconds = (time.Duration(s) * time.Second).String()
			}
		}
		b, err := os.ReadFile(filepath.Join(out, name+".json"))
		if err != nil {
			r.missing = true
			rows = append(rows, r)
			continue
		}
		var res result
		if err := json.Unmarshal(b, &res); err != nil {
			return fmt.Errorf("%s: %w", filepath.Join(out, name+".json"), err)
		}
		for _, f := range res.Files {
			for _, m := range f.Mutations {
				r.count[m.Status]++
				total[m.Status]++
				mu := mutant{m, filepath.ToSlash(filepath.Join(pkg, f.Name))}
				switch m.Status {
				case "LIVED":
					r.lived = append(r.lived, mu)
				case "TIMED OUT":
					r.timeout = append(r.timeout, mu)
				}
			}
		}
		rows = append(rows, r)
	}

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "package\tscore\tkilled\tlived\ttimed out\tnot viable\tnot covered\ttime\t")
	for _, r := range rows {
		if r.missing {
			fmt.Fprintf(tw, "%s\tno result (gremlins failed: see its log)\t\t\t\t\t\t%s\t\n", r.pkg, r.seconds)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%s\t\n", r.pkg, score(r.count),
			r.count["KILLED"], r.count["LIVED"], r.count["TIMED OUT"], r.count["NOT VIABLE"], r.count["NOT COVERED"], r.seconds)
	}
	if len(rows) > 1 {
		fmt.Fprintf(tw, "all\t%s\t%d\t%d\t%d\t%d\t%d\t\t\n", score(total),
			total["KILLED"], total["LIVED"], total["TIMED OUT"], total["NOT VIABLE"], total["NOT COVERED"])
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprint(w, `
score: killed / (killed + lived), gremlins' "test efficacy": of the mutants
that compile and that the package's own tests run, the share that makes a test
fail. Timed out: the tests hung (a loop that no longer ends, a wait that is
never satisfied) and were stopped; counted in neither. Not viable: does not compile (mutate/shim/go). Not
covered: no test of the package runs the line; not tried.
`)

	lines := map[string][]string{}
	sourceLine := func(file string, line int) string {
		ls, ok := lines[file]
		if !ok {
			b, _ := os.ReadFile(filepath.Join(src, file))
			ls = strings.Split(string(b), "\n")
			lines[file] = ls
		}
		if line < 1 || line > len(ls) {
			return "?"
		}
		return strings.TrimSpace(ls[line-1])
	}
	list := func(title string, pick func(row) []mutant) {
		fmt.Fprintf(w, "\n%s\n", title)
		for _, r := range rows {
			ms := pick(r)
			if r.missing {
				continue
			}
			fmt.Fprintf(w, "\n%s (%d)\n", r.pkg, len(ms))
			sort.Slice(ms, func(i, j int) bool {
				a, b := ms[i], ms[j]
				if a.file != b.file {
					return a.file < b.file
				}
				if a.Line != b.Line {
					return a.Line < b.Line
				}
				if a.Column != b.Column {
					return a.Column < b.Column
				}
				return a.Type < b.Type
			})
			for _, m := range ms {
				fmt.Fprintf(w, "  %s:%d:%d: %s %s: %s\n", m.file, m.Line, m.Column, m.Type,
					change(src, m), sourceLine(m.file, m.Line))
			}
		}
	}
	list("Surviving mutants (LIVED): file:line:column: kind (change): the line", func(r row) []mutant { return r.lived })
	list("Timed-out mutants: file:line:column: kind (change): the line", func(r row) []mutant { return r.timeout })
	return nil
}

func score(count map[string]int) string {
	k, l := count["KILLED"], count["LIVED"]
	if k+l == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(k)/float64(k+l))
}

// change says what the mutation did, such as (< to <=), from the token at its
// position in the source.
func change(src string, m mutant) string {
	b, err := os.ReadFile(filepath.Join(src, m.file))
	if err != nil {
		return "(?)"
	}
	fset := token.NewFileSet()
	f := fset.AddFile(m.file, -1, len(b))
	var s scanner.Scanner
	s.Init(f, b, nil, 0)
	for {
		pos, tok, _ := s.Scan()
		if tok == token.EOF {
			return "(?)"
		}
		p := fset.Position(pos)
		if p.Line > m.Line || p.Line == m.Line && p.Column > m.Column {
			return "(?)"
		}
		if p.Line == m.Line && p.Column == m.Column {
			if to, ok := replacement[m.Type][tok]; ok {
				return fmt.Sprintf("(%s to %s)", tok, to)
			}
			return fmt.Sprintf("(%s)", tok)
		}
	}
}
