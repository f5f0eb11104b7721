package ui

import (
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/hf-cli/hf/pkg/events"
	"github.com/hf-cli/hf/pkg/iostreams"
	"github.com/schollz/progressbar/v3"
)

const (
	// spinnerEvery is how often the waiting line is redrawn.
	spinnerEvery = 100 * time.Millisecond
	// barMin is the size from which a download gets a progress bar.
	barMin = 4 << 20
)

// pretty draws styled lines on a terminal, a live spinner line while requests
// wait and a progress bar for large downloads. Lines are printed above the
// live line: it is cleared first and redrawn after.
type pretty struct {
	core
	w       io.Writer
	st      iostreams.Styles
	spin    *progressbar.ProgressBar
	bar     *progressbar.ProgressBar
	barPath string
	// webhook: an endpoint is up, so the status shown is the last one
	// learned and the line says what hf is waiting for.
	webhook bool
}

func newPretty(ios *iostreams.IOStreams, m Mode) *pretty {
	p := &pretty{core: newCore(m.Now, spinnerEvery), w: ios.ErrOut, st: ios.ErrStyles()}
	p.onTick = p.drawSpinner
	return p
}

func (p *pretty) Handle(ev events.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	st := p.st
	switch ev.Kind {
	case events.TunnelReady:
		p.webhook = true
		p.println(st.Success.Render("✓") + " webhook endpoint ready " + st.Muted.Render(ev.Tunnel.PublicURL))
	case events.Warning:
		p.println(iostreams.Paint(st.Warning, "! "+ev.Text))
	case events.Submitted:
		p.track(ev)
		p.println(st.Success.Render("✓") + " submitted " + st.ID.Render(ev.RequestID) + " " + st.Muted.Render("("+ev.Model+")"))
	case events.Retry:
		p.println(st.Warning.Render("↻") + " " + iostreams.Paint(st.Muted,
			retryText(ev)))
	case events.StatusChanged:
		if _, changed := p.track(ev); changed {
			p.drawSpinner()
		}
	case events.WebhookReceived:
		p.println(st.Muted.Render("· webhook received for ") + st.ID.Render(ev.RequestID))
	case events.Completed:
		r := p.finish(ev)
		p.stopSpinnerIfIdle()
		p.println(p.completed(ev, r))
	case events.DownloadStarted, events.DownloadProgress:
		p.progress(ev)
	case events.Downloaded:
		if p.bar != nil && p.barPath == ev.Download.Path {
			p.bar.Finish()
			p.bar = nil
		}
		p.println(st.Success.Render("✓") + " saved " + ev.Download.Path + " " + st.Muted.Render("("+humanBytes(size(ev))+")"))
	case events.Detached:
		p.finish(ev)
		p.stopSpinnerIfIdle()
		p.println(iostreams.Paint(st.Warning, ev.Text))
	}
}

func (p *pretty) completed(ev events.Event, r *request) string {
	if ev.Status == "completed" {
		s := p.st.Success.Render("✓") + " completed"
		if r != nil {
			s += " in " + elapsed(r, p.at(ev), 100*time.Millisecond).String()
		}
		if ev.Outcome.NotifiedBy != "" {
			s += " " + p.st.Muted.Render("("+ev.Outcome.NotifiedBy+")")
		}
		return s
	}
	reason := ev.Outcome.Reason
	s := "✗ " + ev.Status
	if reason != "" {
		s += ": " + reason
	}
	return iostreams.Paint(p.st.Error, s)
}

// progress drives the bar of a large download; one bar at a time, smaller or
// concurrent downloads only get their saved line.
func (p *pretty) progress(ev events.Event) {
	if p.bar == nil && ev.Download.Total > barMin {
		p.clearSpinner()
		p.barPath = ev.Download.Path
		p.bar = progressbar.NewOptions64(ev.Download.Total,
			progressbar.OptionSetWriter(p.w),
			progressbar.OptionSetDescription(filepath.Base(ev.Download.Path)),
			progressbar.OptionShowBytes(true),
			progressbar.OptionShowTotalBytes(true),
			progressbar.OptionShowCount(),
			progressbar.OptionUseIECUnits(true),
			progressbar.OptionSetWidth(20),
			progressbar.OptionThrottle(65*time.Millisecond),
			progressbar.OptionUseANSICodes(true),
			progressbar.OptionClearOnFinish(),
			progressbar.OptionSetRenderBlankState(true),
		)
	}
	if p.bar != nil && p.barPath == ev.Download.Path && ev.Kind == events.DownloadProgress {
		_ = p.bar.Set64(min(ev.Download.Bytes, ev.Download.Total))
	}
}

// drawSpinner (re)draws the waiting line, unless a download bar owns it.
func (p *pretty) drawSpinner() {
	if len(p.waiting) == 0 || p.bar != nil {
		return
	}
	r := p.waiting[len(p.waiting)-1]
	desc := r.status + " " + p.st.ID.Render(r.id) + p.st.Muted.Render(" · "+elapsed(r, p.now(), time.Second).String())
	if p.webhook {
		desc += p.st.Muted.Render(" · waiting for the webhook")
	}
	if n := len(p.waiting) - 1; n > 0 {
		desc += p.st.Muted.Render(fmt.Sprintf(" (+%d more)", n))
	}
	if p.spin == nil {
		p.spin = progressbar.NewOptions(-1,
			progressbar.OptionSetWriter(p.w),
			progressbar.OptionSpinnerType(14),
			// Frames advance on each draw; our ticker draws, under our lock.
			progressbar.OptionSetSpinnerChangeInterval(0),
			progressbar.OptionSetElapsedTime(false),
			progressbar.OptionUseANSICodes(true),
			progressbar.OptionClearOnFinish(),
		)
	}
	p.spin.Describe(desc)
}

func (p *pretty) clearSpinner() {
	if p.spin != nil {
		_ = p.spin.Clear()
	}
}

func (p *pretty) stopSpinnerIfIdle() {
	if p.spin != nil && len(p.waiting) == 0 {
		_ = p.spin.Finish()
		p.spin = nil
	}
}

// println prints a line above the live line (the spinner, or a download bar
// that redraws on its next progress).
func (p *pretty) println(s string) {
	p.clearSpinner()
	if p.bar != nil {
		_ = p.bar.Clear()
	}
	fmt.Fprintln(p.w, s)
	p.drawSpinner()
}

func (p *pretty) Close() {
	p.close(func() {
		if p.spin != nil {
			_ = p.spin.Finish()
			p.spin = nil
		}
		if p.bar != nil {
			_ = p.bar.Clear()
			p.bar = nil
		}
	})
}
