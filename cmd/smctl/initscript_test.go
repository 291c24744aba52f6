package main

import "github.com/rogpeppe/go-internal/testscript"

func cmdInitScript(ts *testscript.TestScript, neg bool, args []string) {
	ts.Fatalf("initscript: not written yet")
}
