package ui

import (
	"fmt"
	"io"
	"time"

	"github.com/hf-cli/hf/pkg/events"
	"github.com/hf-cli/hf/pkg/iostreams"
)

// plain writes one stable "hf: " line per state change, for logs and CI, and
// a heartbeat line per waiting request every Mode.Heartbeat.
type plain struct {
	core
	w io.Writer
	// retryKey is the last retry printed (op and error) and retries how
	// many times in a row it happened: repeats print only at 10×, 100×, ….
	retryKey string
	retries  int
}

func newPlain(ios *iostreams.IOStreams, m Mode) *plain {
	p := &plain{core: newCore(m.Now, m.Heartbeat), w: ios.ErrOut}
	p.onTick = p.heartbeat
	return p
}

func (p *plain) Handle(ev events.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	if ev.Kind != events.Retry {
		p.retryKey = ""
	}
	switch ev.Kind {
	case events.TunnelOpening:
		p.printf("opening %s tunnel…", ev.Tunnel.Provider)
	case events.TunnelReady:
		p.printf("webhook endpoint ready at %s", ev.Tunnel.PublicURL)
	case events.Warning:
		p.printf("warning: %s", ev.Text)
	case events.Submitted:
		p.track(ev)
		p.printf("submitted %s (%s)", ev.RequestID, ev.Model)
	case events.Retry:
		key := ev.Retry.Op + "\x00" + fmt.Sprint(ev.Retry.Err)
		if key != p.retryKey {
			p.retryKey, p.retries = key, 1
			p.printf("%s", retryText(ev))
			break
		}
		p.retries++
		if isPowerOf10(p.retries) {
			p.printf("%s failed (%v) %d× in a row; still retrying", ev.Retry.Op, ev.Retry.Err, p.retries)
		}
	case events.StatusChanged:
		if r, changed := p.track(ev); changed {
			p.printf("%s %s", r.id, r.status)
		}
	case events.WebhookReceived:
		p.printf("webhook received for %s", ev.RequestID)
	case events.Completed:
		line := ev.RequestID + " " + ev.Status
		if r := p.finish(ev); r != nil {
			line += " after " + elapsed(r, p.at(ev), 100*time.Millisecond).String()
		}
		if ev.Outcome.NotifiedBy != "" {
			line += " (via " + ev.Outcome.NotifiedBy + ")"
		}
		p.printf("%s", line)
	case events.Downloaded:
		p.printf("saved %s (%s)", ev.Download.Path, humanBytes(size(ev)))
	case events.Detached:
		p.finish(ev)
		p.printf("%s", ev.Text)
	}
}

func isPowerOf10(n int) bool {
	for n >= 10 && n%10 == 0 {
		n /= 10
	}
	return n == 1
}

func (p *plain) heartbeat() {
	now := p.now()
	for _, r := range p.waiting {
		p.printf("still waiting for %s: %s, %s elapsed", r.id, r.status, elapsed(r, now, time.Second))
	}
}

func (p *plain) printf(format string, a ...any) {
	fmt.Fprintf(p.w, "hf: "+format+"\n", a...)
}

func (p *plain) Close() { p.close(func() {}) }
