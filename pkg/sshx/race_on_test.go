//go:build race

package sshx

// raceOn: the tests run under the race detector, which changes what
// allocation counts mean.
const raceOn = true
