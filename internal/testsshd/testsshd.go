// Package testsshd runs a private OpenSSH sshd on 127.0.0.1 for tests and
// benchmarks: its own config, host key and authorized key in a directory,
// MaxStartups raised, fast key exchange, SFTP (sshd's own internal-sftp,
// for smctl cp and scp), and (when run as root) a login user of its own
// whose shell reads no rc files, with a random password for
// password-authentication tests. It never touches a system sshd.
package testsshd

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/smctl/smctl/pkg/sim"
)

// SSHD is where sshd must be: it re-executes itself by absolute path.
const SSHD = "/usr/sbin/sshd"

// TestUser begins the name of the login created for each server when
// running as root: TestUser, the PID of the test process and a count
// (smctltest4242x3), so that scripts running at once each have their own
// and a user left by a run that died is known by its PID.
const TestUser = "smctltest"

var userCount atomic.Int64

// userComment marks the login user as made by these tests.
const userComment = "smctl tests"

// HostKeyAlias is the known_hosts name of the server's key.
const HostKeyAlias = "smctl-test-sshd"

// Server is a running sshd.
type Server struct {
	Dir        string
	Port       int
	User       string
	Password   string // empty unless a test user was made (root only)
	ConfigFile string // client ssh_config: Host blocks for the names, then Host *
	KnownHosts string
	KeyFile    string
	HostKey    ssh.PublicKey
	Names      []string

	cmd         *exec.Cmd
	createdUser bool
}

// Available reports whether sshd is installed.
func Available() bool {
	_, err := os.Stat(SSHD)
	return err == nil
}

// Start starts sshd for the given host names (all mapped to
// 127.0.0.1:port), with its files and the client's in a new directory that
// the login user can read (sshd reads authorized_keys as that user); Stop
// removes it.
func Start(names []string) (*Server, error) { return StartWith(names, Options{}) }

// Options change how StartWith starts sshd.
type Options struct {
	// Private runs sshd in UTS and mount namespaces of its own, with a
	// tmpfs over /etc/sysctl.d, and a stand-in for shutdown(8) that
	// records its arguments in Dir/sbin/shutdown.args bound over every
	// shutdown of the machine's and first on PATH (privateNS): its
	// sessions' writes of kernel.hostname, kernel.domainname and
	// /etc/sysctl.d change nothing of the machine's, and no session can
	// shut it down.
	Private bool
	// Root logs in as root (when the test runs as root) rather than as a
	// login of the test's own.
	Root bool
}

// privateNS is the prefix that runs sshd in UTS and mount namespaces of
// its own, with a tmpfs over /etc/sysctl.d, $SMCTL_SSHD_SBIN over
// /usr/local/sbin and its shutdown over the machine's: what its sessions
// change of the host name, the domain name and the persistent kernel
// parameters stays there, and their shutdown is the stand-in (unshare
// execs, so the PID is sshd's).
var privateNS = []string{"unshare", "--uts", "--mount", "--propagation", "private", "/bin/sh", "-c",
	`[ -d /etc/sysctl.d ] && mount -t tmpfs smctl-test /etc/sysctl.d && mount --bind "$SMCTL_SSHD_SBIN" /usr/local/sbin &&
	for f in /usr/sbin/shutdown /sbin/shutdown /bin/shutdown /usr/bin/shutdown; do
		if [ -e "$f" ]; then mount --bind "$SMCTL_SSHD_SBIN/shutdown" "$f" || exit 1; fi
	done && exec "$0" "$@"`}

// StartWith is Start with opts.
func StartWith(names []string, opts Options) (*Server, error) {
	if !Available() {
		return nil, fmt.Errorf("%s not found (apt-get install openssh-server)", SSHD)
	}
	dir, err := os.MkdirTemp("", "smctl-sshd-")
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	s := &Server{Dir: dir, Names: names}
	if opts.Root && os.Geteuid() == 0 {
		s.User = "root"
	} else if err := s.setupUser(); err != nil {
		return nil, err
	}
	hostPub, hostPriv, _ := ed25519.GenerateKey(rand.Reader)
	if err := writeKey(filepath.Join(dir, "ssh_host_ed25519_key"), hostPriv); err != nil {
		return nil, err
	}
	s.HostKey, _ = ssh.NewPublicKey(hostPub)
	clientPub, clientPriv, _ := ed25519.GenerateKey(rand.Reader)
	s.KeyFile = filepath.Join(dir, "id_ed25519")
	if err := writeKey(s.KeyFile, clientPriv); err != nil {
		return nil, err
	}
	cpub, _ := ssh.NewPublicKey(clientPub)
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), ssh.MarshalAuthorizedKey(cpub), 0o644); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s.Port = port
	cfg := fmt.Sprintf(`ListenAddress 127.0.0.1:%d
HostKey %s/ssh_host_ed25519_key
PidFile none
AuthorizedKeysFile %s/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication yes
KbdInteractiveAuthentication no
PermitEmptyPasswords no
PermitRootLogin prohibit-password
UsePAM no
StrictModes no
MaxStartups 10000
MaxSessions 1000
LoginGraceTime 60
UseDNS no
PrintMotd no
PrintLastLog no
X11Forwarding no
AllowAgentForwarding no
AllowTcpForwarding yes
PermitTunnel no
LogLevel ERROR
SetEnv SHLVL=1
KexAlgorithms curve25519-sha256,curve25519-sha256@libssh.org
Subsystem sftp internal-sftp
`, port, dir, dir)
	sc := filepath.Join(dir, "sshd_config")
	if err := os.WriteFile(sc, []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	if os.Geteuid() == 0 {
		_ = os.MkdirAll("/run/sshd", 0o755) // privilege separation directory
	}
	if out, err := exec.Command(SSHD, "-t", "-f", sc).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("sshd -t: %v: %s", err, out)
	}
	argv := []string{SSHD, "-D", "-e", "-f", sc}
	if opts.Private {
		argv = append(slices.Clone(privateNS), argv...)
	}
	s.cmd = exec.Command(argv[0], argv[1:]...)
	if opts.Private {
		sbin := filepath.Join(dir, "sbin")
		if err := os.Mkdir(sbin, 0o755); err != nil {
			return nil, err
		}
		standIn := "#!/bin/sh\n# smctl test stand-in for shutdown(8): records, shuts nothing down\necho \"$@\" >> " + filepath.Join(sbin, "shutdown.args") + "\n"
		if err := os.WriteFile(filepath.Join(sbin, "shutdown"), []byte(standIn), 0o755); err != nil {
			return nil, err
		}
		s.cmd.Env = append(os.Environ(), "SMCTL_SSHD_SBIN="+sbin)
	}
	log, err := os.Create(filepath.Join(dir, "sshd.log"))
	if err != nil {
		return nil, err
	}
	s.cmd.Stdout, s.cmd.Stderr = log, log
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := s.cmd.Start(); err != nil {
		log.Close()
		return nil, err
	}
	log.Close()
	if err := s.waitListening(); err != nil {
		s.Stop()
		b, _ := os.ReadFile(filepath.Join(dir, "sshd.log"))
		return nil, fmt.Errorf("%w: %s", err, b)
	}
	if err := s.writeClientFiles(); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

func (s *Server) setupUser() error {
	if os.Geteuid() != 0 {
		u, err := user.Current()
		if err != nil {
			return err
		}
		s.User = u.Username
		return nil
	}
	removeDeadUsers()
	s.User = fmt.Sprintf("%s%dx%d", TestUser, os.Getpid(), userCount.Add(1))
	// A user of our own: /bin/sh reads no rc files for "ssh host cmd".
	out, err := exec.Command("useradd", "--no-create-home", "--home-dir", "/", "--shell", "/bin/sh", "--comment", userComment, s.User).CombinedOutput()
	if err != nil {
		return fmt.Errorf("useradd %s: %v: %s", s.User, err, out)
	}
	s.createdUser = true
	var b [12]byte
	rand.Read(b[:])
	s.Password = hex.EncodeToString(b[:])
	cmd := exec.Command("chpasswd")
	cmd.Stdin = strings.NewReader(s.User + ":" + s.Password + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("chpasswd: %v: %s", err, out)
	}
	return nil
}

func writeKey(path string, k ed25519.PrivateKey) error {
	block, err := ssh.MarshalPrivateKey(k, "smctl test")
	if err != nil {
		return err
	}
	return os.WriteFile(path, pem.EncodeToMemory(block), 0o600)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (s *Server) waitListening() error {
	exited := make(chan error, 1)
	go func() { exited <- s.cmd.Wait() }()
	for i := 0; i < 200; i++ {
		select {
		case err := <-exited:
			s.cmd = nil
			return fmt.Errorf("sshd exited: %v", err)
		default:
		}
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", s.Port), 100*time.Millisecond)
		if err == nil {
			c.Close()
			go func() { <-exited }()
			return nil
		}
		time.Sleep(25 * time.Millisecond)
	}
	return errors.New("sshd did not listen within 5s")
}

func (s *Server) writeClientFiles() error {
	s.KnownHosts = filepath.Join(s.Dir, "known_hosts")
	kh := HostKeyAlias + " " + string(ssh.MarshalAuthorizedKey(s.HostKey))
	if err := os.WriteFile(s.KnownHosts, []byte(kh), 0o644); err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# private test sshd: %d names -> 127.0.0.1:%d\n", len(s.Names), s.Port)
	for _, n := range s.Names {
		fmt.Fprintf(&b, "Host %s\n  HostName 127.0.0.1\n  Port %d\n", n, s.Port)
	}
	b.WriteString(sim.TrustBlock(s.User, s.KeyFile, HostKeyAlias, s.KnownHosts))
	s.ConfigFile = filepath.Join(s.Dir, "ssh_config")
	return os.WriteFile(s.ConfigFile, []byte(b.String()), 0o644)
}

// Stop stops sshd by its PID (its per-connection children end with their
// connections) and removes the test user if Start made it.
func (s *Server) Stop() error {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() {
			for i := 0; i < 100; i++ {
				if err := s.cmd.Process.Signal(syscall.Signal(0)); err != nil {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			close(done)
		}()
		<-done
		_ = s.cmd.Process.Kill()
		s.cmd = nil
	}
	if s.createdUser {
		// -f: a session child may outlive sshd by a moment.
		if out, err := exec.Command("userdel", "-f", s.User).CombinedOutput(); err != nil {
			return fmt.Errorf("userdel %s: %v: %s", s.User, err, out)
		}
		s.createdUser = false
	}
	return os.RemoveAll(s.Dir)
}

// removeDeadUsers removes the logins these tests made in a process that
// is gone (a run that was killed before its Stop).
func removeDeadUsers() {
	b, err := os.ReadFile("/etc/passwd")
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Split(line, ":")
		if len(f) < 5 || f[4] != userComment {
			continue
		}
		var pid, n int
		if _, err := fmt.Sscanf(f[0], TestUser+"%dx%d", &pid, &n); err != nil && f[0] != TestUser {
			continue
		}
		if pid != 0 && syscall.Kill(pid, 0) == nil {
			continue // its process is alive: its own Stop removes it
		}
		_ = exec.Command("userdel", "-f", f[0]).Run()
	}
}
