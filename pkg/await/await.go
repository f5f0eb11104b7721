// Package await resolves one request to a terminal status: webhook
// deliveries raced against a backoff polling schedule. Whichever signal
// first yields a trustworthy terminal status wins.
package await

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/hf-cli/hf/pkg/higgsfield"
	"github.com/hf-cli/hf/pkg/webhook"
)

// Schedule is a polling schedule: First, then ×Factor up to Max, each delay
// jittered by ±Jitter (a fraction).
type Schedule struct {
	First, Max time.Duration
	Factor     float64
	Jitter     float64
}

// Tight is the schedule without a webhook endpoint: the API's recommended
// 2 s ×1.5 up to 10 s with jitter.
var Tight = Schedule{First: 2 * time.Second, Max: 10 * time.Second, Factor: 1.5, Jitter: 0.2}

// Sparse is the safety-net schedule while a webhook endpoint is up.
var Sparse = Schedule{First: 10 * time.Second, Max: 30 * time.Second, Factor: 1.5, Jitter: 0.2}

type ticker struct {
	s    Schedule
	next time.Duration
}

func (t *ticker) delay() time.Duration {
	if t.next == 0 {
		t.next = t.s.First
	}
	d := t.next
	t.next = min(time.Duration(float64(t.next)*max(t.s.Factor, 1)), max(t.s.Max, t.s.First))
	if t.s.Jitter > 0 {
		d += time.Duration((rand.Float64()*2 - 1) * t.s.Jitter * float64(d))
	}
	return max(d, time.Millisecond)
}

// Poller fetches the request's current status once.
type Poller func(ctx context.Context) (*higgsfield.Status, error)

// Options configure Until.
type Options struct {
	Poll Poller
	// Deliveries carries webhook deliveries for this request; nil without an endpoint.
	Deliveries <-chan webhook.Delivery
	// EndpointDown is closed when the webhook endpoint is lost; polling then
	// switches to Fallback.
	EndpointDown <-chan struct{}
	// Schedule is the polling schedule (Sparse with an endpoint, Tight without).
	Schedule Schedule
	// Fallback is the schedule after EndpointDown (default Tight).
	Fallback Schedule
	// Immediate polls once at the start, before any waiting.
	Immediate bool
	// OnStatus sees every non-terminal status learned.
	OnStatus func(*higgsfield.Status)
	// OnPollError sees every transient poll failure.
	OnPollError func(err error)
	// OnDelivery sees every delivery before it is confirmed.
	OnDelivery func(webhook.Delivery)
}

// Result is a terminal status and the signal that delivered it.
type Result struct {
	Status *higgsfield.Status
	// NotifiedBy is "webhook" when a delivery started the resolution
	// (including an unsigned one confirmed by a status GET), else "poll".
	NotifiedBy string
}

// Notified-by values.
const (
	ByWebhook = "webhook"
	ByPoll    = "poll"
)

// PermanentError is a poll failure that waiting cannot fix (401, 404, other 4xx).
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// Until blocks until the request is terminal, ctx ends, or a poll fails
// permanently. An unverified delivery is only a wake-up: its body is never
// trusted; a status GET decides. A delivery that the GET does not confirm
// changes nothing.
func Until(ctx context.Context, o Options) (Result, error) {
	if o.Fallback.First == 0 {
		o.Fallback = Tight
	}
	if o.Schedule.First == 0 {
		o.Schedule = Tight
	}
	tk := &ticker{s: o.Schedule}
	first := tk.delay()
	if o.Immediate {
		first = 0
	}
	timer := time.NewTimer(first)
	defer timer.Stop()
	reset := func(d time.Duration) {
		timer.Stop()
		select {
		case <-timer.C:
		default:
		}
		timer.Reset(d)
	}
	down := o.EndpointDown

	// poll returns a terminal status, or nil to keep waiting.
	poll := func() (*higgsfield.Status, error) {
		st, err := o.Poll(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if !higgsfield.Retryable(err) {
				return nil, &PermanentError{Err: err}
			}
			if o.OnPollError != nil {
				o.OnPollError(err)
			}
			return nil, nil
		}
		if st.Terminal() {
			return st, nil
		}
		if o.OnStatus != nil {
			o.OnStatus(st)
		}
		return nil, nil
	}

	for {
		select {
		case <-ctx.Done():
			return Result{}, ctx.Err()
		case <-down:
			down = nil
			tk = &ticker{s: o.Fallback}
			reset(tk.delay())
		case d, ok := <-o.Deliveries:
			if !ok {
				o.Deliveries = nil
				continue
			}
			if o.OnDelivery != nil {
				o.OnDelivery(d)
			}
			if d.Verified && d.Status != nil && d.Status.Terminal() {
				return Result{Status: d.Status, NotifiedBy: ByWebhook}, nil
			}
			st, err := poll()
			if err != nil {
				return Result{}, err
			}
			if st != nil {
				return Result{Status: st, NotifiedBy: ByWebhook}, nil
			}
		case <-timer.C:
			st, err := poll()
			if err != nil {
				return Result{}, err
			}
			if st != nil {
				return Result{Status: st, NotifiedBy: ByPoll}, nil
			}
			reset(tk.delay())
		}
	}
}

// IsPermanent reports whether err is a poll failure waiting cannot fix.
func IsPermanent(err error) bool {
	var pe *PermanentError
	return errors.As(err, &pe)
}
