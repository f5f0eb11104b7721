package job

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/hf-cli/hf/pkg/events"
	"github.com/hf-cli/hf/pkg/higgsfield"
	"github.com/hf-cli/hf/pkg/journal"
)

// PendingSubmit is a submit sent (or about to be) whose answer has not
// come: if the API created the request, replaying the same parameters with
// Key finds it without a second charge.
type PendingSubmit struct{ Model, Key string }

// inFlight holds this process's pending submits, for a last word on a
// second Ctrl-C (which exits without unwinding).
var inFlight struct {
	sync.Mutex
	list []PendingSubmit
}

// InFlight returns the submits of this process that have no answer yet.
func InFlight() []PendingSubmit {
	inFlight.Lock()
	defer inFlight.Unlock()
	return slices.Clone(inFlight.list)
}

func track(p PendingSubmit) (release func()) {
	inFlight.Lock()
	inFlight.list = append(inFlight.list, p)
	inFlight.Unlock()
	return func() {
		inFlight.Lock()
		defer inFlight.Unlock()
		if i := slices.Index(inFlight.list, p); i >= 0 {
			inFlight.list = slices.Delete(inFlight.list, i, i+1)
		}
	}
}

// ReplayHint is how a submit that may have created its request is found
// again without paying twice.
func ReplayHint(key string) string {
	return "run the same command again with --idempotency-key " + key + " to pick it up without paying twice"
}

// paramsDigest is the sha256 of the JSON body a submit sends (encoding/json
// orders map keys, so the same parameters give the same digest).
func paramsDigest(params map[string]any) string {
	if params == nil {
		params = map[string]any{}
	}
	b, err := json.Marshal(params)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// submit sends spec with key. The journal records the submit (key, model,
// prompt, parameters' digest) before it is sent, so a kill or a crash while it is
// in flight leaves the key that finds the request again; the "submitted"
// record of the answer (Generate writes it) replaces that record, and a
// definite refusal drops it.
//
// ctx (Ctrl-C) stops the retries and their waits at once; only the attempt
// in flight runs on, bounded by the submit's per-attempt timeout, so that a
// request the API created is not lost. The user is told so at once.
func (r *Runner) submit(ctx context.Context, spec Spec, key, hook string) (*higgsfield.Status, error) {
	prompt, _ := spec.Params["prompt"].(string)
	r.journal(journal.Record{Event: journal.EventSubmitting, Model: spec.Model, Prompt: prompt, IdempotencyKey: key, ParamsSHA256: paramsDigest(spec.Params)})
	release := track(PendingSubmit{Model: spec.Model, Key: key})
	defer release()
	var sending atomic.Bool
	stop := context.AfterFunc(ctx, func() {
		if !sending.Load() {
			return // between attempts: Submit returns at once
		}
		r.emit(events.Event{Kind: events.Warning, Text: fmt.Sprintf(
			"interrupted: no further submit attempt is sent; waiting at most %s for the answer to the one in flight, so the request is not lost (Ctrl-C again exits now; the request, if created, is found again with --idempotency-key %s)",
			r.Client.SubmitTimeout(), key)})
	})
	st, err := r.Client.Submit(ctx, higgsfield.SubmitRequest{Model: spec.Model, Params: spec.Params, Webhook: hook, IdempotencyKey: key, ExpiresAfter: spec.ExpiresAfter, Sending: sending.Store})
	stop()
	if err == nil {
		return st, nil
	}
	maybe := higgsfield.MaybeCreated(err)
	if !maybe {
		// Nothing was created: the pending record is moot.
		r.journal(journal.Record{Event: journal.EventSubmitFailed, IdempotencyKey: key, Error: err.Error()})
	}
	switch {
	case ctx.Err() != nil && maybe:
		return nil, &InterruptedError{Key: key}
	case ctx.Err() != nil:
		return nil, &InterruptedError{}
	case maybe:
		// An attempt may have reached the API before failing: say so,
		// and how to find the request without paying twice.
		return nil, &SubmitUnknownError{Key: key, Err: err}
	}
	return nil, err
}
