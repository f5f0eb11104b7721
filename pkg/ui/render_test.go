package ui_test

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hf-cli/hf/pkg/events"
	"github.com/hf-cli/hf/pkg/iostreams"
	"github.com/hf-cli/hf/pkg/ui"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var (
	t0    = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	sgr   = regexp.MustCompile(`\x1b\[[0-9;]*m`)
	clock = func() time.Time { return t0.Add(5 * time.Second) }
)

func at(d time.Duration) time.Time { return t0.Add(d) }

// generate is the event sequence of a typical `hf generate`.
func generate() []events.Event {
	id := "req_1"
	return []events.Event{
		{Kind: events.TunnelReady, Tunnel: events.Tunnel{PublicURL: "https://abc.ngrok.app"}},
		{Kind: events.Warning, Text: "HF_WEBHOOK_SECRET unset; confirming deliveries by polling"},
		{Kind: events.Retry, Retry: events.RetryInfo{Op: "submit", Err: errors.New("503 Service Unavailable"), Delay: 2 * time.Second, Attempt: 1}},
		{Kind: events.Submitted, RequestID: id, Model: "flux-pro", Status: "queued", Time: at(0)},
		{Kind: events.StatusChanged, RequestID: id, Status: "queued", Time: at(time.Second)},
		{Kind: events.StatusChanged, RequestID: id, Status: "in_progress", Time: at(2 * time.Second)},
		{Kind: events.StatusChanged, RequestID: id, Status: "in_progress", Time: at(3 * time.Second)},
		{Kind: events.WebhookReceived, RequestID: id, Time: at(12 * time.Second)},
		{Kind: events.Completed, RequestID: id, Status: "completed", Time: at(12340 * time.Millisecond), Outcome: events.Outcome{NotifiedBy: "webhook"}},
		{Kind: events.DownloadStarted, RequestID: id, Download: events.Download{Path: "out/req_1.png", Index: 1, Count: 1, Total: 1536}},
		{Kind: events.DownloadProgress, RequestID: id, Download: events.Download{Path: "out/req_1.png", Index: 1, Count: 1, Bytes: 1536, Total: 1536}},
		{Kind: events.Downloaded, RequestID: id, Download: events.Download{Path: "out/req_1.png", Index: 1, Count: 1, Bytes: 1536, Total: 1536}},
	}
}

func render(ios *iostreams.IOStreams, m ui.Mode, evs []events.Event) {
	r := ui.NewRenderer(ios, m)
	for _, ev := range evs {
		r.Handle(ev)
	}
	r.Close()
}

func TestPlain(t *testing.T) {
	tests := []struct {
		name   string
		events []events.Event
		want   string
	}{
		{"generate", generate(), `hf: webhook endpoint ready at https://abc.ngrok.app
hf: warning: HF_WEBHOOK_SECRET unset; confirming deliveries by polling
hf: submit failed (503 Service Unavailable); retrying in 2s (attempt 1)
hf: submitted req_1 (flux-pro)
hf: req_1 in_progress
hf: webhook received for req_1
hf: req_1 completed after 12.3s (via webhook)
hf: saved out/req_1.png (1.5 KiB)
`},
		{"wait without submit", []events.Event{
			{Kind: events.StatusChanged, RequestID: "r", Status: "in_progress", Time: at(0)},
			{Kind: events.StatusChanged, RequestID: "r", Status: "in_progress", Time: at(time.Second)},
			{Kind: events.Completed, RequestID: "r", Status: "failed", Time: at(2 * time.Second), Outcome: events.Outcome{NotifiedBy: "poll"}},
			{Kind: events.StatusChanged, RequestID: "r", Status: "failed", Time: at(3 * time.Second)},
		}, "hf: r in_progress\nhf: r failed after 2s (via poll)\n"},
		{"completed unseen", []events.Event{
			{Kind: events.Completed, RequestID: "r", Status: "nsfw"},
		}, "hf: r nsfw\n"},
		{"detached", []events.Event{
			{Kind: events.Submitted, RequestID: "r", Model: "m", Time: at(0)},
			{Kind: events.Detached, RequestID: "r", Text: "detached; resume with: hf wait r"},
		}, "hf: submitted r (m)\nhf: detached; resume with: hf wait r\n"},
		{"large download", []events.Event{
			{Kind: events.DownloadStarted, Download: events.Download{Path: "v.mp4", Total: 10 << 20}},
			{Kind: events.DownloadProgress, Download: events.Download{Path: "v.mp4", Bytes: 5 << 20, Total: 10 << 20}},
			{Kind: events.Downloaded, Download: events.Download{Path: "v.mp4", Bytes: 10 << 20, Total: 10 << 20}},
		}, "hf: saved v.mp4 (10.0 MiB)\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ios, _, out, errOut := iostreams.Test()
			render(ios, ui.Mode{Heartbeat: time.Hour, Now: clock}, tt.events)
			if got := errOut.String(); got != tt.want {
				t.Errorf("stderr:\n%s\nwant:\n%s", got, tt.want)
			}
			if out.Len() != 0 {
				t.Errorf("stdout written: %q", out)
			}
		})
	}
}

func TestPlainHeartbeat(t *testing.T) {
	ios, _, _, errOut := iostreams.Test()
	r := ui.NewRenderer(ios, ui.Mode{Heartbeat: 20 * time.Millisecond, Now: clock})
	r.Handle(events.Event{Kind: events.Submitted, RequestID: "req_1", Model: "m", Status: "queued", Time: t0})
	time.Sleep(110 * time.Millisecond)
	r.Handle(events.Event{Kind: events.Completed, RequestID: "req_1", Status: "completed", Time: at(6 * time.Second), Outcome: events.Outcome{NotifiedBy: "poll"}})
	time.Sleep(80 * time.Millisecond)
	r.Close()

	before, after, ok := strings.Cut(errOut.String(), "hf: req_1 completed after 6s (via poll)\n")
	if !ok {
		t.Fatalf("no completion line in:\n%s", errOut)
	}
	if n := strings.Count(before, "hf: still waiting for req_1: queued, 5s elapsed\n"); n < 2 {
		t.Errorf("want heartbeats while waiting, got %d in:\n%s", n, before)
	}
	if after != "" {
		t.Errorf("output after completion: %q", after)
	}
}

func TestQuiet(t *testing.T) {
	for _, tty := range []bool{false, true} {
		ios, _, out, errOut := iostreams.Test()
		ios.SetStderrTTY(tty)
		render(ios, ui.Mode{Quiet: true, Heartbeat: time.Millisecond}, generate())
		if out.Len()+errOut.Len() != 0 {
			t.Errorf("tty=%v: quiet wrote %q / %q", tty, out, errOut)
		}
	}
}

func TestPretty(t *testing.T) {
	failed := []events.Event{
		{Kind: events.Submitted, RequestID: "req_2", Model: "kling", Time: t0},
		{Kind: events.Completed, RequestID: "req_2", Status: "failed", Time: at(time.Second), Outcome: events.Outcome{Reason: errors.New("out of credits").Error()}},
	}
	large := []events.Event{
		{Kind: events.DownloadStarted, Download: events.Download{Path: "out/v.mp4", Total: 8 << 20}},
		{Kind: events.DownloadProgress, Download: events.Download{Path: "out/v.mp4", Bytes: 4 << 20, Total: 8 << 20}},
		{Kind: events.DownloadProgress, Download: events.Download{Path: "out/v.mp4", Bytes: 8 << 20, Total: 8 << 20}},
		{Kind: events.Downloaded, Download: events.Download{Path: "out/v.mp4", Bytes: 8 << 20, Total: 8 << 20}},
	}
	tests := []struct {
		name   string
		color  bool
		events []events.Event
		want   []string // substrings of the output without ANSI sequences
		bar    bool     // a progress bar was drawn
	}{
		{"completed plain", false, generate(), []string{
			"✓ webhook endpoint ready https://abc.ngrok.app\n",
			"! HF_WEBHOOK_SECRET unset",
			"✓ submitted req_1 (flux-pro)\n",
			"req_1 · 5s · waiting for the webhook",
			"✓ completed in 12.3s (webhook)\n",
			"✓ saved out/req_1.png (1.5 KiB)\n",
		}, false},
		{"completed color", true, generate(), []string{"✓ completed in 12.3s (webhook)\n"}, false},
		{"failed", false, failed, []string{"✓ submitted req_2 (kling)\n"}, false},
		{"large download", false, large, []string{"v.mp4", "✓ saved out/v.mp4 (8.0 MiB)\n"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ios, _, out, errOut := iostreams.Test()
			ios.SetStderrTTY(true)
			ios.SetColorEnabled(tt.color)
			render(ios, ui.Mode{Now: clock}, tt.events)
			raw := errOut.String()
			if hasColor := sgr.MatchString(raw); hasColor != tt.color {
				t.Errorf("colour codes present = %v, want %v: %q", hasColor, tt.color, raw)
			}
			plain := regexp.MustCompile(`\x1b\[[0-9;]*[A-Za-z]|\r`).ReplaceAllString(raw, "")
			for _, w := range tt.want {
				if !strings.Contains(plain, w) {
					t.Errorf("missing %q in:\n%s", w, plain)
				}
			}
			if tt.name == "failed" && strings.Contains(plain, "out of credits") {
				t.Errorf("the failure is shown by the renderer too (the command prints it once):\n%s", plain)
			}
			if bar := strings.Contains(plain, "%"); bar != tt.bar {
				t.Errorf("progress bar drawn = %v, want %v:\n%q", bar, tt.bar, raw)
			}
			if out.Len() != 0 {
				t.Errorf("stdout written: %q", out)
			}
		})
	}
}

// Without a webhook endpoint the waiting line does not claim to wait for one.
func TestPrettyPollingLine(t *testing.T) {
	ios, _, _, errOut := iostreams.Test()
	ios.SetStderrTTY(true)
	render(ios, ui.Mode{Now: clock}, []events.Event{{Kind: events.Submitted, RequestID: "req_2", Model: "kling", Status: "queued", Time: t0}})
	if out := errOut.String(); !strings.Contains(out, "queued") || strings.Contains(out, "webhook") {
		t.Fatalf("waiting line: %q", out)
	}
}

func TestCloseStopsEverything(t *testing.T) {
	for _, tty := range []bool{false, true} {
		ios, _, _, errOut := iostreams.Test()
		ios.SetStderrTTY(tty)
		r := ui.NewRenderer(ios, ui.Mode{Heartbeat: 5 * time.Millisecond, Now: clock})
		r.Handle(events.Event{Kind: events.Submitted, RequestID: "a", Model: "m", Time: t0})
		r.Handle(events.Event{Kind: events.DownloadStarted, Download: events.Download{Path: "big", Total: 8 << 20}})
		time.Sleep(20 * time.Millisecond)
		r.Close()
		r.Close()
		n := errOut.Len()
		r.Handle(events.Event{Kind: events.Warning, Text: "late"})
		if errOut.Len() != n {
			t.Errorf("tty=%v: wrote after Close: %q", tty, errOut.String()[n:])
		}
		goleak.VerifyNone(t)
	}
}

func TestFormatError(t *testing.T) {
	tests := []struct{ reason, hint, want string }{
		{"credentials rejected", "", "error: credentials rejected"},
		{"credentials rejected", "run hf auth login", "error: credentials rejected\nrun hf auth login"},
		{"two\nlines", "", "error: two\nlines"},
	}
	for _, tt := range tests {
		if got := ui.FormatError(iostreams.NewStyles(false), tt.reason, tt.hint); got != tt.want {
			t.Errorf("FormatError(%q, %q) = %q, want %q", tt.reason, tt.hint, got, tt.want)
		}
	}
	colored := ui.FormatError(iostreams.NewStyles(true), "boom", "hint")
	if !sgr.MatchString(colored) || sgr.ReplaceAllString(colored, "") != "error: boom\nhint" {
		t.Errorf("coloured FormatError = %q", colored)
	}
}
