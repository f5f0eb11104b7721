package status_test

import (
	"bytes"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/hf-cli/hf/internal/testenv"
	"github.com/hf-cli/hf/pkg/cmdutil"
	"github.com/hf-cli/hf/pkg/higgsfield/hftest"
	"github.com/hf-cli/hf/pkg/job"
	"github.com/hf-cli/hf/pkg/journal"
	"github.com/hf-cli/hf/pkg/webhook"
)

func TestStatusDelivery(t *testing.T) {
	srv := hftest.New()
	t.Cleanup(srv.Close)
	isolate(t)
	j := testenv.OpenJournal(t)
	body := []byte(`{"status":"completed","request_id":"` + id + `","images":[{"url":"https://cdn.example/a.png"}]}`)
	d := webhook.RawDelivery{Header: http.Header{"Content-Type": {"application/json"}, "Webhook-Id": {"msg_1"}}, Body: body, ReceivedAt: time.Now()}
	job.KeepDeliveries(j, func(err error) { t.Fatal(err) })(d)
	var want bytes.Buffer
	if err := d.Encode(&want); err != nil {
		t.Fatal(err)
	}

	// Not yet terminal in the journal: no delivery resolved it.
	_ = j.Append(journal.Record{Event: journal.EventSubmitted, RequestID: id, Status: "queued"})
	_, _, err := run(t, srv.URL, id, "--delivery")
	var nd *job.NoDeliveryError
	if !errors.As(err, &nd) {
		t.Fatalf("err = %v, want a *job.NoDeliveryError", err)
	}

	_ = j.Append(journal.Record{Event: journal.EventStatus, RequestID: id, Status: "completed", NotifiedBy: "webhook"})
	out, _, err := run(t, srv.URL, id, "--delivery")
	if err != nil {
		t.Fatal(err)
	}
	if out != want.String() {
		t.Errorf("stdout\n%q\nwant the kept delivery\n%q", out, want.String())
	}
	if n := srv.Count(hftest.StatusEP); n != 0 {
		t.Errorf("--delivery made %d status calls, want 0 (the journal knows)", n)
	}
	// A usage error (exit 2), not a plain error (exit 1).
	var fe *cmdutil.FlagError
	if _, _, err := run(t, srv.URL, id, "--delivery", "--json"); !errors.As(err, &fe) || err.Error() != "--delivery and --json cannot be used together" {
		t.Errorf("--delivery with --json: %T %v, want a *cmdutil.FlagError", err, err)
	}
}
