package sshx

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestSettingsResolution checks, one ssh_config at a time, the values
// Settings derives: the bounds of Port and ConnectTimeout, the defaults of
// the known_hosts files and of the login name, "none" in
// GlobalKnownHostsFile, the expansion of IdentityAgent, and the pool's
// defaults and FallbackUser.
func TestSettingsResolution(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	u, err := user.Current()
	if err != nil {
		t.Skipf("no current user: %v", err)
	}
	// $USER is only the fallback when the user database has no answer.
	t.Setenv("USER", "not-"+u.Username)

	tests := []struct {
		name    string
		config  string
		opts    Options
		target  Target
		wantErr string
		check   func(s *Settings) string
	}{
		{name: "port 0", config: "Port 0", wantErr: "bad Port"},
		{name: "port 1", config: "Port 1", check: func(s *Settings) string { return want(s.Port, 1) }},
		{name: "port 65535", config: "Port 65535", check: func(s *Settings) string { return want(s.Port, 65535) }},
		{name: "port 65536", config: "Port 65536", wantErr: "bad Port"},
		{name: "port -1", config: "Port -1", wantErr: "bad Port"},
		{name: "port word", config: "Port ssh", wantErr: "bad Port"},
		{name: "timeout -1", config: "ConnectTimeout -1", wantErr: "bad ConnectTimeout"},
		{name: "timeout word", config: "ConnectTimeout soon", wantErr: "bad ConnectTimeout"},
		{name: "timeout 0 is the pool's", config: "ConnectTimeout 0", opts: Options{ConnectTimeout: 7 * time.Second},
			check: func(s *Settings) string { return want(s.ConnectTimeout, 7*time.Second) }},
		{name: "timeout 4", config: "ConnectTimeout 4", check: func(s *Settings) string { return want(s.ConnectTimeout, 4*time.Second) }},
		{name: "pool timeout default", config: "Port 22", check: func(s *Settings) string { return want(s.ConnectTimeout, 10*time.Second) }},
		{name: "pool timeout set", config: "Port 22", opts: Options{ConnectTimeout: 3 * time.Second},
			check: func(s *Settings) string { return want(s.ConnectTimeout, 3*time.Second) }},
		{name: "known_hosts defaults", config: "Port 22", check: func(s *Settings) string {
			return wantList(s.KnownHostsFiles, filepath.Join(home, ".ssh", "known_hosts"), filepath.Join(home, ".ssh", "known_hosts2")) +
				wantList(s.GlobalKnownHosts, "/etc/ssh/ssh_known_hosts", "/etc/ssh/ssh_known_hosts2")
		}},
		{name: "known_hosts set", config: "UserKnownHostsFile /u/one none ~/u2\n  GlobalKnownHostsFile /g/one none /g/%h", check: func(s *Settings) string {
			return wantList(s.KnownHostsFiles, "/u/one", filepath.Join(home, "u2")) +
				wantList(s.GlobalKnownHosts, "/g/one", "/g/h1")
		}},
		{name: "global known_hosts one", config: "GlobalKnownHostsFile /g/only", check: func(s *Settings) string {
			return wantList(s.GlobalKnownHosts, "/g/only")
		}},
		{name: "user from the user database", config: "Port 22", check: func(s *Settings) string { return want(s.User, u.Username) }},
		{name: "fallback user", config: "Port 22", target: Target{FallbackUser: "fb"}, check: func(s *Settings) string { return want(s.User, "fb") }},
		{name: "ssh_config user over fallback", config: "User cfg", target: Target{FallbackUser: "fb"}, check: func(s *Settings) string { return want(s.User, "cfg") }},
		{name: "target user over all", config: "User cfg", target: Target{User: "me", FallbackUser: "fb"}, check: func(s *Settings) string { return want(s.User, "me") }},
		{name: "agent path expanded", config: "IdentityAgent ~/agent-%h.sock", check: func(s *Settings) string {
			return want(s.IdentityAgent, filepath.Join(home, "agent-h1.sock"))
		}},
		{name: "agent variable", config: "IdentityAgent $SSH_AUTH_SOCK", check: func(s *Settings) string { return want(s.IdentityAgent, "SSH_AUTH_SOCK") }},
		{name: "agent none", config: "IdentityAgent none", check: func(s *Settings) string { return want(s.IdentityAgent, "none") }},
		{name: "agent unset", config: "Port 22", check: func(s *Settings) string { return want(s.IdentityAgent, "") }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := filepath.Join(t.TempDir(), "ssh_config")
			if err := os.WriteFile(cfg, []byte("Host h1\n  "+tc.config+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			tc.opts.ConfigFiles = []string{cfg}
			tc.target.Alias = "h1"
			p := NewPool(tc.opts)
			defer p.Close()
			s, err := p.Settings(tc.target)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Settings = %+v, %v; want error %q", s, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if msg := tc.check(s); msg != "" {
				t.Errorf("%s (settings %+v)", msg, s)
			}
		})
	}
}

func want[T comparable](got, want T) string {
	if got != want {
		return fmt.Sprintf("got %v, want %v; ", got, want)
	}
	return ""
}

func wantList(got []string, want ...string) string {
	if !slices.Equal(got, want) {
		return "got [" + strings.Join(got, " ") + "], want [" + strings.Join(want, " ") + "]; "
	}
	return ""
}
