package cli

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestDoctorFlags: --sample reaches the options; a negative one, or an
// argument, is a usage error (exit 2) that runs nothing.
func TestDoctorFlags(t *testing.T) {
	ios, _, _ := Test("")
	g := &globalOptions{}
	for _, tc := range []struct {
		args []string
		want *DoctorOptions // nil: a usage error
	}{
		{nil, &DoctorOptions{Sample: 10}},
		{[]string{"--sample", "50"}, &DoctorOptions{Sample: 50}},
		{[]string{"--sample=0"}, &DoctorOptions{Sample: 0}},
		{[]string{"--sample", "-1"}, nil},
	} {
		var got *DoctorOptions
		cmd := newDoctorCmd(ios, g, func(o *DoctorOptions) error { got = o; return nil })
		cmd.SilenceUsage, cmd.SilenceErrors = true, true
		cmd.SetArgs(tc.args)
		err := cmd.Execute()
		if tc.want == nil {
			if code := exitCode(context.Background(), ios, err); code != ExitUsage || got != nil {
				t.Errorf("doctor %q: exit %d, ran with %+v; want a usage error", tc.args, code, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("doctor %q: %v", tc.args, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("doctor %q: options %+v, want %+v", tc.args, got, tc.want)
		}
	}
	if code, _, errOut := run(t, "--root", t.TempDir(), "doctor", "extra"); code != ExitUsage || !strings.Contains(errOut, "doctor") {
		t.Errorf("doctor extra: exit %d, stderr %q; want a usage error naming the verb", code, errOut)
	}
}

// TestDoctorExit: 0 with warnings only, 1 with an error, each finding on a
// line of standard output and the count on standard error.
func TestDoctorExit(t *testing.T) {
	root := filepath.Join(t.TempDir(), "root")
	t.Setenv("HOME", t.TempDir()) // no known_hosts: a warning
	if code, _, errOut := run(t, "--root", root, "init"); code != ExitOK {
		t.Fatalf("init: exit %d: %s", code, errOut)
	}
	code, out, errOut := run(t, "--root", root, "doctor")
	if code != ExitOK || errOut != "" || !strings.HasPrefix(out, "ok config: smctl.yaml parsed") ||
		!strings.Contains(out, "\nwarn known_hosts: no file") || !strings.Contains(out, "\nok nodes: 1 of 1 sampled answered") {
		t.Errorf("doctor of a new root: exit %d, stderr %q, stdout:\n%s", code, errOut, out)
	}
	if err := os.Chmod(filepath.Join(root, "agents.d/server/uptime.read"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = run(t, "--root", root, "doctor", "--sample", "0")
	if code != ExitFailed || errOut != "smctl: doctor: 2 errors, 1 warning\n" ||
		!strings.Contains(out, "\nerror agents.d/server/uptime.read: not executable, mode 0644 (chmod +x ") ||
		strings.Contains(out, "\nok nodes") || strings.Contains(out, "\nerror nodes") {
		t.Errorf("doctor of a root with a bad agent: exit %d, stderr %q, stdout:\n%s", code, errOut, out)
	}
	code, out, _ = run(t, "--root", filepath.Join(t.TempDir(), "none"), "doctor")
	if code != ExitFailed || !strings.HasPrefix(out, "error root: no smctl state root at ") {
		t.Errorf("doctor of no root: exit %d, stdout:\n%s", code, out)
	}
}
