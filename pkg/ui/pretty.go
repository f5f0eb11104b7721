package ui

import (
	"fmt"
	"io"
	"path"
	"sync"
	"time"

	"github.com/charmbracelet/x/ansi"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/hf-cli/hf/pkg/events"
	"github.com/hf-cli/hf/pkg/iostreams"
)

const (
	// spinnerEvery is how often the live lines are redrawn.
	spinnerEvery = 100 * time.Millisecond
	// barMin is the size from which a download gets a progress bar.
	barMin = 4 << 20
)

// spinnerFrames are the waiting line's frames, one per redraw.
var spinnerFrames = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

// pretty draws styled lines on a terminal with a live area below them,
// drawn by mpb: one waiting line while requests wait, one bar per large
// download (named after its output, moving only forward), and a retry line
// that counts identical failures ("retrying (12×)") instead of repeating
// them. Every live line is cut to the terminal's width, read again on each
// redraw, and the live area is erased by the rows it really occupies after a
// resize (liveWriter), so neither a long line nor a SIGWINCH leaves stale
// lines behind. Finished things are printed above the live area.
//
// Locking: mu serializes Handle and Close, which call mpb; state is what the
// decorators read from mpb's goroutine, under smu, which is never held
// while calling mpb.
type pretty struct {
	core
	st       iostreams.Styles
	progress *mpb.Progress
	live     *liveWriter

	spin  *mpb.Bar
	bars  map[int]*mpb.Bar // per output index
	retry *mpb.Bar

	smu   sync.Mutex
	state prettyState
}

// prettyState is what the live lines show.
type prettyState struct {
	frame   int
	webhook bool
	// waiting describes the newest waiting request, extra how many more wait.
	waitID, waitStatus string
	waitSince          time.Time
	extra              int
	// retryText and retries: the retry line and how many times it happened.
	retryKey, retryText string
	retries             int
}

func newPretty(ios *iostreams.IOStreams, m Mode) *pretty {
	p := &pretty{core: newCore(m.Now, 0), st: ios.ErrStyles(), bars: map[int]*mpb.Bar{}, live: newLiveWriter(ios.ErrOut, ios.TerminalSize)}
	p.progress = mpb.New(
		mpb.WithConsoleWriter(p.live),
		mpb.WithRefreshRate(spinnerEvery),
		mpb.WithAutoRefresh(),
	)
	return p
}

func (p *pretty) Handle(ev events.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	st := p.st
	if ev.Kind != events.Retry && ev.Kind != events.DownloadProgress {
		p.endRetry()
	}
	switch ev.Kind {
	case events.TunnelOpening:
		p.println(st.Muted.Render("· opening " + ev.Tunnel.Provider + " tunnel…"))
	case events.TunnelReady:
		p.smu.Lock()
		p.state.webhook = true
		p.smu.Unlock()
		p.println(st.Success.Render("✓") + " webhook endpoint ready " + st.Muted.Render(ev.Tunnel.PublicURL))
	case events.Warning:
		p.println(iostreams.Paint(st.Warning, "! "+ev.Text))
	case events.Submitted:
		p.track(ev)
		p.println(st.Success.Render("✓") + " submitted " + st.ID.Render(ev.RequestID) + " " + st.Muted.Render("("+ev.Model+")"))
		p.updateWaiting()
	case events.Retry:
		p.retried(ev)
	case events.StatusChanged:
		if _, changed := p.track(ev); changed {
			p.updateWaiting()
		}
	case events.WebhookReceived:
		p.println(st.Muted.Render("· webhook received for ") + st.ID.Render(ev.RequestID))
	case events.Completed:
		r := p.finish(ev)
		p.updateWaiting()
		// A failed outcome is not printed here: the command reports it
		// once, as its error.
		if ev.Status == "completed" {
			p.println(p.completed(ev, r))
		}
	case events.DownloadStarted, events.DownloadProgress:
		p.progressed(ev)
	case events.Downloaded:
		if b := p.bars[ev.Download.Index]; b != nil {
			b.Abort(true)
			delete(p.bars, ev.Download.Index)
		}
		p.println(st.Success.Render("✓") + " saved " + ev.Download.Path + " " + st.Muted.Render("("+humanBytes(size(ev))+")"))
	case events.Detached:
		p.finish(ev)
		p.updateWaiting()
		p.println(iostreams.Paint(st.Warning, ev.Text))
	}
}

func (p *pretty) completed(ev events.Event, r *request) string {
	s := p.st.Success.Render("✓") + " completed"
	if r != nil {
		s += " in " + elapsed(r, p.at(ev), 100*time.Millisecond).String()
	}
	if ev.Outcome.NotifiedBy != "" {
		s += " " + p.st.Muted.Render("("+ev.Outcome.NotifiedBy+")")
	}
	return s
}

// updateWaiting shows the newest waiting request on the waiting line, or
// removes the line when nothing waits.
func (p *pretty) updateWaiting() {
	if len(p.waiting) == 0 {
		if p.spin != nil {
			p.spin.Abort(true)
			p.spin = nil
		}
		return
	}
	r := p.waiting[len(p.waiting)-1]
	p.smu.Lock()
	p.state.waitID, p.state.waitStatus, p.state.waitSince, p.state.extra = r.id, r.status, r.since, len(p.waiting)-1
	p.smu.Unlock()
	if p.spin == nil {
		p.spin = p.progress.New(0, mpb.NopStyle(), mpb.BarFillerTrim(), mpb.BarPriority(0),
			mpb.PrependDecorators(lineDecorator(p.waitingLine)))
	}
}

// waitingLine is the waiting line's text (mpb's goroutine calls it).
func (p *pretty) waitingLine() string {
	p.smu.Lock()
	defer p.smu.Unlock()
	s := &p.state
	st := p.st
	frame := spinnerFrames[s.frame%len(spinnerFrames)]
	s.frame++
	line := st.ID.Render(frame) + " " + s.waitStatus + " " + st.ID.Render(s.waitID) +
		st.Muted.Render(" · "+p.now().Sub(s.waitSince).Round(time.Second).String())
	if s.webhook {
		line += st.Muted.Render(" · waiting for the webhook")
	}
	if s.extra > 0 {
		line += st.Muted.Render(fmt.Sprintf(" (+%d more)", s.extra))
	}
	return line
}

// retried shows a retry on the retry line; the same failure again only
// counts up there ("retrying (12×)"), and the line is printed for good once
// something else happens.
func (p *pretty) retried(ev events.Event) {
	key := ev.Retry.Op + "\x00" + fmt.Sprint(ev.Retry.Err)
	p.smu.Lock()
	same := p.retry != nil && p.state.retryKey == key
	if same {
		p.state.retries++
	}
	p.smu.Unlock()
	if same {
		return
	}
	p.endRetry()
	p.smu.Lock()
	p.state.retryKey, p.state.retryText, p.state.retries = key, fmt.Sprintf("%s failed (%v); retrying", ev.Retry.Op, ev.Retry.Err), 1
	p.smu.Unlock()
	p.retry = p.progress.New(0, mpb.NopStyle(), mpb.BarFillerTrim(), mpb.BarPriority(-1),
		mpb.PrependDecorators(lineDecorator(func() string {
			p.smu.Lock()
			defer p.smu.Unlock()
			return p.retryLine()
		})))
}

// retryLine is the retry line's text (under smu).
func (p *pretty) retryLine() string {
	s := p.state.retryText
	if p.state.retries > 1 {
		s += fmt.Sprintf(" (%d×)", p.state.retries)
	}
	return p.st.Warning.Render("↻") + " " + p.st.Muted.Render(s)
}

// endRetry prints the retry line for good, with its count, and removes it
// from the live area.
func (p *pretty) endRetry() {
	if p.retry == nil {
		return
	}
	p.smu.Lock()
	line := p.retryLine()
	p.state.retryKey = ""
	p.smu.Unlock()
	p.retry.Abort(true)
	p.retry = nil
	p.println(line)
}

// progressed drives the bar of a large download: one per output, named
// after it, moving only forward.
func (p *pretty) progressed(ev events.Event) {
	d := ev.Download
	b := p.bars[d.Index]
	if b == nil {
		if d.Total <= barMin {
			return
		}
		b = p.progress.New(d.Total, mpb.BarStyle().Lbound("[").Rbound("]"), mpb.BarWidth(20), mpb.BarRemoveOnComplete(),
			mpb.BarPriority(d.Index),
			mpb.PrependDecorators(lineDecorator(func() string { return p.downloadName(d) + " " })),
			mpb.AppendDecorators(decor.CountersKibiByte("% .1f / % .1f"), decor.Percentage(decor.WC{W: 6})))
		p.bars[d.Index] = b
	}
	if ev.Kind == events.DownloadProgress && d.Bytes > b.Current() {
		b.SetCurrent(min(d.Bytes, d.Total))
	}
}

// downloadName labels an output's bar: "output 2/4" when there are
// several (its file name is known only once saved), else the file the URL
// names.
func (p *pretty) downloadName(d events.Download) string {
	if d.Count > 1 {
		return fmt.Sprintf("output %d/%d", d.Index, d.Count)
	}
	if d.Path != "" {
		return path.Base(d.Path)
	}
	return path.Base(stripQuery(d.URL))
}

func stripQuery(u string) string {
	for i := 0; i < len(u); i++ {
		if u[i] == '?' || u[i] == '#' {
			return u[:i]
		}
	}
	return u
}

// println prints a line above the live area.
func (p *pretty) println(s string) {
	_, _ = fmt.Fprintln(p.progress, s)
}

func (p *pretty) Close() {
	p.close(func() {
		p.endRetry()
		for i, b := range p.bars {
			b.Abort(true)
			delete(p.bars, i)
		}
		if p.spin != nil {
			p.spin.Abort(true)
			p.spin = nil
		}
		p.progress.Wait()
		// mpb is done: erase what its last frame left of the live area
		// and write the lines printed since.
		_ = p.live.Flush(0)
		p.live.release()
	})
}

// lineDecorator is an mpb decorator showing fn's (styled) text cut to the
// width left on the line, counting only visible characters (mpb's own
// decorators count escape codes as text).
func lineDecorator(fn func() string) decor.Decorator { return &line{fn: fn} }

type line struct {
	decor.WC
	fn func() string
}

func (l *line) Decor(s decor.Statistics) (string, int) {
	str := ansi.Truncate(l.fn(), max(s.AvailableWidth, 0), "…")
	return str, ansi.StringWidth(str)
}

// liveWriter is the mpb console writer: it buffers a frame, and before
// drawing the next one moves the cursor up over the rows the previous live
// area occupies at the terminal's current width (a line that fitted before
// a resize may now wrap), then clears to the end of the screen.
type liveWriter struct {
	mu   sync.Mutex
	dead bool // StopLive: draw nothing more
	out  io.Writer
	size func() (int, int)
	buf  []byte
	// prev holds the visible widths of the previous frame's live lines.
	prev []int
}

func newLiveWriter(out io.Writer, size func() (int, int)) *liveWriter {
	w := &liveWriter{out: out, size: size}
	livesMu.Lock()
	lives[w] = struct{}{}
	livesMu.Unlock()
	return w
}

var (
	livesMu sync.Mutex
	lives   = map[*liveWriter]struct{}{}
)

// StopLive erases every live area on the terminal (spinners, bars) and
// stops drawing them, so that a last message (a second Ctrl-C's) starts
// on a clean line. The process is expected to exit right after.
func StopLive() {
	livesMu.Lock()
	defer livesMu.Unlock()
	for w := range lives {
		w.mu.Lock()
		if !w.dead {
			_, _ = w.out.Write(w.erase())
			w.dead = true
		}
		w.mu.Unlock()
	}
}

// erase is what moves the cursor back over the previous live area and
// clears it (under mu).
func (w *liveWriter) erase() []byte {
	width, _ := w.size()
	rows := 0
	for _, n := range w.prev {
		rows += max(1, (n+width-1)/max(width, 1))
	}
	w.prev = w.prev[:0]
	if rows == 0 {
		return nil
	}
	return fmt.Appendf(nil, "\x1b[%dA\x1b[J", rows)
}

// release forgets w (the renderer closed).
func (w *liveWriter) release() {
	livesMu.Lock()
	delete(lives, w)
	livesMu.Unlock()
}

func (w *liveWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, b...)
	return len(b), nil
}

func (w *liveWriter) ReadFrom(r io.Reader) (int64, error) {
	b, err := io.ReadAll(r)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, b...)
	return int64(len(b)), err
}

func (w *liveWriter) IsTerminal() bool { return true }

// GetTermSize leaves the last column free: a line that fills the width
// exactly wraps early on some terminals.
func (w *liveWriter) GetTermSize() (int, int, error) {
	width, height := w.size()
	return max(width-1, 1), height, nil
}

// Flush draws the buffered frame, whose last lines lines are the live area.
func (w *liveWriter) Flush(lines int) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.dead {
		w.buf = w.buf[:0]
		return nil
	}
	out := append(w.erase(), w.buf...)
	all := splitLines(w.buf)
	for _, l := range all[max(len(all)-lines, 0):] {
		w.prev = append(w.prev, ansi.StringWidth(l))
	}
	w.buf = w.buf[:0]
	if len(out) == 0 { // an idle frame: nothing live, nothing printed
		return nil
	}
	_, err := w.out.Write(out)
	return err
}

// splitLines splits a frame into its lines, without the newlines.
func splitLines(b []byte) []string {
	var lines []string
	start := 0
	for i, c := range b {
		if c == '\n' {
			lines = append(lines, string(b[start:i]))
			start = i + 1
		}
	}
	if start < len(b) {
		lines = append(lines, string(b[start:]))
	}
	return lines
}
