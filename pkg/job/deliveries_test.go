package job_test

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/hf-cli/hf/pkg/higgsfield"
	"github.com/hf-cli/hf/pkg/higgsfield/hftest"
	"github.com/hf-cli/hf/pkg/job"
	"github.com/hf-cli/hf/pkg/journal"
	"github.com/hf-cli/hf/pkg/tunnel"
	"github.com/hf-cli/hf/pkg/webhook"
)

// auditRig is newRig with the endpoint serving webhook.Record, as generate
// and batch do: verified deliveries are kept beside the journal.
func auditRig(t *testing.T, secret string) (*rig, func() []error) {
	t.Helper()
	r := newRig(t, 20*time.Millisecond, 30*time.Millisecond, secret)
	_ = r.hook.Close() // replaced by one that keeps deliveries
	ep, err := tunnel.Static{Listen: "127.0.0.1:0"}.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu       sync.Mutex
		warnings []error
	)
	rec := webhook.Record(r.recv, job.KeepDeliveries(r.runner.Journal, func(err error) { mu.Lock(); warnings = append(warnings, err); mu.Unlock() }))
	hook := webhook.ServeHandler(ep, rec, webhook.ServeOptions{})
	t.Cleanup(func() { _ = hook.Close() })
	// closed waits until every kept delivery is on disk, and returns the
	// warnings.
	closed := func() []error {
		_ = hook.Close()
		rec.Wait()
		mu.Lock()
		defer mu.Unlock()
		return warnings
	}
	r.hook, r.ep = hook, ep
	r.runner.Endpoint = served{r.recv, hook}
	return r, closed
}

func TestAuditTrailKeepsTheResolvingDelivery(t *testing.T) {

	r, closed := auditRig(t, testSecret)
	r.api.InjectWebhook(hftest.WebhookFault{Duplicate: 1})
	res, err := r.runner.Generate(context.Background(), r.spec())
	if err != nil || res.NotifiedBy != "webhook" {
		t.Fatalf("Generate: %+v, %v", res, err)
	}
	sent := r.api.WebhookAttempts()
	eventually(t, "the duplicate", func() bool { sent = r.api.WebhookAttempts(); return len(sent) == 2 })
	warnings := closed()
	data, path, err := job.ResolvingDelivery(r.runner.Journal, res.RequestID)
	if err != nil {
		t.Fatal(err)
	}
	d, err := webhook.DecodeRaw(bytes.NewReader(data), 1<<20)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	// Exactly what the fake sent, headers and body.
	if !bytes.Equal(d.Body, sent[0].Body) {
		t.Errorf("kept body %q, the fake sent %q", d.Body, sent[0].Body)
	}
	for _, k := range webhook.SignedHeaders {
		if d.Header.Get(k) != sent[0].Header.Get(k) {
			t.Errorf("kept %s %q, sent %q", k, d.Header.Get(k), sent[0].Header.Get(k))
		}
	}
	if kept, _ := r.runner.Journal.Deliveries(res.RequestID); len(kept) != 1 {
		t.Errorf("%d files kept, want 1 (the duplicate has the same webhook-id)", len(kept))
	}
	if len(warnings) != 0 {
		t.Errorf("warnings: %v", warnings)
	}
}

func TestResolvingDeliveryExplainsItsAbsence(t *testing.T) {

	// Unsigned deliveries are only wake-ups: nothing is kept.
	r, closed := auditRig(t, "")
	res, err := r.runner.Generate(context.Background(), r.spec())
	if err != nil || res.NotifiedBy != "webhook" {
		t.Fatalf("Generate: %+v, %v", res, err)
	}
	closed()
	jn := r.runner.Journal
	_ = jn.Append(journal.Record{Event: journal.EventSubmitted, RequestID: "polled", Status: higgsfield.StatusQueued})
	_ = jn.Append(journal.Record{Event: journal.EventStatus, RequestID: "polled", Status: higgsfield.StatusCompleted, NotifiedBy: "poll"})
	_ = jn.Append(journal.Record{Event: journal.EventSubmitted, RequestID: "running", Status: higgsfield.StatusInProgress})
	for id, want := range map[string]string{
		res.RequestID: "none was kept (only verified deliveries are: set HF_WEBHOOK_SECRET)",
		"polled":      "polling resolved it (poll)",
		"running":     "it is still in_progress",
		"unknown":     "it is not in this machine's journal",
	} {
		_, _, err := job.ResolvingDelivery(jn, id)
		var nd *job.NoDeliveryError
		if !errors.As(err, &nd) || nd.Reason != want {
			t.Errorf("%s: %v, want reason %q", id, err, want)
		}
	}
}
