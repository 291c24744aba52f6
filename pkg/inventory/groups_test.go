package inventory

import (
	"path/filepath"
	"reflect"
	"testing"
)

// AnsibleInventory gives each group its own hosts, in inventory order,
// and its children, sorted; all and ungrouped are left out.
func TestAnsibleGroups(t *testing.T) {
	dir := testdata(t, "ansible")
	// testdata/ansible/groups.{ini,yml} both give these.
	files := []Group{
		{Name: "db", Hosts: []string{"web01.lab", "db1", "db2"}},
		{Name: "prod", Children: []string{"db", "web"}},
		{Name: "staging", Children: []string{"db"}},
		{Name: "web", Hosts: []string{"web01.lab", "web02.lab", "web03.lab"}},
	}
	for _, tc := range []struct {
		name, file string
		want       []Group
	}{
		{"INI groups", filepath.Join(dir, "groups.ini"), files},
		{"YAML groups", filepath.Join(dir, "groups.yml"), files},
		{"no groups", write(t, "h1\nh2\n"), nil},
		{"empty group, nested children", write(t, "[a:children]\nb\n[b:children]\nc\n[c]\nh\n[empty]\n"), []Group{
			{Name: "a", Children: []string{"b"}},
			{Name: "b", Children: []string{"c"}},
			{Name: "c", Hosts: []string{"h"}},
			{Name: "empty"},
		}},
		{"a child of all is no one's child", write(t, "[all:children]\nweb\n[web]\nw[1:2]\n"), []Group{
			{Name: "web", Hosts: []string{"w1", "w2"}},
		}},
		{"YAML", write(t, "all:\n  children:\n    web:\n      hosts:\n        w2:\n        w1:\n      children:\n        api:\n          hosts: {a1: }\n"), []Group{
			{Name: "api", Hosts: []string{"a1"}},
			{Name: "web", Hosts: []string{"w2", "w1"}, Children: []string{"api"}},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hosts, groups, err := AnsibleInventory(tc.file)
			if err != nil {
				t.Fatal(err)
			}
			if len(hosts) == 0 {
				t.Error("no hosts")
			}
			if !reflect.DeepEqual(groups, tc.want) {
				t.Errorf("groups =\n%+v\nwant\n%+v", groups, tc.want)
			}
		})
	}
	if _, _, err := AnsibleInventory(write(t, "[a:children]\na\n")); err == nil {
		t.Error("a group its own child: no error")
	}
}
