package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/smctl/smctl/pkg/status"
)

func script(t *testing.T, body string) string {
	p := filepath.Join(t.TempDir(), "probe.read")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestExecArgvAndEnv(t *testing.T) {
	t.Setenv("SMCTL_PASSWORD", "inherited-must-not-leak")
	a := &Exec{Path: script(t, `echo "$*"; echo "pw=$SMCTL_PASSWORD attr=$SMCTL_ATTR_BMC_INTERFACE in=$(cat)"`)}
	req := &Request{Path: "/systems/servers/n1/x", Op: Write, User: "admin", Password: "s3cret",
		Attrs: map[string]string{"bmc_interface": "lan"}, Input: []byte("hello\n"), Root: t.TempDir()}
	res, err := a.Run(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	want := "-f /systems/servers/n1/x -u admin -i hello\npw=s3cret attr=lan in=hello\n"
	if string(res.Output) != want {
		t.Errorf("output = %q, want %q", res.Output, want)
	}
	a.PassPassword = true
	res, _ = a.Run(context.Background(), req)
	if !strings.HasPrefix(string(res.Output), "-f /systems/servers/n1/x -u admin -p s3cret -i hello\n") {
		t.Errorf("with -p: %q", res.Output)
	}
	// Without credentials, no inherited SMCTL_PASSWORD either.
	req.User, req.Password = "", ""
	res, _ = a.Run(context.Background(), req)
	if strings.Contains(string(res.Output), "inherited") {
		t.Errorf("inherited SMCTL_PASSWORD reached the agent: %q", res.Output)
	}
}

func TestExecFailures(t *testing.T) {
	ctx := context.Background()
	req := &Request{Path: "/x", Op: Read, Root: t.TempDir()}
	tests := []struct {
		body string
		rc   int
		msg  string
	}{
		{body: "echo oops >&2; exit 3", rc: 3, msg: "oops"},
		{body: "exit 4", rc: 4, msg: "exited with status 4"},
	}
	for _, tt := range tests {
		res, err := (&Exec{Path: script(t, tt.body)}).Run(ctx, req)
		if err != nil || res.RC != tt.rc || !strings.Contains(res.Message, tt.msg) {
			t.Errorf("%q: %+v %v", tt.body, res, err)
		}
	}
	p := script(t, "true")
	os.Chmod(p, 0o644)
	var ae *Error
	if _, err := (&Exec{Path: p}).Run(ctx, req); !errors.As(err, &ae) || status.Of(err) != status.NotExecutable {
		t.Errorf("not executable: %v", err)
	}
	if _, err := (&Exec{Path: "/nonexistent/agent"}).Run(ctx, req); !errors.As(err, &ae) || status.Of(err) != status.NotFound {
		t.Errorf("missing: %v", err)
	}
	tctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if _, err := (&Exec{Path: script(t, "sleep 10")}).Run(tctx, req); !errors.As(err, &ae) || status.Of(err) != status.Timeout {
		t.Errorf("timeout: %v", err)
	}
	req.MaxOutput = 10
	if _, err := (&Exec{Path: script(t, "echo 0123456789abcdef")}).Run(ctx, req); err == nil || !strings.Contains(err.Error(), "nothing stored") {
		t.Errorf("output cap: %v", err)
	}
}

func TestRegistry(t *testing.T) {
	var r Registry
	f := Func(func(context.Context, *Request) (Result, error) { return Result{}, nil })
	r.Register("server", "power", Read, f)
	r.Register("server", "power", Write, f)
	r.Register("chassis", "eventlog", Read, f)
	if _, ok := r.Lookup(Key{"server", "power", Write}); !ok {
		t.Error("server power.write not found")
	}
	if _, ok := r.Lookup(Key{"blade", "power", Read}); ok {
		t.Error("blade power.read found")
	}
	if n := r.Names("server"); len(n) != 1 || len(n["power"]) != 2 {
		t.Errorf("Names(server) = %v", n)
	}
}

// TestCompat checks the shims kept for pkg/vtree: the RC constants are the
// status codes, an *Error is a status.Coder, and IsLocal is status.IsLocal.
func TestCompat(t *testing.T) {
	for _, tt := range []struct {
		rc   int
		code status.Code
	}{
		{RCFailed, status.Failed}, {RCUntrusted, status.Usage}, {RCLocal, status.Local},
		{RCTimeout, status.Timeout}, {RCNotExecutable, status.NotExecutable},
		{RCNotFound, status.NotFound}, {RCInterrupted, status.Interrupted}, {RCUnreachable, status.Unreachable},
	} {
		if tt.rc != int(tt.code) {
			t.Errorf("RC %d, want %d", tt.rc, tt.code)
		}
	}
	cause := errors.New("cause")
	err := Fail(status.NotFound, cause)
	var ae *Error
	if !errors.As(err, &ae) || ae.RC != int(status.NotFound) || !errors.Is(err, cause) || err.Error() != "cause" {
		t.Errorf("Fail = %#v", err)
	}
	if c := status.Of(fmt.Errorf("run: %w", err)); c != status.NotFound {
		t.Errorf("status.Of(agent error) = %d", c)
	}
	if !IsLocal(fmt.Errorf("x: %w", syscall.EMFILE)) || IsLocal(cause) {
		t.Error("IsLocal")
	}
}

// TestOpRan: a status records the value a write ran, nothing for a read.
func TestOpRan(t *testing.T) {
	if got := Write.Ran([]byte("uptime")); got != "uptime" {
		t.Errorf("Write.Ran = %q", got)
	}
	if got := Read.Ran([]byte("x")); got != "" {
		t.Errorf("Read.Ran = %q", got)
	}
}
