package archtest

import (
	"sort"
	"strings"
	"testing"
)

// Size limits of the libraries.
const (
	maxTreeLines = 2000 // pkg/vtree, without tests
	maxFileLines = 450  // any non-test file under pkg/
)

// TestSizes keeps the tree package and the library files small enough to
// read.
func TestSizes(t *testing.T) {
	pkgs := loadPackages(t)
	total := 0
	for _, n := range pkgs["pkg/vtree"].lines {
		total += n
	}
	if total > maxTreeLines {
		t.Errorf("pkg/vtree has %d lines without tests, more than %d: move what works above the tree to its own package", total, maxTreeLines)
	}
	for _, dir := range sorted(pkgs) {
		if !strings.HasPrefix(dir, "pkg/") {
			continue
		}
		var files []string
		for f := range pkgs[dir].lines {
			files = append(files, f)
		}
		sort.Strings(files)
		for _, f := range files {
			if n := pkgs[dir].lines[f]; n > maxFileLines {
				t.Errorf("%s/%s has %d lines, more than %d", dir, f, n, maxFileLines)
			}
		}
	}
}
