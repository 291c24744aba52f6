package cli

import (
	"fmt"
	"os/exec"
	"sync"
	"sync/atomic"
	"time"

	"github.com/charmbracelet/lipgloss"
)

var execLookPath = exec.LookPath

// progress is the one-line progress report on a terminal's stderr for runs
// longer than a second. It draws nothing when stderr is not a terminal.
type progress struct {
	ios          *IOStreams
	total        int
	done, failed atomic.Int64
	stop         chan struct{}
	wg           sync.WaitGroup
	start        time.Time
}

func startProgress(ios *IOStreams, total int, verb string) *progress {
	p := &progress{ios: ios, total: total, stop: make(chan struct{}), start: time.Now()}
	if !ios.errTTY || total < 2 {
		return p
	}
	style := lipgloss.NewStyle()
	bad := lipgloss.NewStyle()
	if ios.color {
		style = style.Foreground(lipgloss.Color("6"))
		bad = bad.Foreground(lipgloss.Color("1")).Bold(true)
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		delay := time.NewTimer(time.Second)
		defer delay.Stop()
		select {
		case <-p.stop:
			return
		case <-delay.C:
		}
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		drawn := false
		for {
			line := style.Render(fmt.Sprintf("smctl %s: %d/%d done", verb, p.done.Load(), p.total))
			if f := p.failed.Load(); f > 0 {
				line += ", " + bad.Render(fmt.Sprintf("%d failed", f))
			}
			line += fmt.Sprintf(" (%.1fs)", time.Since(p.start).Seconds())
			fmt.Fprintf(p.ios.ErrOut, "\r\x1b[K%s", line)
			drawn = true
			select {
			case <-p.stop:
				if drawn {
					fmt.Fprint(p.ios.ErrOut, "\r\x1b[K")
				}
				return
			case <-tick.C:
			}
		}
	}()
	return p
}

func (p *progress) add(ok bool) {
	p.done.Add(1)
	if !ok {
		p.failed.Add(1)
	}
}

// finish erases the progress line; call it before printing a summary.
func (p *progress) finish() {
	close(p.stop)
	p.wg.Wait()
}
