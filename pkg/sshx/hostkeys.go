package sshx

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/skeema/knownhosts"
	"golang.org/x/crypto/ssh"
)

// hostKeys checks server keys against known_hosts files, loaded once per
// set of files, and records keys accepted under accept-new.
type hostKeys struct {
	mu       sync.Mutex
	dbs      map[string]*dbEntry
	accepted map[string]ssh.PublicKey // by normalized host, this process
}

type dbEntry struct {
	db  *knownhosts.HostKeyDB
	err error
}

// ErrHostKeyChanged is wrapped by the error for a key that differs from
// the one known_hosts records.
var ErrHostKeyChanged = errors.New("host key has changed")

// ErrHostKeyUnknown is wrapped by the error for a host with no known key
// under StrictHostKeyChecking yes.
var ErrHostKeyUnknown = errors.New("host key is not known")

func existing(files []string) []string {
	var out []string
	for _, f := range files {
		if st, err := os.Stat(f); err == nil && st.Mode().IsRegular() {
			out = append(out, f)
		}
	}
	return out
}

func (h *hostKeys) db(files []string) (*knownhosts.HostKeyDB, error) {
	key := strings.Join(files, "\x00")
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.dbs == nil {
		h.dbs = map[string]*dbEntry{}
	}
	if e, ok := h.dbs[key]; ok {
		return e.db, e.err
	}
	files = existing(files)
	if len(files) == 0 {
		h.dbs[key] = &dbEntry{}
		return nil, nil
	}
	db, err := knownhosts.NewDB(files...)
	if err != nil {
		err = fmt.Errorf("known_hosts: %w", err)
	}
	h.dbs[key] = &dbEntry{db, err}
	return db, err
}

// callback returns the host key callback for s and the key algorithms
// known_hosts has for the host (so the server offers a key we can check).
func (h *hostKeys) callback(s *Settings) (ssh.HostKeyCallback, []string, error) {
	name := net.JoinHostPort(s.HostName, strconv.Itoa(s.Port))
	if s.HostKeyAlias != "" {
		name = net.JoinHostPort(s.HostKeyAlias, "22")
	}
	files := append(append([]string(nil), s.KnownHostsFiles...), s.GlobalKnownHosts...)
	db, err := h.db(files)
	if err != nil {
		return nil, nil, err
	}
	var algos []string
	if db != nil {
		algos = db.HostKeyAlgorithms(name)
	}
	norm := knownhosts.Normalize(name)
	cb := func(_ string, remote net.Addr, key ssh.PublicKey) error {
		h.mu.Lock()
		acc, ok := h.accepted[norm]
		h.mu.Unlock()
		if ok {
			if string(acc.Marshal()) == string(key.Marshal()) {
				return nil
			}
			return h.changed(s, norm, files)
		}
		var err error = &knownhostsUnknown{}
		if db != nil {
			err = db.HostKeyCallback()(name, remote, key)
		}
		switch {
		case err == nil:
			return nil
		case knownhosts.IsHostKeyChanged(err):
			return h.changed(s, norm, files)
		case knownhosts.IsHostUnknown(err) || errors.As(err, new(*knownhostsUnknown)):
			switch s.StrictHostKey {
			case "no":
				return nil
			case "accept-new":
				return h.accept(s, norm, key)
			}
			return fmt.Errorf("%w for %s (%s): add it to %s, or set StrictHostKeyChecking accept-new", ErrHostKeyUnknown, s.Alias, norm, strings.Join(s.KnownHostsFiles, " or "))
		}
		return err
	}
	return cb, algos, nil
}

type knownhostsUnknown struct{}

func (*knownhostsUnknown) Error() string { return "no known_hosts file" }

func (h *hostKeys) changed(s *Settings, norm string, files []string) error {
	return fmt.Errorf("%w for %s (%s): it is not the key in %s; refusing to connect (if the node was reinstalled, remove its old key there)",
		ErrHostKeyChanged, s.Alias, norm, strings.Join(existing(files), ", "))
}

// accept records a new key in the first user known_hosts file, as
// StrictHostKeyChecking accept-new does.
func (h *hostKeys) accept(s *Settings, norm string, key ssh.PublicKey) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.accepted == nil {
		h.accepted = map[string]ssh.PublicKey{}
	}
	if acc, ok := h.accepted[norm]; ok {
		if string(acc.Marshal()) != string(key.Marshal()) {
			return fmt.Errorf("%w for %s (%s)", ErrHostKeyChanged, s.Alias, norm)
		}
		return nil
	}
	if len(s.KnownHostsFiles) == 0 {
		return fmt.Errorf("accept-new for %s: no UserKnownHostsFile to record the key in", s.Alias)
	}
	file := s.KnownHostsFiles[0]
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("accept-new for %s: %w", s.Alias, err)
	}
	_, err = fmt.Fprintln(f, knownhosts.Line([]string{norm}, key))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("accept-new for %s: %w", s.Alias, err)
	}
	h.accepted[norm] = key
	return nil
}
