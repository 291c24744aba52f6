package main

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/smctl/smctl/internal/testha"
)

// nevertwice start|check: samples, from start until check, where every VM
// of the script's HA farm runs (testha.Farm.Running, every 50 ms); check
// fails if at any sampled moment a VM ran on two hosts, and prints how
// many samples were taken.
func cmdNeverTwice(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 || args[0] != "start" && args[0] != "check" {
		ts.Fatalf("usage: nevertwice start|check")
	}
	f, ok := haFarms.Load(ts)
	if !ok {
		ts.Fatalf("no HA farm (run hafarm HOSTS VMS first)")
	}
	farm := f.(*testha.Farm)
	if args[0] == "start" {
		s := &sampler{stop: make(chan struct{}), done: make(chan struct{})}
		samplers.Store(ts, s)
		go s.run(farm)
		ts.Defer(s.end)
		return
	}
	v, ok := samplers.Load(ts)
	if !ok {
		ts.Fatalf("nevertwice check: not started")
	}
	s := v.(*sampler)
	s.end()
	s.sample(farm) // and one more, now
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprintf(ts.Stdout(), "%d samples\n", s.samples)
	if len(s.twice) > 0 {
		ts.Fatalf("VMs on two hosts at once: %s", strings.Join(s.twice, "; "))
	}
}

var samplers sync.Map

type sampler struct {
	stop, done chan struct{}
	once       sync.Once
	mu         sync.Mutex
	samples    int
	twice      []string
}

func (s *sampler) run(f *testha.Farm) {
	defer close(s.done)
	for {
		s.sample(f)
		select {
		case <-s.stop:
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// sample records where every VM runs now.
func (s *sampler) sample(f *testha.Farm) {
	seen := f.Running()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.samples++
	var names []string
	for vm, hosts := range seen {
		if len(hosts) > 1 {
			names = append(names, fmt.Sprintf("%s on %s at %s", vm, strings.Join(hosts, ","), time.Now().Format("15:04:05.000")))
		}
	}
	sort.Strings(names)
	s.twice = append(s.twice, names...)
}

// hostoff HOST: the host powered off by other means than its BMC (at the
// wall): killed as its BMC's power-off kills it.
func cmdHostOff(ts *testscript.TestScript, neg bool, args []string) {
	f, i := haHost(ts, neg, args, "usage: hostoff HOST")
	ts.Check(f.Power(i, false))
}

func (s *sampler) end() {
	s.once.Do(func() { close(s.stop) })
	<-s.done
}
