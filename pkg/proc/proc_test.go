package proc

import (
	"context"
	"errors"
	"os/exec"
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
	_, err := Run(context.Background(), exec.Command("sh", "-c", "yes"), 1000)
	if !errors.Is(err, ErrOutputLimit) {
		t.Fatalf("err = %v, want ErrOutputLimit", err)
	}
}
