package sshx

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A loop of jump hosts is refused at once, naming it, instead of waiting
// on its own dial until the context ends (or forever); the pool still
// closes.
func TestProxyJumpLoop(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	key := filepath.Join(t.TempDir(), "k")
	writeKey(t, key)
	for _, tc := range []struct{ name, cfg string }{
		{"two hosts", "Host a\n  HostName 127.0.0.1\n  Port 1\n  ProxyJump b\nHost b\n  HostName 127.0.0.1\n  Port 1\n  ProxyJump a\n"},
		{"itself", "Host a\n  HostName 127.0.0.1\n  Port 1\n  ProxyJump a\n"},
		{"three hosts", "Host a\n  ProxyJump b\nHost b\n  ProxyJump c\nHost c\n  ProxyJump a\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := filepath.Join(t.TempDir(), "ssh_config")
			os.WriteFile(cfg, []byte(tc.cfg+"Host *\n  IdentityAgent none\n  IdentityFile "+key+"\n"), 0o600)
			p := NewPool(Options{ConfigFiles: []string{cfg}, StrictHostKey: "no"})
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			_, _, err := p.Client(ctx, Target{Alias: "a"})
			if err == nil || errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "ProxyJump loop") {
				t.Fatalf("ProxyJump loop: %v, want an error naming the loop", err)
			}
			p.Close()
		})
	}
}
