package transport

import (
	"context"
	"errors"
	"io"
	"net"
	"path/filepath"
	"testing"
)

// TestDialUnix: Local dials the socket itself; a transport that cannot
// says so with errors.ErrUnsupported; a Broken one gives its reason.
func TestDialUnix(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "s")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		if c, err := l.Accept(); err == nil {
			c.Write([]byte("hi"))
			c.Close()
		}
	}()
	c, err := DialUnix(context.Background(), Local{}, sock)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(c); err != nil || string(b) != "hi" {
		t.Errorf("read %q, %v", b, err)
	}
	c.Close()
	type plain struct{ Transport }
	if _, err := DialUnix(context.Background(), plain{}, sock); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("a transport without DialUnix: %v", err)
	}
	why := errors.New("no such transport")
	if _, err := DialUnix(context.Background(), Broken{Err: why}, sock); !errors.Is(err, why) {
		t.Errorf("Broken: %v", err)
	}
}
