package ssh

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/smctl/smctl/pkg/config"
	"github.com/smctl/smctl/pkg/driver"
	"github.com/smctl/smctl/pkg/sshx"
)

func TestSection(t *testing.T) {
	tests := []struct {
		in, err string
		check   func(t *testing.T, s Settings)
	}{
		{in: "fanout: 8\n", check: func(t *testing.T, s Settings) {
			if s.ConnectTimeout.Duration != 10*time.Second || s.Retries != 3 {
				t.Errorf("defaults: %+v", s)
			}
		}},
		{in: "ssh:\n  retries: 0\n  config_files: [~/cfg]\n  strict_host_key_checking: accept-new\n", check: func(t *testing.T, s Settings) {
			if s.Retries != 0 || s.StrictHostKeyChecking != "accept-new" || len(s.ConfigFiles) != 1 {
				t.Errorf("decoded: %+v", s)
			}
		}},
		{in: "ssh:\n  retries: 11\n", err: ":2:12: ssh retries must be 0..10"},
		{in: "ssh:\n  connect_timeout: 0s\n", err: ":2:20: ssh connect_timeout must be positive"},
		{in: "ssh:\n  strict_host_key_checking: maybe\n", err: `:2:29: strict_host_key_checking "maybe": want yes, accept-new or no`},
		{in: "ssh:\n  port: 22\n", err: `:2:3: unknown key "port"`},
	}
	for _, tt := range tests {
		d := New(driver.Env{})
		_, err := config.Schema{Sections: []config.Section{d.Section()}}.Parse([]byte(tt.in))
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: error %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%q: %v", tt.in, err)
		}
		tt.check(t, d.settings)
	}
}

func TestTransport(t *testing.T) {
	d := New(driver.Env{ConnectTimeout: 3 * time.Second})
	defer d.Close()
	dev := driver.Device{Path: "/systems/servers/n1", Attrs: map[string]string{"address": "10.0.0.1", "port": "2222", "user": "ops", "ssh_config": "~/my_config"},
		User: "admin", Password: "pw"}
	tr, err := d.Transport(context.Background(), dev)
	if err != nil {
		t.Fatal(err)
	}
	st := tr.(*sshx.Transport)
	tg := st.Target
	if tg.Alias != "10.0.0.1" || tg.Port != 2222 || tg.User != "ops" || tg.Password != "pw" || tg.PasswordUser != "admin" || tg.FallbackUser != "admin" ||
		strings.HasPrefix(tg.ConfigFile, "~") || !strings.HasSuffix(tg.ConfigFile, "/my_config") {
		t.Errorf("target = %+v", tg)
	}
	if st.Pool == nil || st.Pool != d.Pool() {
		t.Error("not the driver's pool")
	}
	for _, p := range []string{"0", "65536", "ssh", "-1"} {
		dev.Attrs["port"] = p
		if _, err := d.Transport(context.Background(), dev); err == nil || err.Error() != `device /systems/servers/n1: bad port "`+p+`"` {
			t.Errorf("port %s: %v", p, err)
		}
	}
}
