package checks

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/smctl/smctl/pkg/check"
	"github.com/smctl/smctl/pkg/trust"
)

// The states of checks are kept outside the tree, in the state root's
// directory StateDir: ROOT/checks/DEVICE/NAME.state, DEVICE the device's
// virtual path (ROOT/checks/systems/servers/n1/ssh.state), each file one
// line of check.Status.MarshalText. smctl serve, running as the owner of
// the state root, writes them (SaveStatus: directories 0755, files 0644,
// replaced whole by a rename); anyone may read them. A state decides
// recovery actions, so LoadStatus believes only one that nobody less
// trusted could have written: the file and every directory from the
// state root down to it are judged by package trust, as opened, with no
// symlink followed below the root.

// StateDir is the state root's directory of check states.
const StateDir = "checks"

// maxStateFile bounds what LoadStatus reads: a status line is well under.
const maxStateFile = 4096

// LoadStatus implements driver.Checker with the driver's state root.
func (d *Driver) LoadStatus(device, name string) (check.Status, bool, error) {
	return LoadStatus(d.root, device, name)
}

// SaveStatus implements driver.Checker with the driver's state root.
func (d *Driver) SaveStatus(device, name string, st check.Status) error {
	return SaveStatus(d.root, device, name, st)
}

// LoadStatus returns the status kept for check name of the device at
// virtual path device under the state root root, and false (with no
// error) when none is kept. A file or directory on the way that is not
// trusted, a symlink or a malformed status is an error naming it.
func LoadStatus(root, device, name string) (check.Status, bool, error) {
	fail := func(err error) (check.Status, bool, error) {
		return check.Status{}, false, fmt.Errorf("device %s: check %s: state: %w", device, name, err)
	}
	elems, file, err := statePath(root, device, name)
	if err != nil {
		return fail(err)
	}
	fd, where, ok, err := walk(root, elems, false)
	if err != nil {
		return fail(err)
	}
	if !ok {
		return check.Status{}, false, nil
	}
	defer syscall.Close(fd)
	ffd, err := syscall.Openat(fd, file, syscall.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	p := filepath.Join(where, file)
	switch {
	case errors.Is(err, syscall.ENOENT):
		return check.Status{}, false, nil
	case errors.Is(err, syscall.ELOOP):
		return fail(fmt.Errorf("%s is a symlink", p))
	case err != nil:
		return fail(&os.PathError{Op: "open", Path: p, Err: err})
	}
	f := os.NewFile(uintptr(ffd), p)
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fail(err)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); !fi.Mode().IsRegular() || !ok || st.Nlink != 1 {
		return fail(fmt.Errorf("%s is not a regular file with one link", p))
	}
	if err := trust.Info(p, fi); err != nil {
		return fail(err)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxStateFile))
	if err != nil {
		return fail(err)
	}
	var st check.Status
	if err := st.UnmarshalText(b); err != nil {
		return fail(fmt.Errorf("%s: %w", p, err))
	}
	return st, true, nil
}

// tmpSeq numbers the temporary files of SaveStatus within a process.
var tmpSeq atomic.Int64

// SaveStatus keeps st as the status of check name of the device at
// virtual path device under the state root root, making the directories
// it needs (0755); the file (0644) is replaced whole. It refuses to write
// where a directory on the way is not trusted.
func SaveStatus(root, device, name string, st check.Status) error {
	fail := func(err error) error {
		return fmt.Errorf("device %s: check %s: saving its state: %w", device, name, err)
	}
	text, err := st.MarshalText()
	if err != nil {
		return fail(err)
	}
	elems, file, err := statePath(root, device, name)
	if err != nil {
		return fail(err)
	}
	fd, where, _, err := walk(root, elems, true)
	if err != nil {
		return fail(err)
	}
	defer syscall.Close(fd)
	tmp := "." + file + "." + strconv.Itoa(os.Getpid()) + "." + strconv.FormatInt(tmpSeq.Add(1), 10)
	tfd, err := syscall.Openat(fd, tmp, syscall.O_WRONLY|syscall.O_CREAT|syscall.O_EXCL|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0o644)
	if err != nil {
		return fail(&os.PathError{Op: "create", Path: filepath.Join(where, tmp), Err: err})
	}
	f := os.NewFile(uintptr(tfd), filepath.Join(where, tmp))
	err = f.Chmod(0o644) // whatever the umask
	if err == nil {
		_, err = f.Write(append(text, '\n'))
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = syscall.Renameat(fd, tmp, fd, file)
	}
	if err != nil {
		syscall.Unlinkat(fd, tmp)
		return fail(&os.PathError{Op: "write", Path: filepath.Join(where, file), Err: err})
	}
	return nil
}

// statePath returns the directories below root (StateDir, then the
// device's path) and the file name of check name's state.
func statePath(root, device, name string) ([]string, string, error) {
	switch {
	case root == "":
		return nil, "", errors.New("no state root")
	case !ValidName(name):
		return nil, "", fmt.Errorf("bad check name %q", name)
	case !strings.HasPrefix(device, "/") || path.Clean(device) != device:
		return nil, "", fmt.Errorf("bad device path %q", device)
	}
	elems := []string{StateDir}
	for _, el := range strings.Split(device[1:], "/") {
		switch {
		case el == "":
		case el[0] == '.' || strings.ContainsRune(el, 0):
			return nil, "", fmt.Errorf("bad device path %q", device)
		default:
			elems = append(elems, el)
		}
	}
	return elems, name + StateSuffix, nil
}

// walk opens root and, one at a time, the directories elems below it,
// never through a symlink, judging each as opened; with create it makes
// those missing (0755). It returns the last one's descriptor and path,
// or false when one is missing.
func walk(root string, elems []string, create bool) (int, string, bool, error) {
	fd, err := syscall.Open(root, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return -1, "", false, &os.PathError{Op: "open", Path: root, Err: err}
	}
	where := root
	for i := 0; ; i++ {
		var st syscall.Stat_t
		if err := syscall.Fstat(fd, &st); err != nil {
			syscall.Close(fd)
			return -1, "", false, &os.PathError{Op: "stat", Path: where, Err: err}
		}
		if err := trust.Dir(where, &st); err != nil {
			syscall.Close(fd)
			return -1, "", false, err
		}
		if i == len(elems) {
			return fd, where, true, nil
		}
		const flags = syscall.O_RDONLY | syscall.O_DIRECTORY | syscall.O_NOFOLLOW | syscall.O_CLOEXEC
		next := filepath.Join(where, elems[i])
		nfd, err := syscall.Openat(fd, elems[i], flags, 0)
		if errors.Is(err, syscall.ENOENT) && create {
			err = syscall.Mkdirat(fd, elems[i], 0o755)
			made := err == nil
			if made || errors.Is(err, syscall.EEXIST) {
				if nfd, err = syscall.Openat(fd, elems[i], flags, 0); err == nil && made {
					syscall.Fchmod(nfd, 0o755) // whatever the umask
				}
			}
		}
		syscall.Close(fd)
		switch {
		case errors.Is(err, syscall.ENOENT) && !create:
			return -1, "", false, nil
		case errors.Is(err, syscall.ELOOP) || errors.Is(err, syscall.ENOTDIR):
			return -1, "", false, fmt.Errorf("%s is not a directory (a symlink?)", next)
		case err != nil:
			return -1, "", false, &os.PathError{Op: "open", Path: next, Err: err}
		}
		fd, where = nfd, next
	}
}
