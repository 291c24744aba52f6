package ha

import (
	"maps"
	"testing"
)

func TestMemoryKiB(t *testing.T) {
	for x, want := range map[string]int64{
		"<domain><memory unit='KiB'>524288</memory></domain>":    524288,
		"<domain><memory>1024</memory></domain>":                 1024,
		"<domain><memory unit='MiB'>32</memory></domain>":        32768,
		"<domain><memory unit='G'>2</memory></domain>":           2 << 20,
		"<domain><memory unit='bytes'>1048576</memory></domain>": 1024,
		"<domain><memory unit='MB'>1</memory></domain>":          976,
		"<domain><memory unit='parsecs'>1</memory></domain>":     0,
		"<domain><memory unit='KiB'>lots</memory></domain>":      0,
		"<domain><currentMemory>5</currentMemory></domain>":      0,
		"<domain": 0,
		"<domain><!-- <memory>9</memory> --><memory>7</memory></domain>": 7,
	} {
		if got := memoryKiB(x); got != want {
			t.Errorf("%s: %d KiB, want %d", x, got, want)
		}
	}
}

func TestPlace(t *testing.T) {
	const g = 1 << 20
	for _, c := range []struct {
		name string
		vms  []vm
		ts   []target
		want map[string]string
	}{
		{"fewest running", []vm{{path: "a", memKiB: g}}, []target{{"h2", 8 * g, 3}, {"h3", 8 * g, 1}}, map[string]string{"a": "h3"}},
		{"enough memory first", []vm{{path: "a", memKiB: 4 * g}}, []target{{"h2", 2 * g, 0}, {"h3", 8 * g, 5}}, map[string]string{"a": "h3"}},
		{"ties by name", []vm{{path: "a", memKiB: g}}, []target{{"h3", 8 * g, 1}, {"h2", 8 * g, 1}}, map[string]string{"a": "h2"}},
		{"each choice counted", []vm{{path: "a", memKiB: g}, {path: "b", memKiB: g}, {path: "c", memKiB: g}},
			[]target{{"h2", 8 * g, 0}, {"h3", 8 * g, 0}}, map[string]string{"a": "h2", "b": "h3", "c": "h2"}},
		{"largest first", []vm{{path: "small", memKiB: g}, {path: "big", memKiB: 3 * g}},
			[]target{{"h2", 3 * g, 0}, {"h3", 1 * g, 1}}, map[string]string{"big": "h2", "small": "h3"}},
		{"no room: left out", []vm{{path: "a", memKiB: 9 * g}}, []target{{"h2", 8 * g, 0}}, map[string]string{}},
		{"no hypervisor", []vm{{path: "a", memKiB: g}}, nil, map[string]string{}},
	} {
		var ts []*target
		for _, tg := range c.ts {
			ts = append(ts, &tg)
		}
		if got := place(c.vms, ts); !maps.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

func TestCrashed(t *testing.T) {
	for st, want := range map[string]bool{
		"shut off (crashed)": true, "shut off (failed)": true, "crashed (panicked)": true, "crashed": true,
		"shut off (destroyed)": false, "shut off (shutdown)": false, "running (booted)": false, "paused (user)": false,
		"shut off (migrated)": false,
	} {
		if crashed(st) != want {
			t.Errorf("%q: crashed %v, want %v", st, !want, want)
		}
	}
}

func TestRunFailed(t *testing.T) {
	h := New()
	k := "/systems/hypervisors/h1\x00libvirtd"
	if h.runFailed(k, nil) {
		t.Error("a run: logged as a failure")
	}
	e1, e2 := errorString("plugin not found"), errorString("not trusted")
	if !h.runFailed(k, e1) {
		t.Error("a first failure: not logged")
	}
	if h.runFailed(k, e1) {
		t.Error("the same failure again: logged again")
	}
	if !h.runFailed(k, e2) {
		t.Error("another failure: not logged")
	}
	h.runFailed(k, nil)
	if !h.runFailed(k, e2) {
		t.Error("a failure after a run: not logged")
	}
}

type errorString string

func (e errorString) Error() string { return string(e) }

func TestRanState(t *testing.T) {
	for st, want := range map[string]bool{"running (booted)": true, "shut off (crashed)": true, "shut off (destroyed)": false, "crashed (panicked)": true} {
		if ran(st) != want {
			t.Errorf("%q: ran %v, want %v", st, !want, want)
		}
	}
}

func TestDomainUUID(t *testing.T) {
	if u := domainUUID("<domain><name>a</name><uuid> 5e1f0001-0000-4000-8000-000000000001 </uuid></domain>"); u != "5e1f0001-0000-4000-8000-000000000001" {
		t.Errorf("uuid %q", u)
	}
	if u := domainUUID("<domain><!-- <uuid>x</uuid> --></domain>"); u != "" {
		t.Errorf("uuid in a comment: %q", u)
	}
}
