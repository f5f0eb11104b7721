package job

// The audit trail of webhook deliveries: generate and batch keep every
// verified delivery (headers and body) beside the journal, and
// `hf status ID --delivery` shows the one that resolved the request.

import (
	"bytes"
	"fmt"

	"github.com/hf-cli/hf/pkg/await"
	"github.com/hf-cli/hf/pkg/higgsfield"
	"github.com/hf-cli/hf/pkg/journal"
	"github.com/hf-cli/hf/pkg/webhook"
)

// KeepDeliveries returns what the webhook endpoint calls with each verified
// delivery (webhook.Record): it keeps the delivery under its request id
// beside the journal j. A failure goes to warn; the delivery is still used.
func KeepDeliveries(j *journal.Journal, warn func(error)) func(webhook.RawDelivery) {
	return func(d webhook.RawDelivery) {
		st, err := higgsfield.ParseStatus(d.Body)
		if err != nil || st.RequestID == "" {
			return // the receiver refuses these; nothing to file it under
		}
		var buf bytes.Buffer
		err = d.Encode(&buf)
		if err == nil {
			_, err = j.KeepDelivery(st.RequestID, d.Header.Get("webhook-id"), buf.Bytes())
		}
		if err != nil && warn != nil {
			warn(fmt.Errorf("could not keep the webhook delivery for %s: %w", st.RequestID, err))
		}
	}
}

// NoDeliveryError: no kept delivery resolved the request.
type NoDeliveryError struct{ RequestID, Reason string }

func (e *NoDeliveryError) Error() string {
	return fmt.Sprintf("no webhook delivery resolved %s: %s", e.RequestID, e.Reason)
}

// ResolvingDelivery returns the kept delivery (an HTTP request message) that
// resolved request id, and its file: the oldest verified delivery whose
// status is the one the journal records, for a request the journal says a
// webhook resolved.
func ResolvingDelivery(j *journal.Journal, id string) ([]byte, string, error) {
	e, ok, err := j.Lookup(id)
	if err != nil {
		return nil, "", err
	}
	switch {
	case !ok:
		return nil, "", &NoDeliveryError{RequestID: id, Reason: "it is not in this machine's journal"}
	case !higgsfield.Terminal(e.Status):
		return nil, "", &NoDeliveryError{RequestID: id, Reason: fmt.Sprintf("it is still %s", orUnknown(e.Status))}
	case e.NotifiedBy != await.ByWebhook:
		return nil, "", &NoDeliveryError{RequestID: id, Reason: "polling resolved it (" + orUnknown(e.NotifiedBy) + ")"}
	}
	kept, err := j.Deliveries(id)
	if err != nil {
		return nil, "", err
	}
	for _, k := range kept {
		d, err := webhook.DecodeRaw(bytes.NewReader(k.Data), int64(len(k.Data)))
		if err != nil {
			continue
		}
		if st, err := higgsfield.ParseStatus(d.Body); err == nil && st.Status == e.Status {
			return k.Data, k.Path, nil
		}
	}
	reason := "none was kept (only verified deliveries are: set HF_WEBHOOK_SECRET)"
	if len(kept) > 0 {
		reason = fmt.Sprintf("%d kept, none with status %s", len(kept), e.Status)
	}
	return nil, "", &NoDeliveryError{RequestID: id, Reason: reason}
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
