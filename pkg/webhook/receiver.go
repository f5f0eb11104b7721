// Package webhook owns the receiving end of Higgsfield's webhook deliveries:
// an http.Handler behind an unguessable path that accepts only bounded JSON
// POSTs, verifies Standard Webhooks signatures when a secret is configured,
// deduplicates verified redeliveries, and hands each delivery to whoever
// registered its request_id, without ever blocking the sender. Serve runs it
// on a tunnel.Endpoint with server timeouts and a connection limit.
package webhook

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"mime"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hf-cli/hf/pkg/higgsfield"
	"github.com/hf-cli/hf/pkg/signature"
)

// Delivery is one webhook that reached the receiver. Unless Verified, it is
// only a wake-up call: confirm it with a status request before trusting it.
type Delivery struct {
	RequestID  string
	WebhookID  string
	Verified   bool
	Status     *higgsfield.Status
	ReceivedAt time.Time
}

// Options configure a Receiver.
type Options struct {
	// Secret is the account's "whsec_<base64>" signing secret; empty
	// accepts unsigned deliveries as unverified wake-ups.
	Secret string
	// MaxBody bounds a delivery's body (default 1 MiB).
	MaxBody int64
	// Tolerance bounds the signature timestamp's distance from now (default 5m).
	Tolerance time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// OnRejected, when set, is called once, for the first delivery on the
	// secret path whose signature does not verify (the error wraps one of
	// signature.ErrSignature, ErrTimestamp, ErrMissingHeaders; see
	// RejectionWarning). It must not block. SetOnRejected sets it later.
	OnRejected func(err error)
}

// RejectionWarning is the one line to show the user about the first
// delivery that failed verification: a wrong secret is by far the likeliest
// cause, then a skewed clock.
func RejectionWarning(err error) string {
	switch {
	case errors.Is(err, signature.ErrTimestamp):
		return "a webhook delivery was turned away: its timestamp is more than 5 minutes from this machine's clock (is the clock right?); polling still resolves the request"
	case errors.Is(err, signature.ErrMissingHeaders):
		return "a webhook delivery was turned away: it was not signed although HF_WEBHOOK_SECRET is set; polling still resolves the request"
	}
	return "signature did not verify: is HF_WEBHOOK_SECRET the account's current secret? (Console → Settings); polling still resolves the request"
}

// Stats counts what the receiver did with requests on its path.
type Stats struct {
	Received   int64 // requests on the secret path
	Accepted   int64 // deliveries handed to an Expect channel
	Rejected   int64 // refused: method, type, size, JSON, signature
	Duplicates int64 // verified redeliveries answered but not forwarded
	Ignored    int64 // deliveries for ids not expected on arrival (kept a minute for a later Expect)
}

const (
	chanSize   = 16
	pendingMax = 32
	pendingTTL = 60 * time.Second
	seenMax    = 4096
)

// Receiver is the webhook http.Handler. It is safe for concurrent use.
type Receiver struct {
	key       []byte // nil: unsigned mode
	path      string
	maxBody   int64
	tolerance time.Duration
	now       func() time.Time

	onRejected func(error)
	warned     atomic.Bool // onRejected was called

	mu      sync.Mutex
	waiters map[string]chan Delivery
	pending []Delivery          // for ids not expected yet, oldest first
	seen    map[string]struct{} // dedupe keys of verified deliveries
	order   []string            // seen keys, oldest first

	received, accepted, rejected, duplicates, ignored atomic.Int64
}

// NewReceiver returns a receiver on a fresh random path. It fails on a
// malformed secret.
func NewReceiver(o Options) (*Receiver, error) {
	r := &Receiver{
		maxBody:    o.MaxBody,
		tolerance:  o.Tolerance,
		now:        o.Now,
		onRejected: o.OnRejected,
		waiters:    map[string]chan Delivery{},
		seen:       map[string]struct{}{},
	}
	if o.Secret != "" {
		key, err := signature.DecodeSecret(o.Secret)
		if err != nil {
			return nil, err
		}
		r.key = key
	}
	if r.maxBody <= 0 {
		r.maxBody = 1 << 20
	}
	if r.tolerance <= 0 {
		r.tolerance = signature.DefaultTolerance
	}
	if r.now == nil {
		r.now = time.Now
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b) // never fails; it crashes the program instead
	r.path = "/hf/" + hex.EncodeToString(b)
	return r, nil
}

// SetOnRejected sets Options.OnRejected; call it before serving.
func (r *Receiver) SetOnRejected(f func(error)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.onRejected = f
}

// rejectedSignature reports the first failed verification.
func (r *Receiver) rejectedSignature(err error) {
	r.mu.Lock()
	f := r.onRejected
	r.mu.Unlock()
	if f != nil && r.warned.CompareAndSwap(false, true) {
		f(err)
	}
}

// Path is the receiver's secret path: "/hf/" and 128 random bits in hex.
func (r *Receiver) Path() string { return r.path }

// Stats returns the counters so far.
func (r *Receiver) Stats() Stats {
	return Stats{
		Received: r.received.Load(), Accepted: r.accepted.Load(), Rejected: r.rejected.Load(),
		Duplicates: r.duplicates.Load(), Ignored: r.ignored.Load(),
	}
}

// Expect registers a request id this process submitted and returns the
// channel its deliveries arrive on (buffered; a delivery finding it full is
// dropped, so the awaiter must keep polling as a safety net). Deliveries that
// arrived for the id in the last minute, before Expect, are on it at once.
// Expecting an id twice returns the same channel. The channel is never closed.
func (r *Receiver) Expect(requestID string) <-chan Delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	ch, ok := r.waiters[requestID]
	if !ok {
		ch = make(chan Delivery, chanSize)
		r.waiters[requestID] = ch
	}
	r.prunePending()
	kept := r.pending[:0]
	for _, d := range r.pending {
		if d.RequestID == requestID {
			r.forward(ch, d)
		} else {
			kept = append(kept, d)
		}
	}
	clear(r.pending[len(kept):])
	r.pending = kept
	return ch
}

// Forget unregisters a request id; later deliveries for it are ignored.
func (r *Receiver) Forget(requestID string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.waiters, requestID)
}

// ServeHTTP answers at once and never waits for the consumer.
func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.URL.Path != r.path {
		// Whoever probes paths gets no slot to sit on afterwards.
		w.Header().Set("Connection", "close")
		reply(w, http.StatusNotFound)
		return
	}
	r.received.Add(1)
	if code := checkPost(req); code != 0 {
		r.rejected.Add(1)
		if code == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", http.MethodPost)
			w.Header().Set("Connection", "close")
		}
		reply(w, code)
		return
	}
	body, err := readBody(w, req, r.maxBody)
	if err != nil {
		r.rejected.Add(1)
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			reply(w, http.StatusRequestEntityTooLarge)
		} else {
			reply(w, http.StatusBadRequest)
		}
		return
	}
	now := r.now()
	if r.key != nil {
		if err := signature.VerifyKey(r.key, req.Header, body, now, r.tolerance); err != nil {
			r.rejected.Add(1)
			r.rejectedSignature(err)
			reply(w, http.StatusUnauthorized)
			return
		}
	}
	st, err := higgsfield.ParseStatus(body)
	if err != nil || st.RequestID == "" {
		r.rejected.Add(1)
		reply(w, http.StatusBadRequest)
		return
	}
	r.deliver(Delivery{
		RequestID:  st.RequestID,
		WebhookID:  req.Header.Get("webhook-id"),
		Verified:   r.key != nil,
		Status:     st,
		ReceivedAt: now,
	})
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"ok":true}` + "\n"))
}

// checkPost returns the status refusing req before its body is read (not a
// POST of JSON), or 0. The Receiver and the RawReceiver share it.
func checkPost(req *http.Request) int {
	if req.Method != http.MethodPost {
		return http.StatusMethodNotAllowed
	}
	if mt, _, err := mime.ParseMediaType(req.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return http.StatusUnsupportedMediaType
	}
	return 0
}

func readBody(w http.ResponseWriter, req *http.Request, limit int64) ([]byte, error) {
	body := http.MaxBytesReader(w, req.Body, limit)
	defer body.Close()
	return io.ReadAll(body)
}

// deliver dedupes a verified delivery, then forwards it or keeps it pending.
func (r *Receiver) deliver(d Delivery) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if d.Verified {
		key := d.WebhookID
		if key == "" {
			key = d.RequestID + "/" + d.Status.Status
		}
		if _, dup := r.seen[key]; dup {
			r.duplicates.Add(1)
			return
		}
		r.remember(key)
	}
	if ch, ok := r.waiters[d.RequestID]; ok {
		r.forward(ch, d)
		return
	}
	r.ignored.Add(1)
	r.prunePending()
	if len(r.pending) == pendingMax {
		r.pending = append(r.pending[:0], r.pending[1:]...)
	}
	r.pending = append(r.pending, d)
}

func (r *Receiver) forward(ch chan Delivery, d Delivery) {
	select {
	case ch <- d:
	default: // the consumer has 16 unread; it polls anyway
	}
	r.accepted.Add(1)
}

func (r *Receiver) remember(key string) {
	if len(r.order) == seenMax {
		delete(r.seen, r.order[0])
		r.order = r.order[1:]
	}
	r.seen[key] = struct{}{}
	r.order = append(r.order, key)
}

func (r *Receiver) prunePending() {
	cutoff := r.now().Add(-pendingTTL)
	i := 0
	for i < len(r.pending) && r.pending[i].ReceivedAt.Before(cutoff) {
		i++
	}
	r.pending = r.pending[i:]
}

// reply writes a status with a generic body that echoes nothing of the request.
func reply(w http.ResponseWriter, code int) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(http.StatusText(code) + "\n"))
}
