// Package creds keeps the user:password pairs of Sysman's ids files
// encrypted at rest.
//
// An ids file in the backing tree holds a header line and the base64 of an
// XChaCha20-Poly1305 sealed box (random 24-byte nonce, then ciphertext) of
// the plain "user:password" lines. The box is bound to the place of the
// file: its virtual directory is the AEAD's additional data, so a copy of
// an ids file in another directory does not decrypt (it cannot lend its
// credentials to devices its author was not given). Files of the first
// format (HeaderV1, bound to nothing) still open, reported as such, so that
// the caller can rewrite them bound to their place. The 32-byte key lives outside the tree in
// a key file that must be private to its owner (mode 0600, like OpenSSH
// private keys), so a copy of the tree leaks nothing. Credentials are looked
// up by inheritance: the nearest ids file walking up from a path wins.
package creds

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"syscall"

	"golang.org/x/crypto/chacha20poly1305"

	"github.com/smctl/smctl/pkg/status"
)

// Header is the first line of every encrypted ids file; HeaderV1 that of
// the first format, not bound to a place.
const (
	Header   = "smctl-ids v2"
	HeaderV1 = "smctl-ids v1"
)

// ErrWrongPlace is wrapped by the error for an ids file that was sealed for
// another directory (or with another key).
var ErrWrongPlace = status.Mark(errors.New("sealed for another place or with another key"), status.ErrUntrusted)

// additional is the AEAD's additional data of an ids file in the virtual
// directory place.
func additional(place string) []byte { return []byte(Header + "\x00" + place) }

// Mask replaces a password when an ids file is shown.
const Mask = "********"

// Pair is one user id and password.
type Pair struct {
	User     string
	Password string
}

// Key is a loaded encryption key.
type Key struct {
	k [chacha20poly1305.KeySize]byte
}

// CreateKey writes a new random key to path with mode 0600. It fails if path
// already exists, so an existing key (and the ids sealed with it) is never
// lost.
func CreateKey(path string) error {
	var k [chacha20poly1305.KeySize]byte
	if _, err := rand.Read(k[:]); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("key file: %w", err)
	}
	_, err = f.Write([]byte(base64.StdEncoding.EncodeToString(k[:]) + "\n"))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// LoadKey reads the key file at path. It refuses a key file that its group
// or others can read.
func LoadKey(path string) (*Key, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("key file %s is missing: ids files cannot be read or written without it (a new key cannot open old ids; restore it or rewrite every ids)", path)
		}
		return nil, fmt.Errorf("key file: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("key file %s has mode %04o: it must be private to its owner (chmod 600 %s)", path, st.Mode().Perm(), path)
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok && sys.Uid != 0 && int(sys.Uid) != os.Geteuid() {
		return nil, fmt.Errorf("key file %s belongs to uid %d: it must be owned by root or by the user running smctl", path, sys.Uid)
	}
	b, err := io.ReadAll(io.LimitReader(f, 4096))
	if err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(raw) != chacha20poly1305.KeySize {
		return nil, fmt.Errorf("key file %s is corrupt: want %d base64-encoded bytes", path, chacha20poly1305.KeySize)
	}
	var k Key
	copy(k.k[:], raw)
	return &k, nil
}

// Parse reads "user:password" lines. Blank lines and lines starting with
// '#' are ignored. The password is everything after the first colon.
func Parse(plain []byte) ([]Pair, error) {
	var out []Pair
	sc := bufio.NewScanner(bytes.NewReader(plain))
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		user, pass, ok := strings.Cut(line, ":")
		if !ok || user == "" {
			return nil, fmt.Errorf("line %d: want user:password", n)
		}
		if strings.ContainsAny(user, " \t") {
			return nil, fmt.Errorf("line %d: user %q contains white space", n, user)
		}
		out = append(out, Pair{User: user, Password: pass})
	}
	if len(out) == 0 {
		return nil, errors.New("no user:password pair")
	}
	return out, nil
}

func format(pairs []Pair, mask bool) []byte {
	var b bytes.Buffer
	for _, p := range pairs {
		pw := p.Password
		if mask {
			pw = Mask
		}
		fmt.Fprintf(&b, "%s:%s\n", p.User, pw)
	}
	return b.Bytes()
}

// Masked renders pairs for display: each user with its password replaced by
// Mask.
func Masked(pairs []Pair) []byte { return format(pairs, true) }

// Seal encrypts pairs for storing in the ids file of the virtual directory
// place (e.g. "/systems/servers/n1"; "/" for the root).
func (k *Key) Seal(pairs []Pair, place string) ([]byte, error) {
	aead, err := chacha20poly1305.NewX(k.k[:])
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(pairs)*32+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	box := aead.Seal(nonce, nonce, format(pairs, false), additional(place))
	return []byte(Header + "\n" + base64.StdEncoding.EncodeToString(box) + "\n"), nil
}

// Open decrypts the content of the ids file of the virtual directory place.
// old reports a file of the first format (not bound to a place), which the
// caller should rewrite with Seal.
func (k *Key) Open(data []byte, place string) (pairs []Pair, old bool, err error) {
	head, body, ok := strings.Cut(string(data), "\n")
	var ad []byte
	switch {
	case ok && head == Header:
		ad = additional(place)
	case ok && head == HeaderV1:
		ad, old = []byte(HeaderV1), true
	default:
		return nil, false, errors.New("corrupt ids file: missing header (ids files are written by smctl, not by hand)")
	}
	box, err := base64.StdEncoding.DecodeString(strings.TrimSpace(body))
	if err != nil {
		return nil, false, errors.New("corrupt ids file: bad encoding")
	}
	aead, err := chacha20poly1305.NewX(k.k[:])
	if err != nil {
		return nil, false, err
	}
	if len(box) < aead.NonceSize()+aead.Overhead() {
		return nil, false, errors.New("corrupt ids file: too short")
	}
	plain, err := aead.Open(nil, box[:aead.NonceSize()], box[aead.NonceSize():], ad)
	if err != nil {
		if old {
			return nil, false, errors.New("corrupt ids file or wrong key file: authentication failed")
		}
		return nil, false, fmt.Errorf("ids file of %s: %w: a copy of an ids file does not work elsewhere; write the credentials here with smctl write %s --prompt USER",
			place, ErrWrongPlace, strings.TrimSuffix(place, "/")+"/ids")
	}
	pairs, err = Parse(plain)
	return pairs, old, err
}
