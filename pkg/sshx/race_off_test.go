//go:build !race

package sshx

const raceOn = false
