package discover

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/smctl/smctl/pkg/nodeset"
	"github.com/smctl/smctl/pkg/vtree"
)

// writeGroups keeps the groups of the imports as files of the tree,
// /groups/NAME (vtree.GroupsDir), replacing what an earlier import wrote:
// a comment naming the inventory, the group's own hosts folded into one
// node set, then an "@CHILD" line per child group. Groups the inventory
// no longer has are left as they are. It returns one change listing the
// groups written ("groups: db, web").
func (d *Discovery) writeGroups(ctx context.Context, imports []*imported) ([]change, error) {
	var names []string
	for _, im := range imports {
		if len(im.groups) == 0 {
			continue
		}
		if err := d.tree.MakeDirs(vtree.GroupsDir); err != nil {
			return nil, err
		}
		for _, g := range im.groups {
			p := path.Join(vtree.GroupsDir, g.Name)
			if _, err := d.tree.Write(ctx, p, groupFile(im.source, g.Hosts, g.Children)); err != nil {
				return changeOf(names), fmt.Errorf("group %s: %w", g.Name, err)
			}
			if !slices.Contains(names, g.Name) {
				names = append(names, g.Name)
			}
		}
	}
	return changeOf(names), nil
}

func changeOf(groups []string) []change {
	if len(groups) == 0 {
		return nil
	}
	return []change{{verb: "groups", names: groups}}
}

// groupFile is the content of a group file: node sets, one a line, as
// nodeset.ParseGroup reads them.
func groupFile(source string, hosts, children []string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "# from the Ansible inventory %s (import ansible); an import again replaces it\n", source)
	if len(hosts) > 0 {
		b.WriteString(nodeset.Fold(hosts) + "\n")
	}
	for _, c := range children {
		b.WriteString("@" + c + "\n")
	}
	return []byte(b.String())
}
