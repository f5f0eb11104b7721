package await

import (
	"context"
	"errors"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hf-cli/hf/pkg/higgsfield"
	"github.com/hf-cli/hf/pkg/higgsfield/hftest"
	"github.com/hf-cli/hf/pkg/webhook"
)

const testSecret = "whsec_dGhlIHNpZ25pbmcgc2VjcmV0IG9mIHRoZSB0ZXN0"

// stack is a fake API, a real client and a real receiver served on
// loopback, as generate wires them.
type stack struct {
	api    *hftest.Server
	client *higgsfield.Client
	rcv    *webhook.Receiver
	hook   string
}

func newStack(t *testing.T, secret string, statusTimeout time.Duration, opts ...hftest.Option) *stack {
	t.Helper()
	if secret != "" {
		opts = append(opts, hftest.WithWebhookSecret(secret))
	}
	api := hftest.New(opts...)
	t.Cleanup(api.Close)
	c, err := higgsfield.New(higgsfield.Options{BaseURL: api.URL, StatusTimeout: statusTimeout, InitialBackoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	rcv, err := webhook.NewReceiver(webhook.Options{Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(rcv)
	t.Cleanup(hs.Close)
	return &stack{api: api, client: c, rcv: rcv, hook: hs.URL + rcv.Path()}
}

func (s *stack) submit(t *testing.T) *higgsfield.Status {
	t.Helper()
	st, err := s.client.Submit(context.Background(), higgsfield.SubmitRequest{Model: "m", Params: map[string]any{"prompt": "p"}, Webhook: s.hook})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func (s *stack) poller(st *higgsfield.Status) Poller {
	return func(ctx context.Context) (*higgsfield.Status, error) {
		return s.client.Status(ctx, st.RequestID, st.StatusURL)
	}
}

// TestSignedDeliveryWinsOverHungPoll: the first status GET never answers;
// the signed delivery that arrives meanwhile resolves the wait at once,
// long before the GET's own timeout, and the hung GET is abandoned.
func TestSignedDeliveryWinsOverHungPoll(t *testing.T) {
	s := newStack(t, testSecret, 20*time.Second, hftest.WithTiming(50*time.Millisecond, 50*time.Millisecond))
	s.api.Inject(hftest.Fault{Endpoint: hftest.StatusEP, Hang: true, Times: 100})
	st := s.submit(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	res, err := Until(ctx, Options{Poll: s.poller(st), Deliveries: s.rcv.Expect(st.RequestID), Immediate: true, Schedule: Sparse})
	took := time.Since(start)
	if err != nil || res.Status.Status != higgsfield.StatusCompleted || res.NotifiedBy != ByWebhook {
		t.Fatalf("got %+v, %v after %s", res, err, took)
	}
	if took > 3*time.Second {
		t.Fatalf("resolved after %s: the hung GET held the webhook side", took)
	}
	hits := s.api.Hits()
	if n := s.api.Count(hftest.StatusEP); n != 1 || hits[len(hits)-1].Status != 0 {
		t.Fatalf("fake saw %d status GETs (last %+v), want the one that hung", n, hits[len(hits)-1])
	}
}

// TestHungPollTimesOutAndPollingGoesOn: without a webhook, a status GET
// that never answers fails after the client's status timeout, is reported
// as a transient error, and the next poll resolves the wait.
func TestHungPollTimesOutAndPollingGoesOn(t *testing.T) {
	s := newStack(t, "", 150*time.Millisecond, hftest.WithTiming(0, 0))
	s.api.Inject(hftest.Fault{Endpoint: hftest.StatusEP, Hang: true, Times: 2})
	st := s.submit(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var pollErrs []error
	start := time.Now()
	res, err := Until(ctx, Options{Poll: s.poller(st), Immediate: true, Schedule: fast,
		OnPollError: func(err error) { pollErrs = append(pollErrs, err) }})
	if err != nil || res.Status.Status != higgsfield.StatusCompleted || res.NotifiedBy != ByPoll {
		t.Fatalf("got %+v, %v", res, err)
	}
	if took := time.Since(start); took < 300*time.Millisecond || took > 5*time.Second {
		t.Fatalf("took %s, want two status timeouts (~300ms) and not much more", took)
	}
	var re *higgsfield.RequestError
	if len(pollErrs) != 2 || !errors.As(pollErrs[0], &re) || re.Timeout != 150*time.Millisecond {
		t.Fatalf("poll errors %v, want two timeouts", pollErrs)
	}
	if n := s.api.Count(hftest.StatusEP); n != 3 {
		t.Fatalf("fake saw %d status GETs, want 3 (2 hung + 1)", n)
	}
}

// TestUnsignedFloodIsCoalesced: 200 unsigned deliveries for one live
// request cost a handful of status GETs (counted by the fake) and one
// OnDelivery, not one each.
func TestUnsignedFloodIsCoalesced(t *testing.T) {
	s := newStack(t, "", 5*time.Second, hftest.WithTiming(time.Hour, time.Hour))
	st := s.submit(t)
	ctx, cancel := context.WithCancel(context.Background())
	var seen atomic.Int32
	type out struct {
		res Result
		err error
	}
	done := make(chan out, 1)
	ch := s.rcv.Expect(st.RequestID)
	go func() {
		res, err := Until(ctx, Options{Poll: s.poller(st), Deliveries: ch, Schedule: Schedule{First: time.Hour, Max: time.Hour, Factor: 1},
			ConfirmInterval: 200 * time.Millisecond, OnDelivery: func(webhook.Delivery) { seen.Add(1) }})
		done <- out{res, err}
	}()
	ok, err := s.api.Redeliver(st.RequestID, 200)
	if err != nil || ok != 200 {
		t.Fatalf("receiver answered 2xx to %d of 200 (%v)", ok, err)
	}
	time.Sleep(500 * time.Millisecond) // past two confirm intervals
	cancel()
	o := <-done
	if !errors.Is(o.err, context.Canceled) {
		t.Fatalf("the queued request resolved: %+v, %v", o.res, o.err)
	}
	gets := s.api.Count(hftest.StatusEP)
	if gets < 1 || gets > 3 {
		t.Fatalf("fake saw %d status GETs for %d unsigned deliveries, want 1..3", gets, o.res.Deliveries)
	}
	if seen.Load() != 1 || o.res.Deliveries < 2 || o.res.Coalesced < o.res.Deliveries-gets {
		t.Fatalf("OnDelivery %d times; %d deliveries, %d coalesced", seen.Load(), o.res.Deliveries, o.res.Coalesced)
	}
	t.Logf("200 unsigned deliveries: %d reached the wait, %d status GETs", o.res.Deliveries, gets)
}

// TestOneGetInFlight: whatever mix of timer ticks and unsigned deliveries
// arrives, Poll never runs twice at once and the schedule keeps going.
func TestOneGetInFlight(t *testing.T) {
	var inFlight, most, calls atomic.Int32
	poll := func(ctx context.Context) (*higgsfield.Status, error) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		calls.Add(1)
		select { // a slow API
		case <-time.After(30 * time.Millisecond):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return &higgsfield.Status{RequestID: "r", Status: "in_progress"}, nil
	}
	ch := make(chan webhook.Delivery)
	ctx, cancel := context.WithTimeout(context.Background(), 600*time.Millisecond)
	defer cancel()
	go func() {
		for ctx.Err() == nil {
			select {
			case ch <- webhook.Delivery{RequestID: "r", Status: &higgsfield.Status{RequestID: "r", Status: "completed"}}:
			case <-ctx.Done():
			}
			time.Sleep(time.Millisecond)
		}
	}()
	res, err := Until(ctx, Options{Poll: poll, Deliveries: ch, Schedule: Schedule{First: 10 * time.Millisecond, Max: 10 * time.Millisecond, Factor: 1}, ConfirmInterval: 100 * time.Millisecond})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %+v, %v", res, err)
	}
	if most.Load() != 1 {
		t.Fatalf("%d GETs ran at once", most.Load())
	}
	if calls.Load() < 3 {
		t.Fatalf("only %d GETs: the timer schedule stalled", calls.Load())
	}
	if res.Deliveries < 50 || res.Coalesced < res.Deliveries-int(calls.Load()) {
		t.Fatalf("%d deliveries, %d coalesced, %d GETs", res.Deliveries, res.Coalesced, calls.Load())
	}
}
