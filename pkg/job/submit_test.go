package job

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hf-cli/hf/pkg/events"
	"github.com/hf-cli/hf/pkg/higgsfield"
	"github.com/hf-cli/hf/pkg/higgsfield/hftest"
	"github.com/hf-cli/hf/pkg/journal"
)

// Ctrl-C during a submit's back-off (429/503 with Retry-After) sends no
// further submit: nothing is created after the interrupt. After a 429 (the
// API created nothing) hf says nothing more; after a 503 (it may have) the
// error names the key that finds the request.
func TestInterruptDuringSubmitBackoff(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		wantKey bool
	}{
		{"429 queue full", 429, false},
		{"503 with Retry-After", 503, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := setup(t, time.Hour, time.Hour)
			f.srv.Inject(hftest.Fault{Endpoint: hftest.Submit, Status: tt.status, RetryAfter: "30"})
			ctx, cancel := context.WithCancelCause(ctxT(t))
			defer cancel(nil)
			f.ev.on = func(e events.Event) {
				if e.Kind == events.Retry && e.Retry.Op == "submit" {
					cancel(ErrInterrupt)
				}
			}
			// The client's own retry notices go through OnRetry, which the
			// engine forwards as events; do the same here.
			f.runner.Client = newClientOnRetry(t, f, func(higgsfield.RetryInfo) {
				f.ev.sink(events.Event{Kind: events.Retry, Retry: events.RetryInfo{Op: "submit"}})
			})
			start := time.Now()
			_, err := f.runner.Generate(ctx, f.spec(map[string]any{"prompt": "x"}))
			if took := time.Since(start); took > 5*time.Second {
				t.Fatalf("Generate took %s after the Ctrl-C (the back-off was 30s)", took)
			}
			var ie *InterruptedError
			if !errors.As(err, &ie) || ie.RequestID != "" {
				t.Fatalf("err = %T %v, want an InterruptedError without a request", err, err)
			}
			if got := ie.Key != ""; got != tt.wantKey {
				t.Fatalf("InterruptedError %+v: key named = %v, want %v", ie, got, tt.wantKey)
			}
			if tt.wantKey && !strings.Contains(err.Error(), "--idempotency-key "+ie.Key) {
				t.Fatalf("err %q does not name the key", err)
			}
			// Wait past the back-off: no submit may follow the interrupt.
			time.Sleep(100 * time.Millisecond)
			if n, c := f.srv.Count(hftest.Submit), f.srv.Charged(); n != 1 || c != 0 {
				t.Fatalf("%d submits, %d charged after the Ctrl-C; want 1 and 0", n, c)
			}
			entries, _ := f.runner.Journal.Entries()
			if tt.wantKey != (len(entries) == 1) {
				t.Fatalf("journal %+v: a maybe-created submit is listed, a refused one is not", entries)
			}
		})
	}
}

// newClientOnRetry is the fixture's client with an OnRetry hook.
func newClientOnRetry(t *testing.T, f *fixture, on func(higgsfield.RetryInfo)) *higgsfield.Client {
	t.Helper()
	c, err := higgsfield.New(higgsfield.Options{BaseURL: f.srv.URL, Credentials: higgsfield.Credentials{ID: "kid", Secret: "ksecret"},
		InitialBackoff: time.Millisecond, OnRetry: on, SubmitTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// A Ctrl-C during a slow submit: the attempt in flight is allowed to
// finish (its answer is the request id), no retry follows, hf says at
// once why it waits, and then it exits as interrupted (canceling the
// queued request). When the answer never comes, the submit's per-attempt
// timeout bounds the wait and the error names the key.
func TestInterruptDuringSlowSubmit(t *testing.T) {
	tests := []struct {
		name    string
		delay   time.Duration // the fake's answer comes this late
		created bool          // hf learned the request id
	}{
		{"answer within the attempt timeout", 150 * time.Millisecond, true},
		{"no answer within the attempt timeout", 10 * time.Second, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := setup(t, time.Hour, time.Hour)
			f.runner.Client = newClientOnRetry(t, f, nil) // 300ms per submit attempt
			f.srv.Inject(hftest.Fault{Endpoint: hftest.Submit, Delay: tt.delay})
			ctx, cancel := context.WithCancelCause(ctxT(t))
			defer cancel(nil)
			go func() {
				for f.srv.Count(hftest.Submit) == 0 {
					time.Sleep(time.Millisecond)
				}
				// The journal names the key before the answer comes.
				entries, _ := f.runner.Journal.Entries()
				if len(entries) != 1 || entries[0].Status != journal.StatusSubmitting || entries[0].IdempotencyKey == "" {
					t.Errorf("journal while the submit is in flight: %+v", entries)
				}
				cancel(ErrInterrupt)
			}()
			start := time.Now()
			res, err := f.runner.Generate(ctx, f.spec(map[string]any{"prompt": "x"}))
			if took := time.Since(start); took > 3*time.Second {
				t.Fatalf("Generate took %s", took)
			}
			var ie *InterruptedError
			if !errors.As(err, &ie) {
				t.Fatalf("err = %T %v, want *InterruptedError", err, err)
			}
			if i := f.ev.first(events.Warning, ""); i < 0 || !strings.Contains(f.ev.all()[i].Text, "waiting at most 300ms") {
				t.Fatalf("no word on the wait after the Ctrl-C: %+v", f.ev.all())
			}
			if n := f.srv.Count(hftest.Submit); n != 1 {
				t.Fatalf("%d submits, want 1 (no retry after the Ctrl-C)", n)
			}
			if f.srv.Charged() != 1 {
				t.Fatalf("charged %d", f.srv.Charged())
			}
			entries, _ := f.runner.Journal.Entries()
			if len(entries) != 1 {
				t.Fatalf("journal %+v", entries)
			}
			if tt.created {
				if !ie.Canceled || res.RequestID == "" || entries[0].RequestID != res.RequestID || f.srv.Count(hftest.Cancel) != 1 {
					t.Fatalf("err %+v, res %+v, journal %+v, cancels %d: want the queued request canceled", ie, res, entries[0], f.srv.Count(hftest.Cancel))
				}
				return
			}
			if ie.Key == "" || entries[0].IdempotencyKey != ie.Key || entries[0].RequestID != "" || entries[0].Status != journal.StatusSubmitting {
				t.Fatalf("err %+v, journal %+v: want the pending submit with its key", ie, entries[0])
			}
			// The key finds the request the slow attempt created, uncharged.
			f.runner.Client = newClientOnRetry(t, f, nil)
			spec := f.spec(map[string]any{"prompt": "x"})
			spec.IdempotencyKey, spec.NoWait = ie.Key, true
			res, err = f.runner.Generate(ctxT(t), spec)
			if err != nil || f.srv.Charged() != 1 {
				t.Fatalf("replay: %+v %v, charged %d", res, err, f.srv.Charged())
			}
			entries, _ = f.runner.Journal.Entries()
			if len(entries) != 1 || entries[0].RequestID != res.RequestID || entries[0].Status == journal.StatusSubmitting {
				t.Fatalf("journal after the replay: %+v", entries)
			}
		})
	}
}

// InFlight lists a submit while it waits for its answer, and no longer.
func TestInFlight(t *testing.T) {
	f := setup(t, time.Hour, time.Hour)
	f.srv.Inject(hftest.Fault{Endpoint: hftest.Submit, Delay: 200 * time.Millisecond})
	done := make(chan error, 1)
	spec := f.spec(map[string]any{"prompt": "x"})
	spec.IdempotencyKey, spec.NoWait = "k-1", true
	go func() { _, err := f.runner.Generate(ctxT(t), spec); done <- err }()
	for f.srv.Count(hftest.Submit) == 0 {
		time.Sleep(time.Millisecond)
	}
	if got := InFlight(); len(got) != 1 || got[0] != (PendingSubmit{Model: model, Key: "k-1"}) {
		t.Fatalf("InFlight() = %+v while the submit waits", got)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := InFlight(); len(got) != 0 {
		t.Fatalf("InFlight() = %+v after the answer", got)
	}
}

// Ctrl-C while queued says at once that hf cancels; a cancel that gets no
// answer is not taken for a success nor passed over: hf says it may go on.
func TestInterruptCancelUnanswered(t *testing.T) {
	f := setup(t, time.Hour, time.Hour)
	c, err := higgsfield.New(higgsfield.Options{BaseURL: f.srv.URL, Credentials: higgsfield.Credentials{ID: "kid", Secret: "ksecret"},
		MaxAttempts: 1, CancelTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	f.runner.Client = c
	f.srv.Inject(hftest.Fault{Endpoint: hftest.Cancel, Hang: true})
	ctx, cancel := context.WithCancelCause(ctxT(t))
	defer cancel(nil)
	f.ev.on = func(e events.Event) {
		if e.Kind == events.Submitted {
			cancel(ErrInterrupt)
		}
	}
	res, err := f.runner.Generate(ctx, f.spec(map[string]any{"prompt": "x"}))
	var ie *InterruptedError
	if !errors.As(err, &ie) || ie.Canceled || ie.Resume != "hf wait "+res.RequestID {
		t.Fatalf("err = %v, want a detach that resumes with hf wait", err)
	}
	var texts []string
	for _, e := range f.ev.all() {
		if e.Kind == events.Detached {
			texts = append(texts, e.Text)
		}
	}
	if len(texts) != 2 || !strings.HasPrefix(texts[0], "canceling "+res.RequestID) ||
		!strings.Contains(texts[1], "could not cancel "+res.RequestID) || !strings.Contains(texts[1], "hf status "+res.RequestID) {
		t.Fatalf("detached lines %q", texts)
	}
	if f.srv.Count(hftest.Cancel) != 1 {
		t.Fatalf("%d cancels", f.srv.Count(hftest.Cancel))
	}
}
