package checks_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/smctl/smctl/internal/testpriv"
	"github.com/smctl/smctl/pkg/check"
	"github.com/smctl/smctl/pkg/driver"
	"github.com/smctl/smctl/pkg/driver/all"
	"github.com/smctl/smctl/pkg/driver/checks"
	"github.com/smctl/smctl/pkg/transport"
)

// TestSet: among every driver, smctl.yaml's checks reach the checks
// driver, the scheduler finds it as the Set's Checker, and a device's
// transport has checks/ on top of the linux driver's directories, whose
// writes still pass through.
func TestSet(t *testing.T) {
	if _, err := os.Stat("/usr/lib/nagios/plugins/check_dummy"); err != nil {
		testpriv.Need(t, "/usr/lib/nagios/plugins/check_dummy (Debian package monitoring-plugins-basic)")
	}
	root := t.TempDir()
	set := all.Registry().New(driver.Env{Root: root})
	defer set.Close()
	var keys []string
	for _, s := range set.Sections() {
		keys = append(keys, s.Key)
	}
	if got := strings.Join(keys, ","); !strings.Contains(got, "checks,plugin_dirs") || !strings.Contains(got, "ssh") {
		t.Errorf("Sections: %s", got)
	}
	if _, err := set.Schema().Parse([]byte("checks:\n  - {name: alive, types: [server], command: check_dummy 0 up, attempts: 2}\n")); err != nil {
		t.Fatal(err)
	}
	c := set.Checker()
	if c == nil || set.Lookup(checks.Name) != c || set.Lookup("nope") != nil {
		t.Fatalf("Checker = %v, Lookup = %v", c, set.Lookup(checks.Name))
	}
	specs := c.Checks("server")
	if len(specs) != 1 || specs[0].Attempts != 2 || len(c.Checks("vm")) != 0 {
		t.Fatalf("Checks = %+v", specs)
	}
	dev := driver.Device{Path: "/systems/servers/localhost", Type: "server", Attrs: map[string]string{"transport": "local"}}
	tr, err := set.Transport(context.Background(), dev)
	if err != nil {
		t.Fatal(err)
	}
	if r, err := c.Run(context.Background(), specs[0], dev, tr); err != nil || r.State != check.OK || r.Message != "OK: up" {
		t.Errorf("Run = %+v, %v", r, err)
	}
	if b, err := tr.ReadFile(context.Background(), "/checks/alive", 4096); err != nil || string(b) != "OK OK: up\n" {
		t.Errorf("checks/alive = %q, %v", b, err)
	}
	if b, err := tr.ReadFile(context.Background(), "/os/kernel", 4096); err != nil || len(b) == 0 {
		t.Errorf("os/kernel = %q, %v", b, err)
	}
	if w, ok := tr.(transport.Writer); !ok || !w.Writable("/os/hostname") || w.Writable("/checks/alive") {
		t.Errorf("the linux driver's writes do not pass through")
	}
	var st check.Status
	st, _ = st.Next(check.OK, st.LastCheck.AddDate(2026, 0, 0), check.Policy{MaxAttempts: 2})
	if err := c.SaveStatus(dev.Path, "alive", st); err != nil {
		t.Fatal(err)
	}
	if got, ok, err := c.LoadStatus(dev.Path, "alive"); !ok || err != nil || got.String() != st.String() {
		t.Errorf("LoadStatus = %v, %v, %v", got, ok, err)
	}
	if r, ok := all.CheckResult("/systems/servers/localhost/checks/alive", []byte("OK OK: up\n")); !ok || r.Message != "OK: up" {
		t.Errorf("CheckResult = %+v, %v", r, ok)
	}
}
