package sshx

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/skeema/knownhosts"
	"golang.org/x/crypto/ssh"

	"github.com/smctl/smctl/pkg/trust"
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

// existing returns the files that exist as regular files; one that others
// may change (or owned by another user) is an error, judged on the open
// file, since it decides which servers are believed.
func existing(files []string) ([]string, error) {
	var out []string
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			continue
		}
		st, err := fh.Stat()
		if err == nil && st.Mode().IsRegular() {
			err = trust.Info(f, st)
			if err == nil {
				out = append(out, f)
			}
		}
		fh.Close()
		if errors.Is(err, trust.ErrUntrusted) {
			return nil, fmt.Errorf("known_hosts: %w", err)
		}
	}
	return out, nil
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
	files, err := existing(files)
	if err != nil {
		h.dbs[key] = &dbEntry{err: err}
		return nil, err
	}
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
	ex, _ := existing(files)
	return fmt.Errorf("%w for %s (%s): it is not the key in %s; refusing to connect (if the node was reinstalled, remove its old key there)",
		ErrHostKeyChanged, s.Alias, norm, strings.Join(ex, ", "))
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
	f, err := openKnownHosts(file)
	if err != nil {
		return fmt.Errorf("accept-new for %s: %w", s.Alias, err)
	}
	if f == nil { // UserKnownHostsFile /dev/null: nothing is recorded
		h.accepted[norm] = key
		return nil
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

// ErrNotKnownHosts is wrapped by the error for a UserKnownHostsFile that
// smctl will not write a host key into.
var ErrNotKnownHosts = errors.New("not a known_hosts file smctl may write")

// openKnownHosts opens file for appending a host key. It writes only a
// known_hosts file: a regular file with one link owned by the running user,
// or a new one (its directory created 0700, as ssh does for ~/.ssh); never
// through a symlink, and never a file named like authorized_keys. A
// character device (OpenSSH's idiom UserKnownHostsFile /dev/null) returns
// nil: nothing is recorded.
func openKnownHosts(file string) (*os.File, error) {
	if strings.HasPrefix(filepath.Base(file), "authorized_keys") {
		return nil, fmt.Errorf("%s: %w (it is named like an authorized_keys file)", file, ErrNotKnownHosts)
	}
	if st, err := os.Stat(file); err == nil && st.Mode()&fs.ModeCharDevice != 0 {
		return nil, nil
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_APPEND|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0o600)
	if err != nil {
		if errors.Is(err, syscall.ELOOP) {
			return nil, fmt.Errorf("%s: %w (it is a symlink)", file, ErrNotKnownHosts)
		}
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	switch {
	case st.Mode()&fs.ModeCharDevice != 0:
		f.Close()
		return nil, nil
	case !st.Mode().IsRegular() || !ok:
		f.Close()
		return nil, fmt.Errorf("%s: %w (not a regular file)", file, ErrNotKnownHosts)
	case int(sys.Uid) != os.Geteuid():
		f.Close()
		return nil, fmt.Errorf("%s: %w (owned by uid %d, not by the running user)", file, ErrNotKnownHosts, sys.Uid)
	case sys.Nlink != 1:
		f.Close()
		return nil, fmt.Errorf("%s: %w (it has %d hard links)", file, ErrNotKnownHosts, sys.Nlink)
	case st.Mode().Perm()&0o022 != 0:
		f.Close()
		return nil, fmt.Errorf("%s: %w (mode %04o: writable by group or others)", file, ErrNotKnownHosts, st.Mode().Perm())
	}
	return f, nil
}
