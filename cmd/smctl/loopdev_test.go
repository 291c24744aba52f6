package main

import "github.com/rogpeppe/go-internal/testscript"

func cmdLoopdev(ts *testscript.TestScript, neg bool, args []string) {
	ts.Fatalf("loopdev: not written yet")
}
