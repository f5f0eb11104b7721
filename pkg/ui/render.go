// Package ui owns what hf draws for a person: the renderers that turn job
// events into lines on stderr (a pretty one with a spinner and progress bars
// on a terminal, plain greppable lines with a heartbeat otherwise, nothing
// when quiet) and error formatting. Streams and styles live in
// pkg/iostreams; stdout carries data only and is never written here.
package ui

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/hf-cli/hf/pkg/events"
	"github.com/hf-cli/hf/pkg/iostreams"
)

// Renderer draws job events on stderr. Handle may be called from several
// goroutines; Close stops any background drawing and is idempotent. Events
// after Close are ignored.
type Renderer interface {
	Handle(events.Event)
	Close()
}

// Mode chooses and tunes a renderer.
type Mode struct {
	Quiet bool
	// Unrecorded: the journal cannot be written, so even Quiet shows
	// warnings and each request id (the only way back to the request).
	Unrecorded bool
	// Heartbeat is how often the plain renderer reports a request still
	// waiting; 0 means 30s, negative disables it.
	Heartbeat time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// NewRenderer picks the renderer for the streams: nothing when Quiet, the
// pretty one when stderr may be animated, plain lines otherwise.
func NewRenderer(ios *iostreams.IOStreams, m Mode) Renderer {
	if m.Now == nil {
		m.Now = time.Now
	}
	switch {
	case m.Quiet && m.Unrecorded:
		return &unrecorded{w: ios.ErrOut}
	case m.Quiet:
		return quiet{}
	case ios.Animate():
		return newPretty(ios, m)
	default:
		if m.Heartbeat == 0 {
			m.Heartbeat = 30 * time.Second
		}
		return newPlain(ios, m)
	}
}

type quiet struct{}

func (quiet) Handle(events.Event) {}
func (quiet) Close()              {}

// unrecorded is quiet but for what a run without a journal must not hide:
// warnings and submitted request ids.
type unrecorded struct {
	mu sync.Mutex
	w  io.Writer
}

func (u *unrecorded) Handle(ev events.Event) {
	u.mu.Lock()
	defer u.mu.Unlock()
	switch ev.Kind {
	case events.Warning:
		fmt.Fprintf(u.w, "hf: warning: %s\n", ev.Text)
	case events.Submitted:
		fmt.Fprintf(u.w, "hf: submitted %s (%s)\n", ev.RequestID, ev.Model)
	}
}
func (*unrecorded) Close() {}

// request is one request the renderer has seen submitted or reported on.
type request struct {
	id, status string
	since      time.Time
	done       bool
}

// core is what both renderers share: one lock serializing every write, the
// requests seen, and a ticker goroutine that runs onTick (under the lock)
// while any request is still waiting.
type core struct {
	mu      sync.Mutex
	now     func() time.Time
	every   time.Duration
	onTick  func()
	reqs    map[string]*request
	waiting []*request
	stop    chan struct{}
	wg      sync.WaitGroup
	closed  bool
}

func newCore(now func() time.Time, every time.Duration) core {
	return core{now: now, every: every, reqs: map[string]*request{}}
}

// at is when ev happened: its own time, else now.
func (c *core) at(ev events.Event) time.Time {
	if ev.Time.IsZero() {
		return c.now()
	}
	return ev.Time
}

// track records ev's request as waiting (starting the ticker) and its status;
// changed reports a new request or a new status. Finished requests are left
// alone.
func (c *core) track(ev events.Event) (r *request, changed bool) {
	if ev.RequestID == "" {
		return nil, false
	}
	r = c.reqs[ev.RequestID]
	if r == nil {
		r = &request{id: ev.RequestID, status: "submitted", since: c.at(ev)}
		c.reqs[r.id] = r
		c.waiting = append(c.waiting, r)
		c.startTicker()
		changed = true
	}
	if r.done {
		return r, false
	}
	if ev.Status != "" && ev.Status != r.status {
		r.status, changed = ev.Status, true
	}
	return r, changed
}

// finish marks ev's request (every request when ev has none) as no longer
// waiting and stops the ticker when nothing is. It returns the request, if
// it was known.
func (c *core) finish(ev events.Event) *request {
	r := c.reqs[ev.RequestID]
	kept := c.waiting[:0]
	for _, w := range c.waiting {
		if ev.RequestID == "" || w == r {
			w.done = true
		} else {
			kept = append(kept, w)
		}
	}
	c.waiting = kept
	if len(c.waiting) == 0 {
		c.stopTicker()
	}
	return r
}

func (c *core) startTicker() {
	if c.stop != nil || c.every <= 0 || c.onTick == nil {
		return
	}
	c.stop = make(chan struct{})
	c.wg.Add(1)
	go c.loop(c.stop)
}

// stopTicker signals the goroutine; it exits without ticking again (it
// rechecks stop under the lock). Only close waits for it.
func (c *core) stopTicker() {
	if c.stop != nil {
		close(c.stop)
		c.stop = nil
	}
}

func (c *core) loop(stop <-chan struct{}) {
	defer c.wg.Done()
	t := time.NewTicker(c.every)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		c.mu.Lock()
		select {
		case <-stop:
		default:
			c.onTick()
		}
		c.mu.Unlock()
	}
}

// close runs cleanup once, under the lock, and waits for the ticker goroutine.
func (c *core) close(cleanup func()) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.stopTicker()
	cleanup()
	c.mu.Unlock()
	c.wg.Wait()
}

// elapsed is how long r has been waiting at t, rounded to round.
func elapsed(r *request, t time.Time, round time.Duration) time.Duration {
	if r == nil {
		return 0
	}
	d := t.Sub(r.since)
	if d < time.Second && round > time.Millisecond {
		round = time.Millisecond // "after 42ms", not "after 0s"
	}
	return d.Round(round)
}

// size is the byte count of a finished download.
func size(ev events.Event) int64 {
	d := ev.Download
	if d.Bytes <= 0 && d.Total > 0 {
		return d.Total
	}
	return max(d.Bytes, 0)
}

// humanBytes formats n in IEC units: "512 B", "1.5 KiB", "12.0 MiB".
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// retryText describes a retry: "<what> failed (<err>); retrying in 2s (attempt 1)",
// leaving out the delay or attempt when the event does not know them.
func retryText(ev events.Event) string {
	r := ev.Retry
	s := fmt.Sprintf("%s failed (%v); retrying", r.Op, r.Err)
	if r.Delay > 0 {
		s += " in " + r.Delay.Round(time.Millisecond).String()
	}
	if r.Attempt > 0 {
		s += fmt.Sprintf(" (attempt %d)", r.Attempt)
	}
	return s
}
