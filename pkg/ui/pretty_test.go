package ui_test

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/hf-cli/hf/pkg/events"
	"github.com/hf-cli/hf/pkg/iostreams"
	"github.com/hf-cli/hf/pkg/ui"
)

// terminal is a tiny terminal emulator for what the pretty renderer
// writes: text that wraps at width, \n, \r, cursor up (CSI n A), erase
// to the end of the screen (CSI J) and erase line (CSI K); SGR colours are
// dropped. Resize reflows the rows the way modern terminals do. Its Write
// is safe from several goroutines.
type terminal struct {
	mu    sync.Mutex
	width int
	// lines are logical lines (before wrapping); row, col the cursor in
	// wrapped rows of the current width.
	rows     []string
	row, col int
	raw      strings.Builder
}

var csi = regexp.MustCompile(`^\x1b\[([0-9;?]*)([A-Za-z])`)

func (t *terminal) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.raw.Write(b)
	s := string(b)
	for len(s) > 0 {
		if m := csi.FindStringSubmatch(s); m != nil {
			n, _ := strconv.Atoi(m[1])
			switch m[2] {
			case "A":
				t.row = max(t.row-max(n, 1), 0)
			case "J":
				t.ensure()
				t.rows[t.row] = t.rows[t.row][:min(t.col, len([]rune(t.rows[t.row])))]
				t.rows = t.rows[:t.row+1]
			case "K":
				t.ensure()
				r := []rune(t.rows[t.row])
				t.rows[t.row] = string(r[:min(t.col, len(r))])
			}
			s = s[len(m[0]):]
			continue
		}
		r := []rune(s)[0]
		s = s[len(string(r)):]
		switch r {
		case '\n':
			t.row++
			t.col = 0
			t.ensure()
		case '\r':
			t.col = 0
		default:
			if t.col >= t.width {
				t.row++
				t.col = 0
			}
			t.ensure()
			line := []rune(t.rows[t.row])
			for len(line) < t.col {
				line = append(line, ' ')
			}
			if t.col < len(line) {
				line[t.col] = r
			} else {
				line = append(line, r)
			}
			t.rows[t.row] = string(line)
			t.col++
		}
	}
	return len(b), nil
}

func (t *terminal) ensure() {
	for len(t.rows) <= t.row {
		t.rows = append(t.rows, "")
	}
}

// resize reflows every row to the new width, as a terminal that rewraps
// does; the cursor stays on its (empty) last row.
func (t *terminal) resize(width int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []string
	for i, r := range t.rows {
		if i == t.row && t.col == 0 && r == "" {
			break
		}
		rs := []rune(r)
		for len(rs) > width {
			out = append(out, string(rs[:width]))
			rs = rs[width:]
		}
		out = append(out, string(rs))
	}
	t.rows, t.row, t.col, t.width = append(out, ""), len(out), 0, width
}

// screen is what the terminal shows, one string per row, trailing empty
// rows dropped.
func (t *terminal) screen() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	rows := append([]string(nil), t.rows...)
	for len(rows) > 0 && strings.TrimSpace(rows[len(rows)-1]) == "" {
		rows = rows[:len(rows)-1]
	}
	return rows
}

func prettyOn(t *testing.T, width int) (*iostreams.IOStreams, *terminal) {
	t.Helper()
	term := &terminal{width: width}
	ios, _, _, _ := iostreams.Test()
	ios.ErrOut = term
	ios.SetStderrTTY(true)
	ios.SetTerminalWidth(width)
	return ios, term
}

// TestPrettyWidth: a waiting line far wider than the terminal is cut to
// it, so each redraw replaces it instead of adding a row.
func TestPrettyWidth(t *testing.T) {
	ios, term := prettyOn(t, 40)
	r := ui.NewRenderer(ios, ui.Mode{Now: clock})
	id := strings.Repeat("0123456789", 8)
	r.Handle(events.Event{Kind: events.Submitted, RequestID: id, Model: "m", Status: "queued", Time: t0})
	r.Handle(events.Event{Kind: events.TunnelReady, Tunnel: events.Tunnel{PublicURL: "https://x"}})
	time.Sleep(550 * time.Millisecond) // several redraws
	rows := term.screen()
	r.Close()
	for _, row := range rows {
		if w := ansi.StringWidth(row); w > 40 {
			t.Errorf("row %q is %d wide on a 40-column terminal", row, w)
		}
	}
	live := 0
	for _, row := range rows {
		if strings.Contains(row, "queued") {
			live++
		}
	}
	if live != 1 || !strings.HasSuffix(rows[len(rows)-1], "…") {
		t.Fatalf("want one waiting line, cut with …; screen:\n%s", strings.Join(rows, "\n"))
	}
}

// TestPrettyResize: after the terminal shrinks (SIGWINCH), the next
// redraw erases the live area by the rows it wrapped into: no stale lines.
func TestPrettyResize(t *testing.T) {
	ios, term := prettyOn(t, 100)
	r := ui.NewRenderer(ios, ui.Mode{Now: clock})
	r.Handle(events.Event{Kind: events.Submitted, RequestID: "d7e6c0f3-6699-4f6c-bb45-2ad7fd9158ff", Model: "higgsfield-ai/soul/standard", Status: "queued", Time: t0})
	r.Handle(events.Event{Kind: events.StatusChanged, RequestID: "d7e6c0f3-6699-4f6c-bb45-2ad7fd9158ff", Status: "in_progress"})
	time.Sleep(250 * time.Millisecond)
	term.resize(30)
	ios.SetTerminalWidth(30)
	time.Sleep(350 * time.Millisecond)
	rows := term.screen()
	r.Close()
	n := 0
	for _, row := range rows {
		if strings.Contains(row, "in_progress") {
			n++
		}
	}
	want := []string{"✓ submitted d7e6c0f3-6699-4f6c-bb45-2ad7fd9158ff (higgsfield-ai/soul/standard)"}
	if n != 1 || len(rows) != 4 { // the submitted line rewrapped to 3 rows, one waiting line
		t.Fatalf("after the resize want the submitted line and one waiting line; screen:\n%s\n(%v)", strings.Join(rows, "\n"), want)
	}
}

// TestPrettyRetriesCollapse: 50 identical failed polls leave one line with
// a count, not 50.
func TestPrettyRetriesCollapse(t *testing.T) {
	ios, term := prettyOn(t, 120)
	r := ui.NewRenderer(ios, ui.Mode{Now: clock})
	r.Handle(events.Event{Kind: events.Submitted, RequestID: "r1", Model: "m", Status: "queued", Time: t0})
	for i := range 50 {
		r.Handle(events.Event{Kind: events.Retry, RequestID: "r1", Retry: events.RetryInfo{Op: "status check", Err: errors.New("503 Service Unavailable"), Attempt: i + 1}})
		if i == 10 {
			time.Sleep(250 * time.Millisecond) // the live count shows meanwhile
		}
	}
	r.Handle(events.Event{Kind: events.Retry, RequestID: "r1", Retry: events.RetryInfo{Op: "status check", Err: errors.New("connection reset")}})
	r.Handle(events.Event{Kind: events.Completed, RequestID: "r1", Status: "completed", Time: at(3 * time.Second)})
	r.Close()
	screen := strings.Join(term.screen(), "\n")
	if strings.Count(screen, "503") != 1 || !strings.Contains(screen, "↻ status check failed (503 Service Unavailable); retrying (50×)") {
		t.Fatalf("want one collapsed 503 line with (50×); screen:\n%s", screen)
	}
	if !strings.Contains(screen, "connection reset); retrying\n") && !strings.Contains(screen, "connection reset); retrying") {
		t.Fatalf("the different failure is its own line; screen:\n%s", screen)
	}
	if strings.Contains(term.raw.String(), "(11×)") == false {
		t.Errorf("the live line never showed the running count")
	}
}

// TestPrettyParallelBars: several large outputs downloading at once get
// one named bar each, and no bar goes backwards.
func TestPrettyParallelBars(t *testing.T) {
	ios, term := prettyOn(t, 100)
	r := ui.NewRenderer(ios, ui.Mode{Now: clock})
	const total = 10 << 20
	for i := 1; i <= 3; i++ {
		r.Handle(events.Event{Kind: events.DownloadStarted, Download: events.Download{Index: i, Count: 3, URL: fmt.Sprintf("https://cdn/a/%d.png?sig=x", i), Total: -1}})
	}
	for step := int64(1); step <= 4; step++ {
		for i := 1; i <= 3; i++ {
			r.Handle(events.Event{Kind: events.DownloadProgress, Download: events.Download{Index: i, Count: 3, URL: fmt.Sprintf("https://cdn/a/%d.png", i), Bytes: step * total / 10 * int64(i) / 2, Total: total}})
		}
	}
	// A restarted transfer reports fewer bytes: the bar stays where it was.
	r.Handle(events.Event{Kind: events.DownloadProgress, Download: events.Download{Index: 3, Count: 3, URL: "https://cdn/a/3.png", Bytes: 1, Total: total}})
	time.Sleep(300 * time.Millisecond)
	rows := term.screen()
	for i := 1; i <= 3; i++ {
		r.Handle(events.Event{Kind: events.Downloaded, Download: events.Download{Index: i, Count: 3, Path: fmt.Sprintf("out/%d.png", i), Bytes: total, Total: total}})
	}
	r.Close()
	var bars []string
	for _, row := range rows {
		if strings.Contains(row, "%") {
			bars = append(bars, row)
		}
	}
	if len(bars) != 3 {
		t.Fatalf("want 3 bars; screen:\n%s", strings.Join(rows, "\n"))
	}
	for i, b := range bars {
		if !strings.HasPrefix(b, fmt.Sprintf("output %d/3 ", i+1)) {
			t.Errorf("bar %d is %q, want it named after its output", i+1, b)
		}
	}
	if !strings.Contains(bars[2], "60 %") && !strings.Contains(bars[2], "60%") {
		t.Errorf("bar 3 went back: %q (want 60%%)", bars[2])
	}
	final := strings.Join(term.screen(), "\n")
	if strings.Contains(final, "%") || strings.Count(final, "✓ saved out/") != 3 {
		t.Errorf("after the downloads want 3 saved lines and no bar; screen:\n%s", final)
	}
}

// TestPrettyTunnelOpening: opening ngrok is said at once.
func TestPrettyTunnelOpening(t *testing.T) {
	ios, term := prettyOn(t, 80)
	r := ui.NewRenderer(ios, ui.Mode{Now: clock})
	r.Handle(events.Event{Kind: events.TunnelOpening, Tunnel: events.Tunnel{Provider: "ngrok"}})
	r.Close()
	if s := strings.Join(term.screen(), "\n"); s != "· opening ngrok tunnel…" {
		t.Fatalf("screen %q", s)
	}
	ios, _, _, errOut := iostreams.Test()
	render(ios, ui.Mode{Heartbeat: time.Hour}, []events.Event{{Kind: events.TunnelOpening, Tunnel: events.Tunnel{Provider: "ngrok"}}})
	if errOut.String() != "hf: opening ngrok tunnel…\n" {
		t.Fatalf("plain: %q", errOut)
	}
}

// TestStopLive: a second Ctrl-C's message starts on a clean line: the
// live area is erased and never drawn again.
func TestStopLive(t *testing.T) {
	ios, term := prettyOn(t, 80)
	r := ui.NewRenderer(ios, ui.Mode{Now: clock})
	r.Handle(events.Event{Kind: events.Submitted, RequestID: "r1", Model: "m", Status: "queued", Time: t0})
	time.Sleep(250 * time.Millisecond)
	ui.StopLive()
	_, _ = term.Write([]byte("hf: interrupted again\n"))
	time.Sleep(250 * time.Millisecond)
	rows := term.screen()
	r.Close()
	if strings.Join(rows, "\n") != "✓ submitted r1 (m)\nhf: interrupted again" {
		t.Fatalf("screen:\n%s", strings.Join(rows, "\n"))
	}
}
