package sshx

import (
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"
)

// Options are the options the pool was made with (defaults filled in).
func (p *Pool) Options() Options { return p.opts }

// Stats counts the pool's open clients and those of them unused.
func (p *Pool) Stats() (open, idle int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, d := range p.clients {
		select {
		case <-d.done:
			if d.client != nil {
				open++
			}
		default:
		}
	}
	return open, len(p.idle)
}

// Tend is smctl serve's upkeep of its connections: it closes the clients
// unused for longer than d (idle_timeout), sends the other unused ones a
// keepalive and drops those that do not answer within keepaliveWait (a
// dropped connection is dialled again on next use). It returns how many
// it closed.
func (p *Pool) Tend(d time.Duration) int {
	n := p.closeIdle(d)
	p.mu.Lock()
	var idle []*ssh.Client
	for _, k := range p.idle {
		if od := p.clients[k]; od != nil && od.client != nil {
			idle = append(idle, od.client)
		}
	}
	p.mu.Unlock()
	var wg sync.WaitGroup
	var dropped atomic.Int64
	sem := make(chan struct{}, 64)
	for _, c := range idle {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			done := make(chan error, 1)
			go func() {
				_, _, err := c.SendRequest("keepalive@openssh.com", true, nil)
				done <- err
			}()
			select {
			case err := <-done:
				if err == nil {
					return
				}
			case <-time.After(keepaliveWait):
			}
			p.dropClient(c)
			dropped.Add(1)
		}()
	}
	wg.Wait()
	return n + int(dropped.Load())
}

// keepaliveWait bounds the wait for a keepalive's answer.
var keepaliveWait = 10 * time.Second

// dropClient forgets the unused client c, whichever target it is.
func (p *Pool) dropClient(c *ssh.Client) {
	p.mu.Lock()
	for k, d := range p.clients {
		if d.client == c && d.users == 0 {
			delete(p.clients, k)
			p.unidle(k)
		}
	}
	p.mu.Unlock()
	c.Close()
}

// closeIdle closes the clients unused for longer than d and returns how
// many it closed.
func (p *Pool) closeIdle(d time.Duration) int {
	p.mu.Lock()
	var closing []*ssh.Client
	keep := p.idle[:0]
	for _, k := range p.idle {
		od := p.clients[k]
		if time.Since(p.idleAt[k]) <= d || od == nil || od.users > 0 {
			keep = append(keep, k)
			continue
		}
		delete(p.clients, k)
		delete(p.idleAt, k)
		if od.client != nil {
			closing = append(closing, od.client)
		}
	}
	p.idle = keep
	p.mu.Unlock()
	for _, c := range closing {
		c.Close()
	}
	return len(closing)
}

// drop forgets the client c of t, found broken (its connection lost), so
// that the next use dials again.
func (p *Pool) drop(t Target, c *ssh.Client) {
	key := t.key()
	p.mu.Lock()
	if d := p.clients[key]; d != nil && d.client == c {
		delete(p.clients, key)
		p.unidle(key)
	}
	p.mu.Unlock()
	c.Close()
}
