package ui

import (
	"fmt"
	"io"
	"time"

	"github.com/hf-cli/hf/pkg/job"
)

// plain writes one stable "hf: " line per state change, for logs and CI, and
// a heartbeat line per waiting request every Mode.Heartbeat.
type plain struct {
	core
	w io.Writer
}

func newPlain(ios *IOStreams, m Mode) *plain {
	p := &plain{core: newCore(m.Now, m.Heartbeat), w: ios.ErrOut}
	p.onTick = p.heartbeat
	return p
}

func (p *plain) Handle(ev job.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	switch ev.Kind {
	case job.TunnelReady:
		p.printf("webhook endpoint ready at %s", ev.URL)
	case job.Warning:
		p.printf("warning: %s", ev.Message)
	case job.Submitted:
		p.track(ev)
		p.printf("submitted %s (%s)", ev.RequestID, ev.Model)
	case job.Retry:
		p.printf("%s", retryText(ev))
	case job.StatusChanged:
		if r, changed := p.track(ev); changed {
			p.printf("%s %s", r.id, r.status)
		}
	case job.WebhookReceived:
		p.printf("webhook received for %s", ev.RequestID)
	case job.Completed:
		line := ev.RequestID + " " + ev.Status
		if r := p.finish(ev); r != nil {
			line += " after " + elapsed(r, p.at(ev), 100*time.Millisecond).String()
		}
		if ev.NotifiedBy != "" {
			line += " (via " + ev.NotifiedBy + ")"
		}
		p.printf("%s", line)
	case job.Downloaded:
		p.printf("saved %s (%s)", ev.Path, humanBytes(size(ev)))
	case job.Detached:
		p.finish(ev)
		p.printf("%s", ev.Message)
	}
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
