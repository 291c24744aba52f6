package inventory

import (
	"fmt"

	"gopkg.in/yaml.v3"
)

// ansibleYAML reads a YAML inventory: top-level groups (usually all),
// each with hosts:, vars: and children:, children nesting as deep as
// they like, a group named in several places being one group.
func ansibleYAML(b []byte, inv *ansibleInv) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return err
	}
	if len(doc.Content) == 0 || isNull(doc.Content[0]) {
		return nil
	}
	return eachPair(doc.Content[0], "the inventory", func(name string, v *yaml.Node) error {
		return yamlGroup(inv, name, "", v)
	})
}

// yamlGroup reads group name, a child of parent ("" at the top).
func yamlGroup(inv *ansibleInv, name, parent string, n *yaml.Node) error {
	g := inv.group(name)
	if parent != "" {
		if name == parent {
			return fmt.Errorf("group %s cannot be its own child", name)
		}
		inv.addChild(parent, name)
	}
	if isNull(n) {
		return nil
	}
	return eachPair(n, "group "+name, func(key string, v *yaml.Node) error {
		switch key {
		case "hosts":
			return eachPair(v, "group "+name+": hosts", func(pattern string, hv *yaml.Node) error {
				vars, err := yamlVars(hv)
				if err != nil {
					return fmt.Errorf("group %s: host %s: %w", name, pattern, err)
				}
				if err := inv.addHosts(name, pattern, vars); err != nil {
					return fmt.Errorf("group %s: %w", name, err)
				}
				return nil
			})
		case "vars":
			vars, err := yamlVars(v)
			if err != nil {
				return fmt.Errorf("group %s: vars: %w", name, err)
			}
			for k, val := range vars {
				g.vars[k] = val
			}
		case "children":
			return eachPair(v, "group "+name+": children", func(child string, cv *yaml.Node) error {
				return yamlGroup(inv, child, name, cv)
			})
		}
		// Other keys Ansible warns about and ignores.
		return nil
	})
}

// yamlVars decodes a mapping of variables, a null one being empty; a
// value is its YAML scalar text (a null value is empty), a list or a
// mapping its Go rendering.
func yamlVars(n *yaml.Node) (map[string]string, error) {
	vars := map[string]string{}
	if isNull(n) {
		return vars, nil
	}
	err := eachPair(n, "variables", func(k string, v *yaml.Node) error {
		val := ""
		switch {
		case isNull(v):
		case v.Kind == yaml.ScalarNode:
			val = v.Value
		default:
			var x any
			if err := v.Decode(&x); err != nil {
				return err
			}
			val = fmt.Sprint(x)
		}
		return setVar(vars, k, val)
	})
	return vars, err
}

func isNull(n *yaml.Node) bool {
	return n == nil || n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// eachPair calls f for each key and value of the mapping n, in order;
// what names n in the error when it is not a mapping.
func eachPair(n *yaml.Node, what string, f func(string, *yaml.Node) error) error {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: %s: want a mapping", n.Line, what)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if err := f(n.Content[i].Value, n.Content[i+1]); err != nil {
			return err
		}
	}
	return nil
}
