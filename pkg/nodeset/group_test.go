package nodeset

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// groupsOf is a group function over a fixed table, counting its calls.
func groupsOf(defs map[string]string, calls map[string]int) func(string) ([]string, error) {
	return func(name string) ([]string, error) {
		calls[name]++
		def, ok := defs[name]
		if !ok {
			return nil, fmt.Errorf("no group %s", name)
		}
		return ParseGroup(def), nil
	}
}

func TestExpandWith(t *testing.T) {
	defs := map[string]string{
		"web":     "n[001-003]\n",
		"db":      "# the databases\ndb1, db2  # two\n\n",
		"all":     "@web\n@db\nn001\n",
		"empty":   "# nobody yet\n",
		"a":       "@b\n",
		"b":       "x1\n@c\n",
		"c":       "@a\n",
		"self":    "n1,@self\n",
		"bad":     "n[3-1]\n",
		"badref":  "@no/such\n",
		"missing": "@ghost\n",
		"deep":    "@all\n@web\n",
	}
	for _, tc := range []struct {
		in    string
		want  string // space separated
		err   string
		is    error
		calls string // groups looked up, each once
	}{
		{in: "n[1-2]", want: "n1 n2"},
		{in: "@web", want: "n001 n002 n003", calls: "web"},
		{in: "@db", want: "db1 db2", calls: "db"},
		{in: "@web,n004", want: "n001 n002 n003 n004", calls: "web"},
		{in: "n002,@web", want: "n002 n001 n003", calls: "web"},
		{in: "@all", want: "n001 n002 n003 db1 db2", calls: "all db web"},
		{in: "@deep,@web", want: "n001 n002 n003 db1 db2", calls: "all db deep web"},
		{in: "@empty", want: "", calls: "empty"},
		{in: "@empty,n1", want: "n1", calls: "empty"},
		{in: "@a", err: "group cycle: @a -> @b -> @c -> @a", is: ErrCycle, calls: "a b c"},
		{in: "@self", err: "group cycle: @self -> @self", is: ErrCycle, calls: "self"},
		{in: "@bad", err: `group bad: node set "n[3-1]": bad range "3-1": end before start`},
		{in: "@badref", err: "group badref: @no/such: bad group name", is: ErrGroupName},
		{in: "@missing", err: "group missing: no group ghost"},
		{in: "@nope", err: "no group nope"},
		{in: "@", err: "@: bad group name", is: ErrGroupName},
		{in: "@a b", err: "bad group name", is: ErrGroupName},
		{in: "", err: "empty"},
		{in: " , ", err: "empty"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			calls := map[string]int{}
			got, err := ExpandWith(tc.in, groupsOf(defs, calls))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("ExpandWith(%q) = %q, %v; want error %q", tc.in, got, err, tc.err)
				}
				if tc.is != nil && !errors.Is(err, tc.is) {
					t.Errorf("error %v is not %v", err, tc.is)
				}
			} else if err != nil || strings.Join(got, " ") != tc.want {
				t.Fatalf("ExpandWith(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
			var looked []string
			for name, n := range calls {
				if n != 1 {
					t.Errorf("group %s looked up %d times", name, n)
				}
				looked = append(looked, name)
			}
			slices.Sort(looked)
			if tc.calls != "" && strings.Join(looked, " ") != tc.calls {
				t.Errorf("looked up %q, want %q", looked, tc.calls)
			}
		})
	}
}

// Without a group function, "@NAME" is an error, not a name.
func TestExpandWithoutGroups(t *testing.T) {
	if _, err := ExpandWith("n1,@web", nil); !errors.Is(err, ErrNoGroups) {
		t.Fatalf("ExpandWith without groups: %v, want ErrNoGroups", err)
	}
	if got, err := ExpandWith("n[1-2]", nil); err != nil || !slices.Equal(got, []string{"n1", "n2"}) {
		t.Fatalf("ExpandWith(n[1-2], nil) = %q, %v", got, err)
	}
}

func TestParseGroup(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"n1\n", "n1"},
		{"  n[1-3] \r\n\n# c\n@db # the dbs\n#@web\n", "n[1-3]|@db"},
		{"a,b\nc", "a,b|c"},
	} {
		if got := strings.Join(ParseGroup(tc.in), "|"); got != tc.want {
			t.Errorf("ParseGroup(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestValidGroupName(t *testing.T) {
	for name, want := range map[string]bool{
		"web": true, "web-1": true, "db_2": true, "x.y": true, "A9": true,
		"": false, ".hidden": false, "-x": false, "a/b": false, "a b": false,
		"n[1-2]": false, "a,b": false, "@a": false, "..": false,
		strings.Repeat("a", 128): true, strings.Repeat("a", 129): false,
	} {
		if got := ValidGroupName(name); got != want {
			t.Errorf("ValidGroupName(%q) = %v, want %v", name, got, want)
		}
	}
}

// IsRanges tells a node set's brackets from a glob's character classes.
func TestIsRanges(t *testing.T) {
	for body, want := range map[string]bool{
		"1": true, "0001-0005": true, "1,3,5-7": true, "1-9/2": true, "12": true, "0-9": true,
		"": false, "a-z": false, "!0-9": false, "^0-9": false, "1-": false, "-1": false,
		"1,,2": false, "1-2-3": false, "1/x": false, " 1": false, "1-9/": false,
	} {
		if got := IsRanges(body); got != want {
			t.Errorf("IsRanges(%q) = %v, want %v", body, got, want)
		}
	}
}

func TestRanges(t *testing.T) {
	got, err := Ranges("08-10,1")
	if err != nil || strings.Join(got, " ") != "08 09 10 1" {
		t.Fatalf("Ranges = %q, %v", got, err)
	}
	if _, err := Ranges("3-1"); err == nil {
		t.Fatal("Ranges(3-1): no error")
	}
}
