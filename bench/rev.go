package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Measuring an earlier revision alongside the work tree: -before (the ssh
// and tree suites) and -mem-before (the mem suite) export the revision's
// files with git archive into the bench's temporary directory (removed at
// the end) and build there, with the same Go and module cache as the work
// tree. A revision that is not a commit of this repository, or that does
// not build, stops the bench before anything is measured.

// revisions maps a revision as given on the command line to its export.
var revisions = map[string]*revision{}

type revision struct {
	name, hash string // as given; the full commit hash
	src        string // the exported tree
	smctl      string // smctl built from it, once asked for
}

// exportRevision resolves rev and exports its files into the bench's
// temporary directory, once per revision.
func exportRevision(rev, work string) *revision {
	if r, ok := revisions[rev]; ok {
		return r
	}
	out, err := exec.Command("git", "rev-parse", "--verify", "--quiet", rev+"^{commit}").Output()
	hash := strings.TrimSpace(string(out))
	if err != nil || hash == "" {
		check(fmt.Errorf("revision %q is not a commit of this repository (git rev-parse --verify %s^{commit})", rev, rev))
	}
	src := filepath.Join(work, "src-"+hash[:12])
	check(os.MkdirAll(src, 0o755))
	archive := exec.Command("git", "archive", hash)
	untar := exec.Command("tar", "-x", "-C", src)
	pipe, err := archive.StdoutPipe()
	check(err)
	untar.Stdin = pipe
	var errs bytes.Buffer
	archive.Stderr, untar.Stderr = &errs, &errs
	check(untar.Start())
	aerr := archive.Run()
	uerr := untar.Wait()
	if aerr != nil || uerr != nil {
		check(fmt.Errorf("cannot export revision %s: git archive: %v, tar: %v\n%s", rev, aerr, uerr, errs.String()))
	}
	r := &revision{name: rev, hash: hash, src: src}
	revisions[rev] = r
	return r
}

// buildRevision builds smctl as it was at a git revision, for comparison,
// and returns the binary.
func buildRevision(rev, work string) string {
	r := exportRevision(rev, work)
	if r.smctl != "" {
		return r.smctl
	}
	bin := filepath.Join(work, "bin", "smctl-"+r.hash[:12])
	goBuild(r.src, "smctl at "+rev, "build", "-trimpath", "-o", bin, "./cmd/smctl")
	r.smctl = bin
	return bin
}

// goBuild runs a go command that builds something in dir, and stops the
// bench with its output if it fails.
func goBuild(dir, what string, args ...string) {
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		check(fmt.Errorf("cannot build %s (go %s): %v\n%s", what, strings.Join(args, " "), err, out.String()))
	}
}
