package ui

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/hf-cli/hf/pkg/iostreams"
	"github.com/hf-cli/hf/pkg/listen"
	"github.com/hf-cli/hf/pkg/redact"
)

// ListenRenderer draws hf listen's events, stripe-style: a "-->" line when a
// delivery arrives and a "<--" line per answer on stderr, or with JSON one
// object per answered delivery on stdout (NDJSON). Tunnel notices and
// warnings always go to stderr. Handle is safe for concurrent use.
type ListenRenderer struct {
	mu   sync.Mutex
	out  io.Writer
	err  io.Writer
	st   iostreams.Styles
	json bool
}

// NewListenRenderer returns the renderer for hf listen's streams.
func NewListenRenderer(out, errOut io.Writer, st iostreams.Styles, jsonOut bool) *ListenRenderer {
	return &ListenRenderer{out: out, err: errOut, st: st, json: jsonOut}
}

// Handle draws one event.
func (r *ListenRenderer) Handle(e listen.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch e.Kind {
	case listen.Received:
		if !r.json {
			fmt.Fprintln(r.err, r.arrived(e.Delivery))
		}
	case listen.Forwarded:
		if !r.json {
			fmt.Fprintln(r.err, r.forwarded(*e.Forward))
		}
	case listen.Answered:
		if r.json {
			line, err := json.Marshal(e.Delivery)
			if err == nil {
				fmt.Fprintf(r.out, "%s\n", line)
			}
			return
		}
		if s := r.answered(e.Delivery); s != "" {
			fmt.Fprintln(r.err, s)
		}
	case listen.TunnelDown:
		reason := ""
		if e.Err != nil {
			reason = ": " + firstLine(e.Err.Error())
		}
		if e.Attempt <= 1 {
			fmt.Fprintln(r.err, r.st.Warning.Render("hf: the tunnel session dropped"+reason+"; reconnecting (deliveries wait for it: Higgsfield retries)"))
		} else {
			down := ""
			if e.Down >= time.Second {
				down = ", down " + shortDuration(e.Down)
			}
			fmt.Fprintln(r.err, r.st.Warning.Render(fmt.Sprintf("hf: still reconnecting (attempt %d%s)%s", e.Attempt, down, reason)))
		}
	case listen.TunnelUp:
		if e.Changed {
			fmt.Fprintln(r.err, r.st.Warning.Render(fmt.Sprintf("hf: the tunnel is back after %s at a NEW URL; use it as hf_webhook: %s", shortDuration(e.Down), e.URL)))
		} else {
			fmt.Fprintln(r.err, r.st.Success.Render(fmt.Sprintf("hf: the tunnel is back after %s, same URL", shortDuration(e.Down))))
		}
	case listen.Checking:
		fmt.Fprintf(r.err, "hf: checking that %s answers from this host (up to %s)...\n", e.URL, shortDuration(e.Down))
	case listen.Warning:
		fmt.Fprintln(r.err, r.st.Warning.Render("hf: warning: "+e.Message))
	}
}

// arrived is "--> completed 9417a243-… (1 image)  [signed]".
// What a delivery says about itself is shown made safe for a terminal
// (control characters and bidi overrides out, bounded).
func (r *ListenRenderer) arrived(d *listen.Delivery) string {
	what := redact.OneLine(d.Status, 40)
	if what == "" {
		what = "delivery"
	}
	s := "--> " + r.st.Bold.Render(what)
	switch id := redact.OneLine(d.RequestID, 80); {
	case len(id) > 9: // a UUID shows its first group: 9417a243-…
		s += " " + r.st.ID.Render(id[:9]+"…")
	case id != "":
		s += " " + r.st.ID.Render(id)
	case d.WebhookID != "":
		s += " " + r.st.ID.Render(redact.OneLine(d.WebhookID, 80))
	}
	if out := outputs(d.Outputs); out != "" {
		s += " (" + out + ")"
	}
	switch {
	case d.Rejected != "":
		s += "  " + r.st.Error.Render("[rejected: "+d.Rejected+"]")
	case d.Verified:
		s += "  " + r.st.Success.Render("[signed]")
	default:
		s += "  " + r.st.Warning.Render("[unverified]")
	}
	return s
}

// forwarded is "<-- [200] POST http://localhost:3000/webhooks (12 ms)".
// URLs are shown without userinfo, query values or an hf secret path.
func (r *ListenRenderer) forwarded(f listen.Forward) string {
	if f.Code == 0 {
		return fmt.Sprintf("<-- %s POST %s: %s (%s)", r.st.Error.Render("[ERR]"), redact.URL(f.URL), redact.OneLine(f.Error, 200), latency(f.Latency))
	}
	code := fmt.Sprintf("[%d]", f.Code)
	if f.OK() {
		code = r.st.Success.Render(code)
	} else {
		code = r.st.Error.Render(code)
	}
	line := fmt.Sprintf("<-- %s POST %s (%s)", code, redact.URL(f.URL), latency(f.Latency))
	if f.Location != "" {
		line += r.st.Muted.Render(" redirects to " + redact.URL(f.Location) + ", not followed: forward there instead")
	}
	return line
}

// answered says what the sender got when the forward lines do not show it.
func (r *ListenRenderer) answered(d *listen.Delivery) string {
	switch {
	case d.Rejected != "":
		return fmt.Sprintf("<-- %s not forwarded", r.st.Error.Render(fmt.Sprintf("[%d]", d.Answer)))
	case len(d.Forwards) == 0:
		return fmt.Sprintf("<-- %s acknowledged (no --forward-to)", r.st.Success.Render(fmt.Sprintf("[%d]", d.Answer)))
	case d.Answer == http.StatusBadGateway:
		return r.st.Muted.Render("    answered 502: Higgsfield will retry this delivery")
	case d.Answer == 0:
		return r.st.Muted.Render("    no answer sent (the connection closed): Higgsfield will retry this delivery")
	}
	return ""
}

// outputs is "1 image", "2 images, 1 video".
func outputs(n map[string]int) string {
	var parts []string
	for _, k := range []string{"image", "video", "audio", "file"} {
		if c := n[k]; c > 0 {
			p := fmt.Sprintf("%d %s", c, k)
			if c > 1 {
				p += "s"
			}
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, ", ")
}

// latency is a round trip for people: "0.4 ms", "12 ms", "1.3 s".
func latency(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000)
	case d < 10*time.Second:
		return fmt.Sprintf("%d ms", d.Round(time.Millisecond).Milliseconds())
	}
	return fmt.Sprintf("%.1f s", d.Seconds())
}

// shortDuration is an outage for people: "350ms", "12s", "3m5s".
func shortDuration(d time.Duration) string {
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}
