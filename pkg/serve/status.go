package serve

import (
	"os"
	"time"
)

// NoteRefresh records a pass of the periodic refresh, for Status.
func (s *Server) NoteRefresh(r Refreshed, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refresh = r
	s.refreshAt = time.Now()
	s.refreshErr = ""
	if err != nil {
		s.refreshErr = err.Error()
	}
}

// Discovered is the last automatic discovery: when it ran, what it
// reported (its /discover_master: devices added and removed), and its
// error.
type Discovered struct {
	At     time.Time
	Report string
	Err    string
}

// SetHA makes f the source of Status's high availability lines.
func (s *Server) SetHA(f func() []string) {
	s.mu.Lock()
	s.ha = f
	s.mu.Unlock()
}

// SetSubscriptions makes f the source of Status's subscription lines.
func (s *Server) SetSubscriptions(f func() []string) {
	s.mu.Lock()
	s.subs = f
	s.mu.Unlock()
}

// NoteDiscovery records an automatic discovery, for Status.
func (s *Server) NoteDiscovery(d Discovered) {
	s.mu.Lock()
	s.discovery = d
	s.mu.Unlock()
}

// Status is what smctl serve --status shows.
type Status struct {
	PID         int
	Root        string
	Started     time.Time
	IdleTimeout time.Duration
	Open        int   // connections open
	Idle        int   // of them unused
	InFlight    int64 // commands running and forwarded streams open
	Served      int64 // commands run and streams closed since start
	Failed      int64 // of them failed
	Refused     int64 // connections refused (another user)
	// The last pass of the periodic refresh (zero before the first).
	Refresh    Refreshed
	RefreshAt  time.Time
	RefreshErr string
	Discovery  Discovered // the last automatic discovery (zero before the first)
	// Subscriptions has a line per subscription: its state, or why it
	// does not run.
	Subscriptions []string
	// HA has high availability's lines: what it watches, its last event,
	// or why it does not run.
	HA []string
}

// Status reports the server's connections and commands.
func (s *Server) Status() Status {
	s.mu.Lock()
	st := Status{PID: os.Getpid(), Root: s.root, Started: s.started, IdleTimeout: s.cfg.IdleTimeout,
		Refresh: s.refresh, RefreshAt: s.refreshAt, RefreshErr: s.refreshErr, Discovery: s.discovery}
	for _, p := range s.pools {
		o, i := p.Stats()
		st.Open += o
		st.Idle += i
	}
	subs, ha := s.subs, s.ha
	s.mu.Unlock()
	if subs != nil {
		st.Subscriptions = subs()
	}
	if ha != nil {
		st.HA = ha()
	}
	st.InFlight, st.Served, st.Failed, st.Refused = s.inFlight.Load(), s.served.Load(), s.failed.Load(), s.refused.Load()
	return st
}
