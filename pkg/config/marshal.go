package config

import (
	"bytes"

	"gopkg.in/yaml.v3"
)

// Marshal renders c as YAML with a comment header, for smctl init.
func (c *Config) Marshal() ([]byte, error) { return Schema{}.Marshal(c) }

// Marshal renders c and the sections' values as YAML with a comment
// header, for smctl init.
func (sc Schema) Marshal(c *Config) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(header)
	for _, s := range sc.Sections {
		b.WriteString(s.Doc)
	}
	var doc yaml.Node
	if err := doc.Encode(c); err != nil {
		return nil, err
	}
	for _, s := range sc.Sections {
		var v yaml.Node
		if err := v.Encode(s.Value); err != nil {
			return nil, err
		}
		doc.Content = append(doc.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: s.Key}, &v)
	}
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, err
	}
	return b.Bytes(), enc.Close()
}

const header = `# smctl.yaml — the configuration of this smctl state root.
#
# tree          backing tree (relative to this directory); file contents are
#               the last value read or written
# agent_dirs    where executable agents are looked up, in order:
#               DIR/<type>/<file>.read|.write, and DIR/<file>.read|.write for
#               files at the root of the tree (discover_master)
# key_file      key that encrypts ids files ($SMCTL_KEY_FILE overrides)
# fanout        agents run at once; timeout: bound on one agent run
# confirm_over  devices a destructive write (power off, ...) may reach
#               before smctl write asks for confirmation (or --yes)
# max_output    cap on what one agent may print
# live_dirs     directories read live from the node on every access
# cache         first matching rule wins; model refresh (default: every
#               read runs the read agent), cached (only while empty),
#               ttl (when older than ttl) or periodic (smctl serve runs
#               it every: D; a read takes D as a ttl)
# password_argv agents that also get "-p PASSWORD" on their command line
# types         device types: dir (where discovery puts them), attrs
#               (attribute files of a new device), lock, live, builtins
#               (the roles whose built-in agents its devices get)
# serve         idle_timeout: smctl serve closes a connection unused this long
`
