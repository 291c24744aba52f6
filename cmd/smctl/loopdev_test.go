package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"
)

// cmdLoopdev is loopdev SIZE_MB: attach an empty image of SIZE_MB MiB in
// the script's $WORK as a loop device (root, losetup), and export
// LOOPDEV (/dev/loop7) and LOOPNAME (loop7). When the script ends,
// whatever state it left, the device is undone in reverse order: what is
// mounted from it or its partitions unmounted, its partitions removed
// from the kernel (partx -d), the device detached — that device only, and
// only while it is still attached to this image — and the image removed.
func cmdLoopdev(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: loopdev SIZE_MB")
	}
	mb, err := strconv.Atoi(args[0])
	if err != nil || mb < 1 || mb > 1024 {
		ts.Fatalf("loopdev: %q is not a size in MiB (1 to 1024)", args[0])
	}
	f, err := os.CreateTemp(ts.Getenv("WORK"), "loopdev-*.img")
	ts.Check(err)
	img := f.Name()
	// The image goes unless the device could not be detached from it: a
	// loop device left attached to a deleted file could not be found by
	// it any more.
	keep := false
	ts.Defer(func() {
		if !keep {
			os.Remove(img)
		}
	})
	err = f.Truncate(int64(mb) << 20)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	ts.Check(err)
	out, err := exec.Command("losetup", "--find", "--show", "--", img).Output()
	if err != nil {
		ts.Fatalf("loopdev: losetup --find --show %s: %v", img, exitMsg(err))
	}
	dev := strings.TrimSpace(string(out))
	name := filepath.Base(dev)
	if !strings.HasPrefix(dev, "/dev/loop") || strings.ContainsAny(name, " \n") {
		ts.Fatalf("loopdev: losetup printed %q, not a loop device", out)
	}
	ts.Defer(func() {
		if err := detachLoop(dev, img); err != nil {
			keep = true
			ts.Fatalf("loopdev: undoing %s (its image %s kept): %v", dev, img, err)
		}
	})
	ts.Setenv("LOOPDEV", dev)
	ts.Setenv("LOOPNAME", name)
}

// detachLoop undoes the loop device dev attached to img: it unmounts
// what is mounted from dev or its partitions (found by device number in
// /proc/self/mountinfo, the last mounted first), removes its partitions
// from the kernel and detaches it. A dev attached to another file by now
// is not ours and is left alone. Every step is tried; the errors are
// joined.
func detachLoop(dev, img string) error {
	out, err := exec.Command("losetup", "--noheadings", "-O", "BACK-FILE", "--", dev).Output()
	if err != nil {
		return fmt.Errorf("losetup %s: %v (left attached)", dev, exitMsg(err))
	}
	if real, err := filepath.EvalSymlinks(img); err == nil {
		img = real
	}
	if back := strings.TrimSpace(string(out)); back != img && back != img+" (deleted)" {
		return fmt.Errorf("%s is attached to %q, not this script's %s: left alone", dev, back, img)
	}
	name := filepath.Base(dev)
	var errs []error
	nums := devNumbers(name)
	mounts, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		errs = append(errs, err)
	}
	lines := strings.Split(string(mounts), "\n")
	for _, l := range slices.Backward(lines) {
		f := strings.Fields(l)
		if len(f) < 5 || !slices.Contains(nums, f[2]) {
			continue
		}
		target := unescapeMountinfo(f[4])
		if out, err := exec.Command("umount", "--", target).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("umount %s: %v: %s", target, err, strings.TrimSpace(string(out))))
			exec.Command("umount", "-l", "--", target).Run() // detach it at least
		}
	}
	if len(nums) > 1 {
		if out, err := exec.Command("partx", "-d", "--", dev).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("partx -d %s: %v: %s", dev, err, strings.TrimSpace(string(out))))
		}
	}
	if out, err := exec.Command("losetup", "-d", dev).CombinedOutput(); err != nil {
		errs = append(errs, fmt.Errorf("losetup -d %s: %v: %s", dev, err, strings.TrimSpace(string(out))))
	}
	return errors.Join(errs...)
}

// devNumbers are the MAJOR:MINOR of the block device name and of its
// partitions, from sysfs.
func devNumbers(name string) []string {
	var out []string
	dirs, _ := filepath.Glob("/sys/class/block/" + name + "/" + name + "p*")
	for _, d := range append([]string{"/sys/class/block/" + name}, dirs...) {
		if b, err := os.ReadFile(d + "/dev"); err == nil {
			out = append(out, strings.TrimSpace(string(b)))
		}
	}
	return out
}

// unescapeMountinfo undoes mountinfo's octal escapes (\040 for a space).
func unescapeMountinfo(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// exitMsg is err with what the command said on its standard error.
func exitMsg(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) && len(ee.Stderr) > 0 {
		return fmt.Sprintf("%v: %s", err, strings.TrimSpace(string(ee.Stderr)))
	}
	return err.Error()
}
