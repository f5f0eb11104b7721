package ui

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/charmbracelet/lipgloss"

	"github.com/hf-cli/hf/pkg/batch"
	"github.com/hf-cli/hf/pkg/events"
	"github.com/hf-cli/hf/pkg/iostreams"
)

func batchEvents(t0 time.Time) []batch.Event {
	ok := &batch.Outcome{Name: "hero", State: batch.StateGenerated, Files: []batch.File{{Path: "hero-1.png", Bytes: 10}}}
	bad := &batch.Outcome{Name: "vid", State: batch.StateFailed, Error: "request x failed: boom"}
	return []batch.Event{
		{Kind: batch.Progress, Time: t0, Job: events.Event{Kind: events.TunnelReady, Tunnel: events.Tunnel{PublicURL: "https://e.example"}}},
		{Kind: batch.Started, Time: t0, Name: "hero", Action: batch.Generate, Counts: batch.Counts{Total: 3, Running: 1}},
		{Kind: batch.Progress, Time: t0, Name: "hero", Job: events.Event{Kind: events.Submitted, Time: t0, RequestID: "id-1"}},
		{Kind: batch.Started, Time: t0, Name: "vid", Action: batch.Wait, Counts: batch.Counts{Total: 3, Running: 2}},
		{Kind: batch.Progress, Time: t0, Name: "hero", Job: events.Event{Kind: events.Completed, Time: t0.Add(1500 * time.Millisecond), Status: "completed", Outcome: events.Outcome{NotifiedBy: "webhook"}}},
		{Kind: batch.Progress, Time: t0, Name: "hero", Job: events.Event{Kind: events.Downloaded, Download: events.Download{Path: "hero-1.png", Bytes: 2048}}},
		{Kind: batch.Finished, Time: t0, Name: "hero", Outcome: ok, Counts: batch.Counts{Total: 3, Done: 1, Running: 1}},
		{Kind: batch.Paused, Time: t0, Until: time.Now().Add(5 * time.Second), Message: "the account's queue is full"},
		{Kind: batch.Finished, Time: t0, Name: "vid", Outcome: bad, Counts: batch.Counts{Total: 3, Done: 2, Failed: 1}},
		{Kind: batch.Finished, Time: t0, Name: "up", Outcome: &batch.Outcome{Name: "up", State: batch.StateUpToDate}, Counts: batch.Counts{Total: 3, Done: 3, Failed: 1}},
		// pkg/batch's own error text starts with the state: said once.
		{Kind: batch.Finished, Time: t0, Name: "next", Outcome: &batch.Outcome{Name: "next", State: batch.StateSkipped, Error: "skipped: job vid did not succeed"}, Counts: batch.Counts{Total: 4, Done: 4, Failed: 2}},
	}
}

func TestBatchPlainLines(t *testing.T) {
	var buf bytes.Buffer
	r := newBatchPlain(&buf, Mode{Now: time.Now, Heartbeat: -1})
	for _, ev := range batchEvents(time.Now()) {
		r.Handle(ev)
	}
	r.Close()
	r.Handle(batch.Event{Kind: batch.Warning, Message: "after close"})
	want := []string{
		"hf: webhook endpoint ready at https://e.example",
		"hf: hero: submitted id-1",
		"hf: vid: waiting for the request an earlier run submitted",
		"hf: hero: completed after 1.5s (via webhook)",
		"hf: hero: saved hero-1.png (2.0 KiB)",
		"hf: the account's queue is full; no submit until",
		"hf: vid: failed: request x failed: boom",
		"hf: up: up to date",
		"hf: next: skipped: job vid did not succeed",
	}
	got := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(got) != len(want) {
		t.Fatalf("lines:\n%s", buf.String())
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("line %d: %q, want %q", i, got[i], want[i])
		}
	}
	if strings.Contains(buf.String(), "skipped: skipped") {
		t.Errorf("state said twice:\n%s", buf.String())
	}
}

func TestBatchPlainHeartbeat(t *testing.T) {
	var buf safeBuffer
	r := newBatchPlain(&buf, Mode{Now: time.Now, Heartbeat: 10 * time.Millisecond})
	r.Handle(batch.Event{Kind: batch.Started, Name: "a", Action: batch.Generate, Counts: batch.Counts{Total: 40, Done: 12, Running: 4, Failed: 1}})
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(buf.String(), "hf: 12/40 done · 4 running · 1 failed") {
		if time.Now().After(deadline) {
			t.Fatalf("no heartbeat: %q", buf.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	r.Close()
}

func TestBatchPrettyAndSummary(t *testing.T) {
	var buf safeBuffer
	r := newBatchPretty(&buf, iostreams.NewStyles(false), Mode{Now: time.Now})
	for _, ev := range batchEvents(time.Now()) {
		r.Handle(ev)
	}
	r.Close()
	r.Close()
	out := buf.String()
	for _, want := range []string{"✓ hero generated hero-1.png", "✗ vid failed: request x failed: boom", "= up up to date", "webhook endpoint ready", "✗ next skipped: job vid did not succeed"} {
		if !strings.Contains(out, want) {
			t.Errorf("pretty output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "skipped: skipped") {
		t.Errorf("state said twice:\n%s", out)
	}
	var sum bytes.Buffer
	c := 1.5
	rep := &batch.Report{Jobs: []*batch.Outcome{
		{Name: "hero", State: batch.StateGenerated, Seconds: 1.52, Files: []batch.File{{Path: "hero-1.png"}}, Credits: &c},
		{Name: "vid", State: batch.StateFailed},
	}, Summary: batch.Summary{Total: 2, Generated: 1, Failed: 1, Seconds: 2}}
	BatchSummary(&sum, iostreams.NewStyles(false), rep, 0)
	for _, want := range []string{"job", "credits", "hero", "generated", "1.5s", "hero-1.png", "vid", "failed", "2 jobs: 1 generated, 1 failed in 2s"} {
		if !strings.Contains(sum.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, sum.String())
		}
	}
}

// On a narrow terminal the table is narrowed to fit, its cells wrapped,
// rather than every row broken in two by the terminal.
func TestBatchSummaryFitsTheTerminal(t *testing.T) {
	var jobs []*batch.Outcome
	for i := range 3 {
		name := fmt.Sprintf("job-with-a-rather-long-name-%d", i)
		jobs = append(jobs, &batch.Outcome{Name: name, State: batch.StateGenerated, Seconds: 3, Files: []batch.File{{Path: name + "-1.png"}}})
	}
	rep := &batch.Report{Jobs: jobs, Summary: batch.Summary{Total: 3, Generated: 3, Seconds: 3}}
	for _, width := range []int{40, 60, 200} {
		var sum bytes.Buffer
		BatchSummary(&sum, iostreams.NewStyles(false), rep, width)
		for _, l := range strings.Split(strings.TrimRight(sum.String(), "\n"), "\n") {
			if w := lipgloss.Width(l); w > width {
				t.Errorf("width %d: a line of %d cells: %q", width, w, l)
			}
		}
		if !strings.Contains(sum.String(), "3 jobs: 3 generated") {
			t.Errorf("width %d: no summary line:\n%s", width, sum.String())
		}
	}
}

// safeBuffer is a bytes.Buffer for writers on other goroutines.
type safeBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *safeBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *safeBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
