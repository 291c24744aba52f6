package driver_test

import (
	"strings"
	"testing"

	"github.com/smctl/smctl/pkg/config"
	"github.com/smctl/smctl/pkg/driver"
)

// multi owns two keys of smctl.yaml, and has a Section too, which the Set
// does not ask for.
type multi struct{ fake }

func (multi) Sections() []config.Section {
	return []config.Section{{Key: "one"}, {Key: "two"}}
}

// TestSections: a MultiConfigurable driver's sections, in driver order
// with the others'; Lookup finds a driver by name; a Set without a
// Checker has none.
func TestSections(t *testing.T) {
	s := driver.NewSet(fake{name: "a"}, multi{fake{name: "m"}}, fake{name: "b"})
	var keys []string
	for _, sec := range s.Sections() {
		keys = append(keys, sec.Key)
	}
	if got := strings.Join(keys, ","); got != "a,one,two,b" {
		t.Errorf("Sections = %s, want a,one,two,b", got)
	}
	if d := s.Lookup("m"); d == nil || d.Name() != "m" {
		t.Errorf("Lookup(m) = %v", d)
	}
	if s.Lookup("c") != nil || s.Checker() != nil {
		t.Errorf("Lookup(c) = %v, Checker = %v", s.Lookup("c"), s.Checker())
	}
}
