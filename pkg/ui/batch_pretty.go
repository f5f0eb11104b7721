package ui

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/hf-cli/hf/pkg/batch"
	"github.com/hf-cli/hf/pkg/events"
	"github.com/hf-cli/hf/pkg/iostreams"
)

// batchPretty is the live view of a batch on a terminal, drawn by mpb: one
// line per job in flight (name, status, elapsed) under an overall line,
// with finished jobs printed above. Handle only queues the event; one
// goroutine talks to mpb, so a slow terminal never holds a job up.
type batchPretty struct {
	st  iostreams.Styles
	now func() time.Time

	mu     sync.Mutex
	cond   *sync.Cond
	queue  []batch.Event
	closed bool
	done   chan struct{}

	// Owned by the drawing goroutine, read by decorators under mu.
	progress *mpb.Progress
	overall  *mpb.Bar
	counts   batch.Counts
	lines    map[string]*liveJob
}

type liveJob struct {
	bar    *mpb.Bar
	status string
	since  time.Time
}

func newBatchPretty(w io.Writer, st iostreams.Styles, m Mode) *batchPretty {
	p := &batchPretty{st: st, now: m.Now, done: make(chan struct{}), lines: map[string]*liveJob{}}
	p.cond = sync.NewCond(&p.mu)
	p.progress = mpb.New(mpb.WithOutput(w), mpb.WithRefreshRate(120*time.Millisecond), mpb.WithWidth(1), mpb.WithAutoRefresh())
	p.overall = p.progress.New(0, mpb.NopStyle(), mpb.BarPriority(-1), mpb.PrependDecorators(decor.Any(func(decor.Statistics) string {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.st.Bold.Render(countsText(p.counts))
	})))
	go p.draw()
	return p
}

func (p *batchPretty) Handle(ev batch.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.queue = append(p.queue, ev)
	p.cond.Signal()
}

func (p *batchPretty) draw() {
	defer close(p.done)
	for {
		p.mu.Lock()
		for len(p.queue) == 0 && !p.closed {
			p.cond.Wait()
		}
		q := p.queue
		p.queue = nil
		closed := p.closed
		p.mu.Unlock()
		for _, ev := range q {
			p.apply(ev)
		}
		if closed {
			for _, l := range p.lines {
				l.bar.Abort(true)
			}
			p.overall.Abort(true)
			p.progress.Wait()
			return
		}
	}
}

func (p *batchPretty) println(s string) {
	_, _ = fmt.Fprintln(p.progress, s)
}

func (p *batchPretty) apply(ev batch.Event) {
	st := p.st
	if ev.Kind == batch.Started || ev.Kind == batch.Finished {
		p.mu.Lock()
		p.counts = ev.Counts
		p.mu.Unlock()
	}
	switch ev.Kind {
	case batch.Started:
		if ev.Action == batch.UpToDate {
			return
		}
		l := &liveJob{status: "starting", since: ev.Time}
		if ev.Action == batch.Wait {
			l.status = "waiting (submitted earlier)"
		} else if ev.Action == batch.Redownload {
			l.status = "downloading again"
		}
		name := ev.Name
		l.bar = p.progress.New(0, mpb.NopStyle(), mpb.BarRemoveOnComplete(), mpb.PrependDecorators(decor.Any(func(decor.Statistics) string {
			p.mu.Lock()
			defer p.mu.Unlock()
			return "  " + st.Bold.Render(name) + "  " + l.status + "  " + st.Muted.Render(p.now().Sub(l.since).Round(time.Second).String())
		})))
		p.mu.Lock()
		p.lines[ev.Name] = l
		p.mu.Unlock()
	case batch.Progress:
		p.mu.Lock()
		l := p.lines[ev.Name]
		if l != nil {
			switch ev.Job.Kind {
			case events.Submitted:
				l.status = "submitted " + ev.Job.RequestID
				l.since = ev.Job.Time
			case events.StatusChanged:
				l.status = ev.Job.Status
			case events.Completed:
				l.status = ev.Job.Status + ", downloading"
			case events.Retry:
				l.status = "retrying " + ev.Job.Retry.Op
			}
		}
		p.mu.Unlock()
		switch ev.Job.Kind {
		case events.TunnelReady:
			p.println(st.Success.Render("✓") + " webhook endpoint ready " + st.Muted.Render(ev.Job.Tunnel.PublicURL))
		case events.Warning:
			p.println(iostreams.Paint(st.Warning, "! "+prefixed(ev.Name, ev.Job.Text)))
		case events.Retry:
			if ev.Name == "" {
				p.println(st.Warning.Render("↻") + " " + st.Muted.Render(retryText(ev.Job)))
			}
		case events.Detached:
			p.println(st.Warning.Render("!") + " " + prefixed(ev.Name, ev.Job.Text))
		}
	case batch.Finished:
		p.mu.Lock()
		l := p.lines[ev.Name]
		delete(p.lines, ev.Name)
		p.mu.Unlock()
		if l != nil {
			l.bar.Abort(true)
		}
		o := ev.Outcome
		switch {
		case o.State == batch.StateNotRun:
		case o.State.Succeeded():
			mark, what := st.Success.Render("✓"), string(o.State)
			if o.State == batch.StateUpToDate {
				mark, what = st.Muted.Render("="), "up to date"
			}
			files := ""
			if len(o.Files) > 0 {
				files = o.Files[0].Path
				if len(o.Files) > 1 {
					files += fmt.Sprintf(" +%d", len(o.Files)-1)
				}
			}
			p.println(mark + " " + st.Bold.Render(o.Name) + " " + what + " " + st.Muted.Render(files))
		default:
			p.println(st.Error.Render("✗") + " " + st.Bold.Render(o.Name) + " " + failedText(o))
		}
	case batch.Paused:
		p.println(st.Warning.Render("‖") + " " + ev.Message + st.Muted.Render(fmt.Sprintf("; submitting again in %s", time.Until(ev.Until).Round(time.Second))))
	case batch.Warning:
		p.println(iostreams.Paint(st.Warning, "! "+prefixed(ev.Name, ev.Message)))
	}
}

func prefixed(name, msg string) string {
	if name == "" {
		return msg
	}
	return name + ": " + msg
}

func (p *batchPretty) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		<-p.done
		return
	}
	p.closed = true
	p.cond.Signal()
	p.mu.Unlock()
	<-p.done
}
