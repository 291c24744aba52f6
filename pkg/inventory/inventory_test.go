package inventory

import (
	"os"
	"path/filepath"
	"testing"
)

func write(t *testing.T, body string) string {
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSSHConfig(t *testing.T) {
	hs, err := SSHConfig(write(t, "Host a b\n  Port 2\nHost web*\n  User x\nHost !c d\nHost *\n  User y\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(hs) != 3 || hs[0].Name != "a" || hs[1].Name != "b" || hs[2].Name != "d" {
		t.Errorf("SSHConfig = %+v", hs)
	}
}

func TestHosts(t *testing.T) {
	hs, err := Hosts(write(t, "127.0.0.1 localhost\n::1 ip6-localhost ip6-loopback\n10.0.0.5 node5 node5.lab # comment\n10.0.0.6\tnode6\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(hs) != 2 || hs[0] != (Host{Name: "node5", Address: "10.0.0.5"}) || hs[1].Name != "node6" {
		t.Errorf("Hosts = %+v", hs)
	}
	if _, err := Hosts(write(t, "garbage\n")); err == nil {
		t.Error("bad hosts line accepted")
	}
}

func TestAnsibleINI(t *testing.T) {
	hs, err := Ansible(write(t, `# inventory
[web]
web[01:03].lab ansible_user=deploy
db1 ansible_host=10.0.0.9 ansible_port=2222

[web:vars]
http_port=80

[all:children]
web
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(hs) != 4 || hs[0].Name != "web01.lab" || hs[0].User != "deploy" || hs[3] != (Host{Name: "db1", Address: "10.0.0.9", Port: 2222}) {
		t.Errorf("Ansible INI = %+v", hs)
	}
}

func TestAnsibleYAML(t *testing.T) {
	hs, err := Ansible(write(t, `all:
  hosts:
    mail.example.com:
  children:
    web:
      hosts:
        w[1:2]:
          ansible_port: 2200
    db:
      hosts:
        db1:
          ansible_host: 127.0.0.5
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(hs) != 4 || hs[0].Name != "mail.example.com" || hs[1] != (Host{Name: "db1", Address: "127.0.0.5"}) || hs[3].Port != 2200 {
		t.Errorf("Ansible YAML = %+v", hs)
	}
}
