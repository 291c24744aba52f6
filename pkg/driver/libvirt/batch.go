package libvirt

import (
	"errors"
	"sync"

	golibvirt "github.com/digitalocean/go-libvirt"
)

// The state of a thousand VMs on ten hypervisors is a thousand reads of
// state and power arriving together, a fan-out's width at a time on one
// connection: asked one by one (DomainGetState), each is a round trip
// and a call libvirtd dispatches, and one connection's calls queue
// behind each other in libvirtd (max_client_requests). A connection's
// state reads are therefore coalesced: the read that finds no call in
// flight asks its VM's state in one ConnectGetAllDomainStats call of the
// state group; those that arrive while a call is in flight wait for the
// next, which one of them makes, for all of them, as soon as it is over.
// No read is answered by a call that began before the read did: a state
// changed just before it is seen.
//
// Whatever a batch does not answer (a VM undefined since its handle was
// listed: the call skips it; the call failing: a libvirtd that does not
// know it, a connection dropped) is asked as before, by DomainGetState of
// the VM alone, whose answer and error are the read's: a batched read
// fails, and says so, exactly as a lone read would.

// maxBatch bounds the VMs one stats call asks (libvirt's RPC takes at
// most REMOTE_DOMAIN_LIST_MAX, 16384, domains).
const maxBatch = 4096

// domState is a VM's state and its reason, as DomainGetState gives them.
type domState struct {
	state, reason int32
}

// stateBatcher coalesces the state reads of one connection.
type stateBatcher struct {
	mu   sync.Mutex
	busy bool // a batch's call is in flight, or about to be
	// queue are the batches waiting for their call, in order: the last
	// is filling; the first starts when the call in flight ends.
	queue   []*stateCall
	noStats bool // the hypervisor cannot: every read asks alone
	calls   int  // stats calls made (tests count them)
}

// stateCall is one batch: the VMs it asks, and once done its answers.
type stateCall struct {
	doms []golibvirt.Domain
	// lead is sent one token when the batch may start: the waiter that
	// takes it makes the call for all.
	lead chan struct{}
	done chan struct{} // closed when got and err are set
	got  map[golibvirt.UUID]domState
	err  error
}

// domainState is DomainGetState of dom on c, coalesced with the other
// reads of c's VMs in flight.
func domainState(c *conn, dom golibvirt.Domain) (int32, int32, error) {
	if st, ok := batcherOf(c).get(c, dom); ok {
		return st.state, st.reason, nil
	}
	return c.DomainGetState(dom, 0)
}

// get returns dom's state from a batch, false when the batch did not
// answer for it (the caller asks alone).
func (b *stateBatcher) get(c *conn, dom golibvirt.Domain) (domState, bool) {
	b.mu.Lock()
	if b.noStats {
		b.mu.Unlock()
		return domState{}, false
	}
	n := len(b.queue)
	if n == 0 || len(b.queue[n-1].doms) >= maxBatch {
		b.queue = append(b.queue, &stateCall{lead: make(chan struct{}, 1), done: make(chan struct{})})
		n++
	}
	call := b.queue[n-1]
	call.doms = append(call.doms, dom)
	lead := !b.busy // nothing in flight: call is the only batch, and starts now
	b.busy = true
	b.mu.Unlock()
	if !lead {
		select {
		case <-call.lead:
			lead = true
		case <-call.done:
		}
	}
	if lead {
		b.run(c, call)
	}
	if call.err != nil {
		return domState{}, false
	}
	st, ok := call.got[dom.UUID]
	return st, ok
}

// run makes call's stats call, the first of b.queue, answers its waiters
// and hands the next batch, if any, its lead.
func (b *stateBatcher) run(c *conn, call *stateCall) {
	b.mu.Lock()
	b.queue[0] = nil // call: no read joins it from now on
	b.queue = b.queue[1:]
	b.calls++
	b.mu.Unlock()
	recs, err := c.ConnectGetAllDomainStats(call.doms, uint32(golibvirt.DomainStatsState), 0)
	if err == nil {
		call.got = make(map[golibvirt.UUID]domState, len(recs))
		for _, r := range recs {
			if st, ok := stateParams(r.Params); ok {
				call.got[r.Dom.UUID] = st
			}
		}
	}
	call.err = err
	close(call.done)

	b.mu.Lock()
	defer b.mu.Unlock()
	var le golibvirt.Error
	if errors.As(err, &le) && le.Code == uint32(golibvirt.ErrNoSupport) {
		b.noStats = true
	}
	if len(b.queue) == 0 {
		b.busy = false
		return
	}
	b.queue[0].lead <- struct{}{}
}

// stateParams reads a stats record's state group: state.state and
// state.reason, false if either is missing.
func stateParams(ps []golibvirt.TypedParam) (domState, bool) {
	var st domState
	var have int
	for _, p := range ps {
		v, ok := p.Value.I.(int32)
		if !ok {
			continue
		}
		switch p.Field {
		case "state.state":
			st.state = v
			have |= 1
		case "state.reason":
			st.reason = v
			have |= 2
		}
	}
	return st, have == 3
}

// batcherOf is c's batcher.
func batcherOf(c *conn) *stateBatcher { return &c.states }
