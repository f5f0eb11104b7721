package ui

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/hf-cli/hf/pkg/batch"
	"github.com/hf-cli/hf/pkg/events"
	"github.com/hf-cli/hf/pkg/iostreams"
)

// BatchRenderer draws a batch run's events on stderr. Handle may be called
// from several goroutines and never blocks for long; Close stops any
// background drawing and is idempotent.
type BatchRenderer interface {
	Handle(batch.Event)
	Close()
}

// NewBatchRenderer picks the renderer for a batch: nothing when Quiet, a
// live multi-line view when stderr may be animated, plain lines with a
// heartbeat otherwise.
func NewBatchRenderer(ios *iostreams.IOStreams, m Mode) BatchRenderer {
	if m.Now == nil {
		m.Now = time.Now
	}
	switch {
	case m.Quiet:
		return batchQuiet{}
	case ios.Animate():
		return newBatchPretty(ios.ErrOut, ios.ErrStyles(), m)
	default:
		if m.Heartbeat == 0 {
			m.Heartbeat = 30 * time.Second
		}
		return newBatchPlain(ios.ErrOut, m)
	}
}

type batchQuiet struct{}

func (batchQuiet) Handle(batch.Event) {}
func (batchQuiet) Close()             {}

// countsText is the overall line: "12/40 done · 4 running · 1 failed".
func countsText(c batch.Counts) string {
	s := fmt.Sprintf("%d/%d done · %d running", c.Done, c.Total, c.Running)
	if c.Failed > 0 {
		s += fmt.Sprintf(" · %d failed", c.Failed)
	}
	return s
}

// jobLine says what one job event means, without the job's name, or "" for
// events not worth a line.
func jobLine(ev events.Event, since time.Time) string {
	switch ev.Kind {
	case events.TunnelReady:
		return "webhook endpoint ready at " + ev.Tunnel.PublicURL
	case events.Warning:
		return "warning: " + ev.Text
	case events.Submitted:
		return "submitted " + ev.RequestID
	case events.Retry:
		return retryText(ev)
	case events.StatusChanged:
		return ev.Status
	case events.Completed:
		line := ev.Status
		if !since.IsZero() {
			d := ev.Time.Sub(since)
			if d < time.Second {
				line += " after " + d.Round(time.Millisecond).String()
			} else {
				line += " after " + d.Round(100*time.Millisecond).String()
			}
		}
		if ev.Outcome.NotifiedBy != "" {
			line += " (via " + ev.Outcome.NotifiedBy + ")"
		}
		return line
	case events.Downloaded:
		return fmt.Sprintf("saved %s (%s)", ev.Download.Path, humanBytes(size(ev)))
	case events.Detached:
		return ev.Text
	}
	return ""
}

// finishedLine describes a job's outcome, or "" for a plain success whose
// saved lines were already shown.
func finishedLine(o *batch.Outcome) string {
	switch o.State {
	case batch.StateUpToDate:
		return "up to date"
	case batch.StateRedownloaded:
		return "downloaded again (no new generation)"
	case batch.StateGenerated:
		return ""
	case batch.StateNotRun, batch.StateInterrupted:
		return "" // the summary counts them; a detach said what became of the request
	}
	return failedText(o)
}

// failedText is "STATE: error", the state said once when the error
// already starts with it ("skipped: job hero did not succeed").
func failedText(o *batch.Outcome) string {
	state := string(o.State)
	if strings.HasPrefix(o.Error, state+": ") || strings.HasPrefix(o.Error, strings.ReplaceAll(state, "_", " ")+": ") {
		return o.Error
	}
	return state + ": " + o.Error
}

func startedLine(ev batch.Event) string {
	switch ev.Action {
	case batch.Wait:
		return "waiting for the request an earlier run submitted"
	case batch.Redownload:
		return "outputs missing; downloading them again"
	}
	return ""
}

// batchPlain writes one "hf: NAME: ..." line per state change, for logs
// and CI, and the counts every Heartbeat while jobs run.
type batchPlain struct {
	mu     sync.Mutex
	w      io.Writer
	now    func() time.Time
	counts batch.Counts
	since  map[string]time.Time
	stop   chan struct{}
	wg     sync.WaitGroup
	closed bool
}

func newBatchPlain(w io.Writer, m Mode) *batchPlain {
	p := &batchPlain{w: w, now: m.Now, since: map[string]time.Time{}, stop: make(chan struct{})}
	if m.Heartbeat > 0 {
		p.wg.Add(1)
		go p.heartbeat(m.Heartbeat)
	}
	return p
}

func (p *batchPlain) heartbeat(every time.Duration) {
	defer p.wg.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
		}
		p.mu.Lock()
		if !p.closed && p.counts.Running > 0 {
			p.printf("", "%s", countsText(p.counts))
		}
		p.mu.Unlock()
	}
}

func (p *batchPlain) printf(name, format string, a ...any) {
	prefix := "hf: "
	if name != "" {
		prefix += name + ": "
	}
	fmt.Fprintf(p.w, prefix+format+"\n", a...)
}

func (p *batchPlain) Handle(ev batch.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	if ev.Kind == batch.Started || ev.Kind == batch.Finished {
		p.counts = ev.Counts
	}
	switch ev.Kind {
	case batch.Started:
		p.since[ev.Name] = ev.Time
		if l := startedLine(ev); l != "" {
			p.printf(ev.Name, "%s", l)
		}
	case batch.Progress:
		if ev.Job.Kind == events.Submitted {
			p.since[ev.Name] = ev.Job.Time
		}
		if l := jobLine(ev.Job, p.since[ev.Name]); l != "" {
			p.printf(ev.Name, "%s", l)
		}
	case batch.Finished:
		delete(p.since, ev.Name)
		if l := finishedLine(ev.Outcome); l != "" {
			p.printf(ev.Name, "%s", l)
		}
	case batch.Paused:
		p.printf("", "%s; no submit until %s (in %s)", ev.Message, ev.Until.Format("15:04:05"), time.Until(ev.Until).Round(time.Second))
	case batch.Warning:
		p.printf(ev.Name, "warning: %s", ev.Message)
	}
}

func (p *batchPlain) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	close(p.stop)
	p.mu.Unlock()
	p.wg.Wait()
}

// BatchSummaryLine is the plain one-line summary of a run.
func BatchSummaryLine(s batch.Summary) string {
	parts := []string{}
	add := func(n int, what string) {
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, what))
		}
	}
	add(s.Generated, "generated")
	add(s.UpToDate, "up to date")
	add(s.Redownloaded, "downloaded again")
	add(s.Failed, "failed")
	add(s.Skipped, "skipped")
	add(s.Interrupted, "interrupted")
	add(s.NotRun, "not run")
	jobs := "jobs"
	if s.Total == 1 {
		jobs = "job"
	}
	return fmt.Sprintf("%d %s: %s in %s", s.Total, jobs, strings.Join(parts, ", "), (time.Duration(s.Seconds * float64(time.Second))).Round(100*time.Millisecond))
}
