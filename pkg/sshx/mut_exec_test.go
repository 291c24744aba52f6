package sshx

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"io"
	"net"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

// startExecServer serves SSH sessions whose commands are "cat" (stdin back
// to stdout, then exit status 0) and "signal NAME [STATUS]" (the exit
// status, if given, then the signal NAME). Any client is let in.
func startExecServer(t *testing.T) string {
	t.Helper()
	_, hostKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(hostKey)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &ssh.ServerConfig{NoClientAuth: true}
	cfg.AddHostKey(signer)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	status := func(n uint32) []byte { return binary.BigEndian.AppendUint32(nil, n) }
	run := func(ch ssh.Channel, command string) {
		defer ch.Close()
		f := strings.Fields(command)
		switch {
		case len(f) == 1 && f[0] == "cat":
			io.Copy(ch, ch)
			ch.SendRequest("exit-status", false, status(0))
		case len(f) >= 2 && f[0] == "signal":
			if len(f) == 3 {
				ch.SendRequest("exit-status", false, status(uint32(len(f[2]))))
			}
			ch.SendRequest("exit-signal", false, ssh.Marshal(struct {
				Signal     string
				CoreDumped bool
				Error      string
				Lang       string
			}{Signal: f[1]}))
		default:
			ch.SendRequest("exit-status", false, status(127))
		}
	}
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				sc, chans, reqs, err := ssh.NewServerConn(conn, cfg)
				if err != nil {
					conn.Close()
					return
				}
				defer sc.Close()
				go ssh.DiscardRequests(reqs)
				for nc := range chans {
					if nc.ChannelType() != "session" {
						nc.Reject(ssh.UnknownChannelType, "no")
						continue
					}
					ch, creqs, err := nc.Accept()
					if err != nil {
						continue
					}
					go func() {
						for req := range creqs {
							var exec struct{ Command string }
							if req.Type != "exec" || ssh.Unmarshal(req.Payload, &exec) != nil {
								req.Reply(false, nil)
								continue
							}
							req.Reply(true, nil)
							go run(ch, exec.Command)
						}
					}()
				}
			}()
		}
	}()
	return l.Addr().String()
}

// TestExecStdinAndSignals: stdin reaches the command, and a command ended
// by a signal exits 128+signal unless the server gave an exit status.
func TestExecStdinAndSignals(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	addr := startExecServer(t)
	p := NewPool(Options{ConfigFiles: []string{writeHostConfig(t, addr, "")}, StrictHostKey: "no"})
	defer p.Close()
	tr := &Transport{Pool: p, Target: Target{Alias: "h", Password: "pw"}}
	tests := []struct {
		command string
		stdin   []byte
		stdout  string
		exit    int
	}{
		{"cat", []byte("to stdin\n"), "to stdin\n", 0},
		{"cat", nil, "", 0},
		{"signal TERM", nil, "", 128 + 15},
		{"signal KILL", nil, "", 128 + 9},
		{"signal HUP", nil, "", 128 + 1},
		{"signal TERM x", nil, "", 1}, // exit status 1, then the signal
		{"signal TERM xxx", nil, "", 3},
	}
	for _, tc := range tests {
		t.Run(tc.command, func(t *testing.T) {
			out, err := tr.Exec(context.Background(), tc.command, tc.stdin, 1<<20)
			if err != nil || string(out.Stdout) != tc.stdout || out.Exit != tc.exit {
				t.Errorf("Exec(%q) = %q exit %d, %v; want %q exit %d", tc.command, out.Stdout, out.Exit, err, tc.stdout, tc.exit)
			}
		})
	}
}
