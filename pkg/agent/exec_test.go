package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/smctl/smctl/pkg/status"
)

// TestExecInput checks how a write's input reaches an agent: always on its
// standard input, and also as -i (less its trailing newlines) when it fits
// one argument and holds no NUL; a read has neither.
func TestExecInput(t *testing.T) {
	a := &Exec{Path: script(t, `echo "argc=$#"; [ "$3" = -i ] && echo "arg=${#4}"; echo "stdin=$(wc -c | tr -d ' ')"`)}
	x := strings.Repeat("x", maxArgInput)
	for _, tt := range []struct {
		name  string
		op    Op
		input string
		want  string
	}{
		{"read", Read, "", "argc=2\nstdin=0\n"},
		{"read, input ignored", Read, "hello\n", "argc=2\nstdin=0\n"},
		{"write", Write, "hello\n", "argc=4\narg=5\nstdin=6\n"},
		{"empty write", Write, "", "argc=4\narg=0\nstdin=0\n"},
		{"largest -i", Write, x, fmt.Sprintf("argc=4\narg=%d\nstdin=%d\n", maxArgInput, maxArgInput)},
		{"largest -i, newlines trimmed", Write, x + "\n\n", fmt.Sprintf("argc=4\narg=%d\nstdin=%d\n", maxArgInput, maxArgInput+2)},
		{"too large for -i", Write, x + "y", fmt.Sprintf("argc=2\nstdin=%d\n", maxArgInput+1)},
		{"NUL", Write, "a\x00b", "argc=2\nstdin=3\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req := &Request{Path: "/systems/servers/n1/x", Op: tt.op, Input: []byte(tt.input), Root: t.TempDir()}
			res, err := a.Run(context.Background(), req)
			if err != nil || res.RC != 0 {
				t.Fatalf("Run = %+v, %v", res, err)
			}
			if string(res.Output) != tt.want {
				t.Errorf("agent saw %q, want %q", res.Output, tt.want)
			}
		})
	}
}

// An agent that cannot be trusted or run is not run, and its status says
// why.
func TestExecRefused(t *testing.T) {
	dir := t.TempDir()
	ran := filepath.Join(dir, "ran")
	write := func(name, first string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(first+"\ntouch "+ran+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	loop := filepath.Join(dir, "loop")
	if err := os.Symlink(loop, loop); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o755); err != nil {
		t.Fatal(err)
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tt := range []struct {
		name string
		path string
		ctx  context.Context
		rc   status.Code
		msg  string
	}{
		{"group-writable", write("gw", "#!/bin/sh", 0o775), nil, status.Usage, "writable by its group"},
		{"writable by others", write("ow", "#!/bin/sh", 0o757), nil, status.Usage, "writable by others"},
		{"not executable", write("nx", "#!/bin/sh", 0o644), nil, status.NotExecutable, "chmod +x"},
		{"a directory", sub, nil, status.NotExecutable, "not executable"},
		{"a FIFO", fifo, nil, status.NotExecutable, "not a regular file (p---------)"},
		{"a symlink loop", loop, nil, status.NotExecutable, "too many levels of symbolic links"},
		{"missing interpreter", write("interp", "#!/nonexistent/sh", 0o755), nil, status.NotExecutable, "no such file"},
		{"interrupted", write("int", "#!/bin/sh", 0o755), cancelled, status.Interrupted, "interrupted"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := tt.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			_, err := (&Exec{Path: tt.path}).Run(ctx, &Request{Path: "/x", Op: Read, Root: dir})
			var ae *Error
			if !errors.As(err, &ae) || status.Of(err) != tt.rc || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("Run = %v, want status %d and %q", err, tt.rc, tt.msg)
			}
			if _, err := os.Stat(ran); err == nil && tt.rc != status.Interrupted {
				t.Errorf("the agent ran")
			}
		})
	}
}

func TestEnv(t *testing.T) {
	t.Setenv("SMCTL_INHERITED", "must not reach the agent")
	t.Setenv("AGENT_TEST_KEPT", "kept")
	req := &Request{Path: "/systems/servers/n1/power", Op: Read, Device: "/systems/servers/n1", Type: "server",
		Host: "10.0.0.1", Root: "/state", KeyFile: "/keys/ids.key", User: "admin", Password: "pw",
		Attrs: map[string]string{
			"bmc_interface": "lanplus",
			"bmc-cipher":    "17",
			"a.b/c":         "x",
			"azAZ09":        "bounds",
			"`{@[/:":        "neighbours",
			"é":             "not ascii",
		}}
	env := Env(req, "/usr/bin/smctl")
	for _, kv := range []string{
		"AGENT_TEST_KEPT=kept",
		"SMCTL_PATH=/systems/servers/n1/power", "SMCTL_OP=read", "SMCTL_DEVICE=/systems/servers/n1",
		"SMCTL_TYPE=server", "SMCTL_HOST=10.0.0.1", "SMCTL_ROOT=/state", "SMCTL_BIN=/usr/bin/smctl",
		"SMCTL_KEY_FILE=/keys/ids.key", "SMCTL_USER=admin", "SMCTL_PASSWORD=pw",
		"SMCTL_ATTR_BMC_INTERFACE=lanplus", "SMCTL_ATTR_BMC_CIPHER=17", "SMCTL_ATTR_A_B_C=x",
		"SMCTL_ATTR_AZAZ09=bounds", "SMCTL_ATTR_______=neighbours", "SMCTL_ATTR__=not ascii",
	} {
		if !slices.Contains(env, kv) {
			t.Errorf("environment lacks %s", kv)
		}
	}
	if n := len(slices.DeleteFunc(slices.Clone(env), func(kv string) bool { return !strings.HasPrefix(kv, "SMCTL_") })); n != 16 {
		t.Errorf("%d SMCTL_ variables, want 16: %q", n, env)
	}

	// No key file, no credentials: none of their variables.
	req.KeyFile, req.User, req.Password, req.Attrs = "", "", "", nil
	for _, kv := range Env(req, "smctl") {
		for _, name := range []string{"SMCTL_KEY_FILE=", "SMCTL_USER=", "SMCTL_PASSWORD=", "SMCTL_INHERITED=", "SMCTL_ATTR_"} {
			if strings.HasPrefix(kv, name) {
				t.Errorf("environment has %s", kv)
			}
		}
	}
}
