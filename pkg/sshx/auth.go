package sshx

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/smctl/smctl/pkg/trust"
)

func (p *Pool) clientConfig(s *Settings, t Target) (*ssh.ClientConfig, error) {
	var methods []ssh.AuthMethod
	signers, err := p.signers(s)
	if err != nil {
		return nil, err
	}
	if len(signers) > 0 {
		methods = append(methods, ssh.PublicKeys(signers...))
	}
	if t.Password != "" && s.PasswordAuth && (t.PasswordUser == "" || t.PasswordUser == s.User) {
		pw := t.Password
		methods = append(methods, ssh.Password(pw),
			ssh.KeyboardInteractive(func(name, instruction string, questions []string, echos []bool) ([]string, error) {
				answers := make([]string, len(questions))
				for i := range answers {
					answers[i] = pw
				}
				return answers, nil
			}))
	}
	if len(methods) == 0 {
		return nil, fmt.Errorf("no way to authenticate as %s: no key in ssh-agent or IdentityFile, and no password in ids", s.User)
	}
	hk, algos, err := p.hosts.callback(s)
	if err != nil {
		return nil, err
	}
	return &ssh.ClientConfig{
		User:              s.User,
		Auth:              methods,
		HostKeyCallback:   hk,
		HostKeyAlgorithms: algos,
		Timeout:           s.ConnectTimeout,
		ClientVersion:     "SSH-2.0-smctl",
	}, nil
}

// signers returns the keys to offer: the identity files', then (unless
// IdentitiesOnly) the agent's.
func (p *Pool) signers(s *Settings) ([]ssh.Signer, error) {
	var out []ssh.Signer
	files := s.IdentityFiles
	if len(files) == 0 {
		home := homeDir()
		for _, n := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
			files = append(files, home+"/.ssh/"+n)
		}
	}
	agentSigners := p.agent(s)
	for _, f := range files {
		k := p.key(f)
		if errors.Is(k.err, trust.ErrUntrusted) {
			return nil, fmt.Errorf("IdentityFile: %w", k.err)
		}
		if k.err == nil {
			out = append(out, k.signer)
			continue
		}
		var pp *ssh.PassphraseMissingError
		if errors.As(k.err, &pp) && pp.PublicKey != nil {
			// An encrypted key: use it through the agent if it holds it.
			for _, as := range agentSigners {
				if string(as.PublicKey().Marshal()) == string(pp.PublicKey.Marshal()) {
					out = append(out, as)
				}
			}
		}
	}
	if !s.IdentitiesOnly {
		out = append(out, agentSigners...)
	}
	return out, nil
}

func (p *Pool) key(path string) keyEntry {
	p.keysMu.Lock()
	defer p.keysMu.Unlock()
	if k, ok := p.keys[path]; ok {
		return k
	}
	var k keyEntry
	b, err := trust.ReadFile(path, 1<<20)
	if err != nil {
		k.err = err
	} else {
		k.signer, k.err = ssh.ParsePrivateKey(b)
	}
	p.keys[path] = k
	return k
}

// agent returns the signers of the ssh-agent, read once over one shared
// connection.
func (p *Pool) agent(s *Settings) []ssh.Signer {
	if strings.EqualFold(s.IdentityAgent, "none") {
		return nil
	}
	p.agentOnce.Do(func() {
		sock := os.Getenv("SSH_AUTH_SOCK")
		if s.IdentityAgent != "" && s.IdentityAgent != "SSH_AUTH_SOCK" {
			sock = s.IdentityAgent
		}
		if sock == "" {
			return
		}
		conn, err := net.DialTimeout("unix", sock, 2*time.Second)
		if err != nil {
			return
		}
		p.agentConn = conn
		p.agentSigners, _ = agent.NewClient(conn).Signers()
	})
	return p.agentSigners
}
