package proc

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestRun(t *testing.T) {
	out, err := Run(context.Background(), exec.Command("sh", "-c", "echo out; echo warn >&2; exit 3"), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if string(out.Stdout) != "out\n" || FirstLine(out.Stderr) != "warn" || out.Exit != 3 {
		t.Errorf("Run = %q %q %d", out.Stdout, out.Stderr, out.Exit)
	}
}

func TestRunTimeoutKillsGroup(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	// The grandchild sleep holds stdout; the group kill must end it too.
	_, err := Run(ctx, exec.Command("sh", "-c", "sleep 30 & sleep 30"), 1<<20)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Run returned after %v: process group not killed", d)
	}
}

func TestRunOutputLimit(t *testing.T) {
	out, err := Run(context.Background(), exec.Command("sh", "-c", "yes"), 1000)
	if !errors.Is(err, ErrOutputLimit) {
		t.Fatalf("err = %v, want ErrOutputLimit", err)
	}
	// What fits is kept: the first 1000 bytes, not what came before the
	// write that crossed the limit.
	if len(out.Stdout) != 1000 || string(out.Stdout[:4]) != "y\ny\n" {
		t.Errorf("kept %d bytes (%q...), want the first 1000", len(out.Stdout), out.Stdout[:min(len(out.Stdout), 8)])
	}
}

// TestRunTee: the tee writers get the output as it comes; stderr is kept
// up to the stdout cap.
func TestRunTee(t *testing.T) {
	var o, e strings.Builder
	out, err := RunTee(context.Background(), exec.Command("sh", "-c", "echo out; head -c 100000 /dev/zero | tr '\\0' x >&2"), 1<<20, &o, &e)
	if err != nil {
		t.Fatal(err)
	}
	if o.String() != "out\n" || e.Len() != 100000 || len(out.Stderr) != 100000 {
		t.Errorf("tee %q, %d bytes of stderr teed, %d kept", o.String(), e.Len(), len(out.Stderr))
	}
}
