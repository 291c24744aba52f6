// Package archtest checks the layout rules of the repository, so that
// they stay true: what may import what, and how large a package or file
// of the libraries may grow. It reads the sources with go/parser; test
// files are not held to the rules.
package archtest

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/smctl/smctl"

// pkgInfo is one package of the module: its non-test files' imports and
// line counts.
type pkgInfo struct {
	imports map[string]bool
	lines   map[string]int // file -> lines
}

func loadPackages(t *testing.T) map[string]*pkgInfo {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	pkgs := map[string]*pkgInfo{}
	fset := token.NewFileSet()
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if p != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "mutate") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			return nil
		}
		rel, _ := filepath.Rel(root, filepath.Dir(p))
		f, err := parser.ParseFile(fset, p, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		pi := pkgs[filepath.ToSlash(rel)]
		if pi == nil {
			pi = &pkgInfo{imports: map[string]bool{}, lines: map[string]int{}}
			pkgs[filepath.ToSlash(rel)] = pi
		}
		for _, im := range f.Imports {
			path, _ := strconv.Unquote(im.Path.Value)
			pi.imports[path] = true
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		pi.lines[name] = strings.Count(string(b), "\n")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) < 10 || pkgs["pkg/vtree"] == nil {
		t.Fatalf("found %d packages, no pkg/vtree: not the repository root", len(pkgs))
	}
	return pkgs
}

func sorted(m map[string]*pkgInfo) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestImports checks who may import what.
func TestImports(t *testing.T) {
	pkgs := loadPackages(t)
	for _, dir := range sorted(pkgs) {
		imps := pkgs[dir].imports
		for imp := range imps {
			switch {
			// Libraries never reach into the programs' packages.
			case strings.HasPrefix(dir, "pkg/") && strings.HasPrefix(imp, module+"/internal/"):
				t.Errorf("%s imports %s: nothing under pkg/ imports internal/", dir, imp)
			// Libraries never parse flags or style output.
			case strings.HasPrefix(dir, "pkg/") && (strings.HasPrefix(imp, "github.com/spf13/") || strings.HasPrefix(imp, "github.com/charmbracelet/")):
				t.Errorf("%s imports %s: packages under pkg/ print nothing and parse no flags", dir, imp)
			}
		}
	}
	// The tree knows drivers only through package driver's interfaces and
	// reaches no network itself.
	for imp := range pkgs["pkg/vtree"].imports {
		if strings.HasPrefix(imp, module+"/pkg/driver/") || imp == "net" || strings.HasPrefix(imp, "net/") ||
			imp == module+"/pkg/sshx" || imp == module+"/pkg/bmc" || imp == module+"/pkg/discover" || imp == module+"/pkg/delegate" {
			t.Errorf("pkg/vtree imports %s: the tree imports no driver, no network and nothing that works above it", imp)
		}
	}
	// The CLI reaches drivers only through the registry.
	for imp := range pkgs["internal/cli"].imports {
		if (strings.HasPrefix(imp, module+"/pkg/driver/") && imp != module+"/pkg/driver/all") ||
			imp == module+"/pkg/sshx" || imp == module+"/pkg/bmc" {
			t.Errorf("internal/cli imports %s: the CLI reaches drivers only through pkg/driver/all", imp)
		}
	}
	// A driver is reached by the registry, never by another library.
	for _, dir := range sorted(pkgs) {
		if !strings.HasPrefix(dir, "pkg/") || strings.HasPrefix(dir, "pkg/driver/") {
			continue
		}
		for imp := range pkgs[dir].imports {
			if strings.HasPrefix(imp, module+"/pkg/driver/") {
				t.Errorf("%s imports %s: only pkg/driver/all lists the drivers", dir, imp)
			}
		}
	}
}
