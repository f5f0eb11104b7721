// Package await resolves one request to a terminal status: webhook
// deliveries raced against a backoff polling schedule. Whichever signal
// first yields a trustworthy terminal status wins; a status GET in flight
// never holds up a delivery, and unsigned deliveries (wake-up calls) are
// coalesced so that a flood of them costs at most one GET per interval.
package await

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
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

// Poller fetches the request's current status once. It must return when
// ctx ends (the API client bounds each GET with its own timeout too).
type Poller func(ctx context.Context) (*higgsfield.Status, error)

// DefaultConfirmInterval is the least time between two status GETs that
// unsigned deliveries ask for.
const DefaultConfirmInterval = 2 * time.Second

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
	// ConfirmInterval is the least time between the start of one status
	// GET and a GET confirming an unsigned delivery (default
	// DefaultConfirmInterval). Deliveries arriving meanwhile share that GET.
	ConfirmInterval time.Duration
	// OnStatus sees every non-terminal status learned.
	OnStatus func(*higgsfield.Status)
	// OnPollError sees every transient poll failure.
	OnPollError func(err error)
	// OnDelivery sees a delivery before it is confirmed: every verified one,
	// and the first unsigned one (a flood of unsigned deliveries is seen
	// once).
	OnDelivery func(webhook.Delivery)
}

// Result is a terminal status and the signal that delivered it.
type Result struct {
	Status *higgsfield.Status
	// NotifiedBy is "webhook" when a delivery started the resolution
	// (including an unsigned one confirmed by a status GET), else "poll".
	NotifiedBy string
	// Deliveries is how many deliveries arrived during the wait, and
	// Coalesced how many unsigned ones shared a GET another had asked for.
	Deliveries, Coalesced int
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

// answer is the outcome of one status GET.
type answer struct {
	st      *higgsfield.Status
	err     error
	confirm bool // started to confirm a delivery
}

// Until blocks until the request is terminal, ctx ends, or a poll fails
// permanently. An unverified delivery is only a wake-up: its body is never
// trusted; a status GET decides. A delivery that the GET does not confirm
// changes nothing. At most one status GET is in flight at a time; it runs
// beside the loop, so a verified delivery resolves the wait at once even
// while a GET hangs (the GET is then canceled).
func Until(ctx context.Context, o Options) (Result, error) {
	if o.Fallback.First == 0 {
		o.Fallback = Tight
	}
	if o.Schedule.First == 0 {
		o.Schedule = Tight
	}
	if o.ConfirmInterval <= 0 {
		o.ConfirmInterval = DefaultConfirmInterval
	}
	tk := &ticker{s: o.Schedule}
	first := tk.delay()
	if o.Immediate {
		first = 0
	}
	pollTimer := time.NewTimer(first)
	defer pollTimer.Stop()
	var confirmTimer *time.Timer
	var confirmC <-chan time.Time
	defer func() {
		if confirmTimer != nil {
			confirmTimer.Stop()
		}
	}()
	down := o.EndpointDown

	gctx, cancelGets := context.WithCancel(ctx)
	var gets sync.WaitGroup
	defer func() { cancelGets(); gets.Wait() }()
	answers := make(chan answer, 1)
	var (
		inFlight  bool
		lastStart time.Time
		pending   bool // an unsigned delivery waits for a GET
		told      bool // OnDelivery saw an unsigned delivery
		res       Result
	)
	get := func(confirm bool) {
		inFlight, lastStart = true, time.Now()
		if confirm {
			pending = false
		}
		gets.Add(1)
		go func() {
			defer gets.Done()
			st, err := o.Poll(gctx)
			answers <- answer{st: st, err: err, confirm: confirm}
		}()
	}
	// armConfirm starts the pending confirmation now or when the interval
	// since the last GET allows; never while a GET is in flight.
	armConfirm := func() {
		if !pending || inFlight || confirmC != nil {
			return
		}
		wait := time.Until(lastStart.Add(o.ConfirmInterval))
		if lastStart.IsZero() || wait <= 0 {
			get(true)
			return
		}
		confirmTimer = time.NewTimer(wait)
		confirmC = confirmTimer.C
	}

	for {
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-down:
			down = nil
			tk = &ticker{s: o.Fallback}
			if !inFlight {
				pollTimer.Reset(tk.delay())
			}
		case d, ok := <-o.Deliveries:
			if !ok {
				o.Deliveries = nil
				continue
			}
			res.Deliveries++
			if d.Verified {
				if o.OnDelivery != nil {
					o.OnDelivery(d)
				}
				if d.Status != nil && d.Status.Terminal() {
					res.Status, res.NotifiedBy = d.Status, ByWebhook
					return res, nil
				}
				if d.Status != nil && o.OnStatus != nil {
					o.OnStatus(d.Status)
				}
				continue
			}
			if !told && o.OnDelivery != nil {
				o.OnDelivery(d)
			}
			told = true
			if pending {
				res.Coalesced++
				continue
			}
			pending = true
			armConfirm()
		case <-confirmC:
			confirmC, confirmTimer = nil, nil
			armConfirm()
		case <-pollTimer.C:
			if !inFlight {
				get(false)
			}
		case a := <-answers:
			inFlight = false
			if a.err != nil {
				if ctx.Err() != nil {
					return res, ctx.Err()
				}
				if !higgsfield.Retryable(a.err) {
					return res, &PermanentError{Err: a.err}
				}
				if o.OnPollError != nil {
					o.OnPollError(a.err)
				}
			} else if a.st.Terminal() {
				res.Status, res.NotifiedBy = a.st, ByPoll
				if a.confirm || pending {
					res.NotifiedBy = ByWebhook
				}
				return res, nil
			} else if o.OnStatus != nil {
				o.OnStatus(a.st)
			}
			pollTimer.Reset(tk.delay())
			armConfirm()
		}
	}
}

// IsPermanent reports whether err is a poll failure waiting cannot fix.
func IsPermanent(err error) bool {
	var pe *PermanentError
	return errors.As(err, &pe)
}
