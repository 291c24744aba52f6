package testsshd

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"sync"

	"golang.org/x/crypto/ssh"
)

// Sink is a hostile SSH server for adversarial tests: it listens on
// 127.0.0.1, records every password and public key offered to it, one
// "user:password" or "user:key TYPE" line each, in its log, and lets
// nobody in. A test that must not leak credentials asserts the log holds
// none of them; a control run that connects on purpose shows the sink
// would have recorded them.
type Sink struct {
	Port int
	Log  string

	ln   net.Listener
	mu   sync.Mutex
	f    *os.File
	wg   sync.WaitGroup
	conf *ssh.ServerConfig
}

// StartSink starts a sink logging to the file log.
func StartSink(log string) (*Sink, error) {
	f, err := os.OpenFile(log, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		f.Close()
		return nil, err
	}
	s := &Sink{Log: log, f: f}
	s.conf = &ssh.ServerConfig{
		PasswordCallback: func(c ssh.ConnMetadata, pw []byte) (*ssh.Permissions, error) {
			s.record(c.User() + ":" + string(pw))
			return nil, fmt.Errorf("denied")
		},
		PublicKeyCallback: func(c ssh.ConnMetadata, k ssh.PublicKey) (*ssh.Permissions, error) {
			s.record(c.User() + ":key " + k.Type())
			return nil, fmt.Errorf("denied")
		},
	}
	s.conf.AddHostKey(signer)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Close()
		return nil, err
	}
	s.ln = ln
	s.Port = ln.Addr().(*net.TCPAddr).Port
	s.wg.Add(1)
	go s.serve()
	return s, nil
}

func (s *Sink) record(line string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprintln(s.f, line)
}

func (s *Sink) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer c.Close()
			if sc, chans, reqs, err := ssh.NewServerConn(c, s.conf); err == nil {
				go ssh.DiscardRequests(reqs)
				for ch := range chans {
					ch.Reject(ssh.Prohibited, "no")
				}
				sc.Close()
			}
		}()
	}
}

// Stop closes the listener, waits for the connections and closes the log.
func (s *Sink) Stop() error {
	err := s.ln.Close()
	s.wg.Wait()
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	return err
}
