package doctor

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"syscall"

	"golang.org/x/crypto/ssh"

	"github.com/smctl/smctl/pkg/creds"
	"github.com/smctl/smctl/pkg/sshx"
	"github.com/smctl/smctl/pkg/trust"
)

// checkKey checks the key file that encrypts ids files, as the tree will
// load it: present, private to its owner, owned by root or the running
// user, and a key. ids is how many ids files the tree holds: without the
// key they cannot be decrypted, an error; with none, a missing key is a
// warning (the first ids written will need one).
func checkKey(path string, ids int) []Finding {
	subject := "key file " + path
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist) && ids > 0:
		return []Finding{{Error, subject, fmt.Sprintf("missing: %d ids files cannot be decrypted (restore the key: a new one cannot open them)", ids)}}
	case errors.Is(err, fs.ErrNotExist):
		return []Finding{{Warn, subject, fmt.Sprintf("missing: ids files cannot be decrypted or written until there is one ((umask 077; head -c 32 /dev/urandom | base64 > %s), or set $SMCTL_KEY_FILE)", path)}}
	case err != nil:
		return []Finding{{Error, subject, err.Error()}}
	case fi.Mode().Perm()&0o077 != 0:
		return []Finding{{Error, subject, fmt.Sprintf("mode %04o: others than its owner may read it, so ids files cannot be decrypted (chmod 600 %s)", fi.Mode().Perm(), path)}}
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid != 0 && int(st.Uid) != os.Geteuid() {
		return []Finding{{Error, subject, fmt.Sprintf("owned by uid %d, neither root nor the user running smctl: ids files cannot be decrypted", st.Uid)}}
	}
	if _, err := creds.LoadKey(path); err != nil {
		return []Finding{{Error, subject, err.Error()}}
	}
	return []Finding{{OK, subject, fmt.Sprintf("private (%04o), %d ids files", fi.Mode().Perm(), ids)}}
}

// defaultKnownHosts are the known_hosts files OpenSSH's configuration
// names for a host it has no block of its own for, and an error when that
// configuration cannot be read.
func defaultKnownHosts() ([]string, error) {
	p := sshx.NewPool(sshx.Options{})
	defer p.Close()
	s, err := p.Settings(sshx.Target{Alias: "smctl-doctor.invalid"})
	if err != nil {
		return nil, err
	}
	return append(s.KnownHostsFiles, s.GlobalKnownHosts...), nil
}

// checkKnownHosts checks the known_hosts files that exist among files
// (nil: defaultKnownHosts): trusted (smctl refuses every host key check
// otherwise), every line an entry, and how many hosts they know. None at
// all is a warning: SSH nodes are refused until their keys are known.
func checkKnownHosts(files []string) []Finding {
	var out []Finding
	if files == nil {
		var err error
		if files, err = defaultKnownHosts(); err != nil {
			return []Finding{{Error, "ssh_config", err.Error()}}
		}
	}
	found := 0
	for _, f := range files {
		fi, err := judge(f)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		found++
		var te *trust.Error
		switch {
		case errors.As(err, &te):
			out = append(out, Finding{Error, "known_hosts " + f, untrusted(te, f) + ": smctl refuses every SSH host key until it is fixed"})
			continue
		case err != nil:
			out = append(out, Finding{Error, "known_hosts " + f, err.Error()})
			continue
		case !fi.Mode().IsRegular():
			out = append(out, Finding{Error, "known_hosts " + f, "not a regular file"})
			continue
		}
		n, err := countHosts(f)
		if err != nil {
			out = append(out, Finding{Error, "known_hosts " + f, err.Error()})
			continue
		}
		out = append(out, Finding{OK, "known_hosts", fmt.Sprintf("%d hosts in %s", n, f)})
	}
	if found == 0 {
		where := "none configured"
		if len(files) > 0 {
			where = files[0]
			if len(files) > 1 {
				where += fmt.Sprintf(" or %d others", len(files)-1)
			}
		}
		out = append(out, Finding{Warn, "known_hosts", fmt.Sprintf("no file (%s): SSH nodes whose ssh_config names none of their own are refused until their host keys are known (ssh-keyscan, or strict_host_key_checking: accept-new in smctl.yaml)", where)})
	}
	return out
}

// countHosts counts the hosts the known_hosts file f knows (a line may
// name several; @revoked lines name none), failing at the first line that
// is not an entry, as smctl's SSH client would.
func countHosts(f string) (int, error) {
	fh, err := os.Open(f)
	if err != nil {
		return 0, err
	}
	defer fh.Close()
	hosts := map[string]bool{}
	sc := bufio.NewScanner(fh)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		marker, hs, _, _, _, err := ssh.ParseKnownHosts([]byte(l))
		if err != nil {
			return 0, fmt.Errorf("line %d: %v", n, err)
		}
		if marker == "revoked" {
			continue
		}
		for _, h := range hs {
			hosts[h] = true
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return len(hosts), nil
}
