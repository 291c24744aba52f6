package libvirt

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckDefinition(t *testing.T) {
	uuid := []byte{0x5e, 0x1f, 0, 1, 0, 0, 0x40, 0, 0x80, 0, 0, 0, 0, 0, 0, 2}
	const own = "5e1f0001-0000-4000-8000-000000000002"
	for _, c := range []struct {
		name, x string
		uuid    []byte
		want    string // "" accepted, else in the error
	}{
		{"its name", "<domain type='test'><name>vm1</name></domain>", nil, ""},
		{"spaces", "<domain>\n  <name> vm1 </name>\n</domain>\n", nil, ""},
		{"its uuid", "<domain><name>vm1</name><uuid>" + own + "</uuid></domain>", uuid, ""},
		{"no uuid: kept", "<domain><name>vm1</name></domain>", uuid, ""},
		{"uuid without dashes", "<domain><name>vm1</name><uuid>5e1f000100004000800000000000000" + "2</uuid></domain>", uuid, ""},
		{"another name", "<domain><name>vm2</name></domain>", nil, "naming the VM vm1"},
		{"a name in a comment", "<domain><!-- <name>vm1</name> --><name>vm2</name></domain>", nil, "naming the VM vm1"},
		{"a name in a child", "<domain><description><name>vm1</name></description><name>vm2</name></domain>", nil, "naming the VM vm1"},
		{"two names", "<domain><name>vm1</name><name>vm2</name></domain>", nil, "naming the VM vm1"},
		{"not a domain", "<network><name>vm1</name></network>", nil, "a <domain>"},
		{"a second domain", "<domain><name>vm1</name></domain><domain><name>vm2</name></domain>", nil, "more than its <domain>"},
		{"not XML", "<domain", nil, "not XML"},
		{"another uuid", "<domain><name>vm1</name><uuid>5e1f0001-0000-4000-8000-000000000003</uuid></domain>", uuid, "keep the VM's own <uuid> (" + own + ")"},
		{"two uuids", "<domain><name>vm1</name><uuid>" + own + "</uuid><uuid>" + own + "</uuid></domain>", uuid, "keep the VM's own"},
		{"a bad uuid", "<domain><name>vm1</name><uuid>x</uuid></domain>", uuid, "keep the VM's own"},
	} {
		err := checkDefinition(c.x, "vm1", c.uuid)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}

func TestDefineOptions(t *testing.T) {
	for _, c := range []struct {
		in, file string
		start    bool
		bad      string
	}{
		{"xml=a.xml", "a.xml", false, ""},
		{"xml=a.xml start=1\n", "a.xml", true, ""},
		{"start=yes xml=/d/a.xml", "/d/a.xml", true, ""},
		{"xml=a.xml start=0", "a.xml", false, ""},
		{"start=1", "", false, "xml=FILE"},
		{"", "", false, "xml=FILE"},
		{"xml=a.xml start=2", "", false, "start=2"},
		{"xml=a.xml boot=hd", "", false, `"boot=hd"`},
	} {
		file, start, err := defineOptions(c.in)
		if c.bad != "" {
			if err == nil || !strings.Contains(err.Error(), c.bad) {
				t.Errorf("%q: %v, want an error with %q", c.in, err, c.bad)
			}
			continue
		}
		if err != nil || file != c.file || start != c.start {
			t.Errorf("%q: %q %v %v, want %q %v", c.in, file, start, err, c.file, c.start)
		}
	}
}

func TestReadDefinition(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.xml")
	if err := os.WriteFile(good, []byte("<domain/>"), 0o644); err != nil {
		t.Fatal(err)
	}
	if x, err := readDefinition(good); err != nil || x != "<domain/>" {
		t.Errorf("a file of the user's: %q, %v", x, err)
	}
	// A file others may write decides nothing.
	open := filepath.Join(dir, "open.xml")
	if err := os.WriteFile(open, []byte("<domain/>"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o666); err != nil {
		t.Fatal(err)
	}
	if _, err := readDefinition(open); err == nil || !strings.Contains(err.Error(), "writable") {
		t.Errorf("a world-writable definition: %v", err)
	}
	if _, err := readDefinition(dir); err == nil {
		t.Error("a directory: no error")
	}
	big := filepath.Join(dir, "big.xml")
	if err := os.WriteFile(big, make([]byte, maxDefinition+1), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readDefinition(big); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("a definition too large: %v", err)
	}
}
