package subscribe

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/smctl/smctl/pkg/notify"
)

// execTimeout bounds one run of a subscription's exec= command.
const execTimeout = time.Minute

// backoff is the wait before the next try of an event that failed
// attempts times: 1s, 2s, 4s, ... at most 5 minutes.
func backoff(attempts int) time.Duration {
	if attempts > 9 {
		return 5 * time.Minute
	}
	return min(time.Second<<(attempts-1), 5*time.Minute)
}

// deliverLoop delivers the events owed, oldest first, each until it is
// delivered (at least once: one whose delivery was cut short by a stop
// is delivered again), until ctx ends.
func (s *sub) deliverLoop(ctx context.Context) {
	for {
		s.mu.Lock()
		var head pending
		have := len(s.st.Pending) > 0
		if have {
			head = s.st.Pending[0]
		}
		s.mu.Unlock()
		wait := time.Hour
		if have {
			wait = time.Until(head.Next)
		}
		if !have || wait > 0 {
			select {
			case <-ctx.Done():
				return
			case <-s.wake:
			case <-time.After(wait):
			}
			continue
		}
		done, err := s.deliver(ctx, head)
		if ctx.Err() != nil {
			return // not recorded: tried again when serve starts again
		}
		s.mu.Lock()
		p := &s.st.Pending[0] // only this loop removes events
		p.Done = done
		if err == nil {
			s.st.Pending = s.st.Pending[1:]
			s.st.Delivered++
			s.note("delivered %d", head.Event.Seq)
		} else {
			p.Attempts++
			d := backoff(p.Attempts)
			p.Next = time.Now().Add(d)
			s.st.Failures++
			s.st.Err, s.st.ErrAt = err.Error(), time.Now()
			s.note("failed %d (attempt %d): %s; next try in %s", head.Event.Seq, p.Attempts, oneLine(err.Error()), d)
		}
		s.mu.Unlock()
	}
}

// deliver runs the subscription's command and posts to its webhook, those
// of them not done for this event yet, and returns which are done now.
func (s *sub) deliver(ctx context.Context, p pending) ([]string, error) {
	done := p.Done
	var errs []string
	if s.spec.Exec != "" && !slices.Contains(done, "exec") {
		if err := runExec(ctx, s.spec.Exec, p.Event); err != nil {
			errs = append(errs, err.Error())
		} else {
			done = append(done, "exec")
		}
	}
	if s.spec.Webhook != "" && !slices.Contains(done, "webhook") {
		body, _ := json.Marshal(p.Event)
		if err := notify.PostOnce(ctx, s.spec.Webhook, body); err != nil {
			errs = append(errs, fmt.Sprintf("webhook %s: %v", s.spec.Webhook, err))
		} else {
			done = append(done, "webhook")
		}
	}
	if len(errs) > 0 {
		return done, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return done, nil
}

// runExec runs cmd with sh for the event, in a process group of its own
// (stopped whole at the timeout or at a stop), its output kept for the
// error.
func runExec(ctx context.Context, cmd string, e notify.Event) error {
	ctx, cancel := context.WithTimeout(ctx, execTimeout)
	defer cancel()
	c := exec.CommandContext(ctx, "/bin/sh", "-c", cmd)
	c.Env = notify.Env(e)
	var out bytes.Buffer
	c.Stdout, c.Stderr = &out, &out
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	c.Cancel = func() error { return syscall.Kill(-c.Process.Pid, syscall.SIGKILL) }
	c.WaitDelay = 5 * time.Second
	if err := c.Run(); err != nil {
		msg := strings.TrimSpace(out.String())
		if i := strings.LastIndexByte(msg, '\n'); i >= 0 {
			msg = msg[i+1:]
		}
		if len(msg) > 200 {
			msg = msg[:200]
		}
		if msg != "" {
			return fmt.Errorf("exec: %v: %s", err, msg)
		}
		return fmt.Errorf("exec: %v", err)
	}
	return nil
}
