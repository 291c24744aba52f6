package doctor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/smctl/smctl/pkg/status"
	"github.com/smctl/smctl/pkg/transport"
	"github.com/smctl/smctl/pkg/vtree"
)

func TestSpread(t *testing.T) {
	devs := make([]string, 2000)
	for i := range devs {
		devs[i] = fmt.Sprintf("n%04d", i)
	}
	for _, tc := range []struct {
		devs []string
		n    int
		want []string
	}{
		{devs, 4, []string{"n0000", "n0500", "n1000", "n1500"}},
		{devs, 1, []string{"n0000"}},
		{devs[:3], 10, devs[:3]},
		{devs[:3], 3, devs[:3]},
		{devs[:10], 3, []string{"n0000", "n0003", "n0006"}},
	} {
		got := spread(tc.devs, tc.n)
		if !slices.Equal(got, tc.want) {
			t.Errorf("spread(%d devices, %d) = %v, want %v", len(tc.devs), tc.n, got, tc.want)
		}
	}
	// Evenly: a sample of 10 of 2000 is 200 apart, and the same each time.
	got := spread(devs, 10)
	for i, d := range got {
		if d != devs[i*200] {
			t.Errorf("sample %d is %s, want %s", i, d, devs[i*200])
		}
	}
}

func TestNodeNames(t *testing.T) {
	got := nodeNames([]string{"/systems/servers/n1", "/systems/chassis/c1/blades/3", "/systems/chassis/c2/blades/3"})
	want := []string{"n1", "/systems/chassis/c1/blades/3", "/systems/chassis/c2/blades/3"}
	if !slices.Equal(got, want) {
		t.Errorf("nodeNames = %v, want %v", got, want)
	}
}

func TestMedian(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		ds   []time.Duration
		want string
	}{
		{[]time.Duration{12 * ms}, "12 ms"},
		{[]time.Duration{30 * ms, 10 * ms, 20 * ms}, "20 ms"},
		{[]time.Duration{10 * ms, 40 * ms, 20 * ms, 30 * ms}, "25 ms"},
		{[]time.Duration{1500 * time.Microsecond}, "1.5 ms"},
		{[]time.Duration{2 * time.Second}, "2000 ms"},
	} {
		if got := millis(median(tc.ds)); got != tc.want {
			t.Errorf("median of %v = %s, want %s", tc.ds, got, tc.want)
		}
	}
}

// fakeTransport answers Exec with what it is given and records the
// commands; it lists nothing.
type fakeTransport struct {
	out transport.Output
	err error

	mu   sync.Mutex
	cmds []string
}

func (f *fakeTransport) Exec(ctx context.Context, command string, stdin []byte, maxOut int64) (transport.Output, error) {
	f.mu.Lock()
	f.cmds = append(f.cmds, command)
	f.mu.Unlock()
	return f.out, f.err
}

func (f *fakeTransport) ReadFile(context.Context, string, int64) ([]byte, error) {
	return nil, errors.New("fakeTransport reads no file")
}

func (f *fakeTransport) ReadDir(context.Context, string) ([]transport.Entry, error) {
	return nil, errors.New("fakeTransport lists no directory")
}

func (f *fakeTransport) Stat(context.Context, string) (transport.Entry, error) {
	return transport.Entry{}, errors.New("fakeTransport stats nothing")
}

// transporting is a tree whose devices' transport is tr, or fails with
// err.
type transporting struct {
	*vtree.Tree
	tr  *fakeTransport
	err error
}

func (w *transporting) Transport(ctx context.Context, dev string) (transport.Transport, error) {
	if w.err != nil {
		return nil, w.err
	}
	return w.tr, nil
}

// TestProbe: a sampled device has "true" run through its transport, and
// nothing else.
func TestProbe(t *testing.T) {
	for _, tc := range []struct {
		name string
		out  transport.Output
		err  error // of Exec
		terr error // of Transport
		want want
	}{
		{"answers", transport.Output{}, nil, nil, want{OK, "nodes", "1 of 1 sampled answered (median "}},
		{"its shell fails", transport.Output{Exit: 127, Stderr: []byte("sh: true: not found\nmore\n")}, nil, nil,
			want{Error, "nodes", "localhost failed: true exited 127: sh: true: not found"}},
		{"unreachable", transport.Output{}, status.Mark(errors.New("dial tcp: connection refused"), status.ErrUnreachable), nil,
			want{Error, "nodes", "localhost unreachable: dial tcp: connection refused"}},
		{"no transport", transport.Output{}, nil, status.Mark(errors.New("no route to host"), status.ErrUnreachable),
			want{Error, "nodes", "localhost unreachable: no route to host"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := newRoot(t)
			o := options(dir)
			vt, err := o.Open()
			if err != nil {
				t.Fatal(err)
			}
			defer vt.Close()
			ft := &fakeTransport{out: tc.out, err: tc.err}
			tree := &transporting{Tree: vt, tr: ft, err: tc.terr}
			got := checkNodes(context.Background(), tree, []string{"/systems/servers/localhost"}, o)
			errs := 0
			if tc.want.level == Error {
				errs = 2 // the device's and the summary's
			}
			expect(t, got, dir, errs, 0, tc.want)
			if tc.terr == nil && !slices.Equal(ft.cmds, []string{"true"}) {
				t.Errorf("commands run: %q, want [true]", ft.cmds)
			}
		})
	}
}

// TestCheckStops: a loop that stops early ends the check there.
func TestCheckStops(t *testing.T) {
	dir := newRoot(t)
	n := 0
	for f := range Check(context.Background(), options(dir, knownHosts(t, 1))) {
		n++
		if f.Subject != "config" {
			t.Errorf("first finding %q, want the configuration's", f)
		}
		break
	}
	if n != 1 {
		t.Errorf("%d findings before the loop stopped, want 1", n)
	}
}

// TestInterrupted: a sample cut short names its nodes interrupted.
func TestInterrupted(t *testing.T) {
	dir := newRoot(t)
	o := options(dir)
	vt, err := o.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer vt.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	got := checkNodes(ctx, vt, []string{"/systems/servers/localhost"}, o)
	expect(t, got, dir, 2, 0, want{Error, "nodes", "localhost interrupted: "}, want{Error, "nodes", "0 of 1 sampled answered"})
}
