package await

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hf-cli/hf/pkg/higgsfield"
	"github.com/hf-cli/hf/pkg/webhook"
)

var fast = Schedule{First: 5 * time.Millisecond, Max: 5 * time.Millisecond, Factor: 1}

// sequence returns a poller answering the given statuses in turn, the last one forever.
func sequence(calls *atomic.Int32, statuses ...string) Poller {
	return func(ctx context.Context) (*higgsfield.Status, error) {
		n := int(calls.Add(1)) - 1
		s := statuses[min(n, len(statuses)-1)]
		if s == "5xx" {
			return nil, &higgsfield.APIError{StatusCode: 503}
		}
		if s == "404" {
			return nil, &higgsfield.APIError{StatusCode: 404, Detail: "Not found"}
		}
		return &higgsfield.Status{RequestID: "r", Status: s}, nil
	}
}

func TestUntilPolling(t *testing.T) {
	tests := []struct {
		name      string
		statuses  []string
		want      string
		permanent bool
		polls     int32
	}{
		{name: "completes", statuses: []string{"queued", "in_progress", "completed"}, want: "completed", polls: 3},
		{name: "transient errors are retried", statuses: []string{"5xx", "5xx", "failed"}, want: "failed", polls: 3},
		{name: "unknown status keeps waiting", statuses: []string{"warming", "nsfw"}, want: "nsfw", polls: 2},
		{name: "404 stops", statuses: []string{"queued", "404"}, permanent: true, polls: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int32
			var seen []string
			res, err := Until(context.Background(), Options{Poll: sequence(&calls, tt.statuses...), Schedule: fast,
				OnStatus: func(s *higgsfield.Status) { seen = append(seen, s.Status) }})
			if tt.permanent {
				if !IsPermanent(err) {
					t.Fatalf("want a permanent error, got %v", err)
				}
			} else if err != nil || res.Status.Status != tt.want || res.NotifiedBy != ByPoll {
				t.Fatalf("got %+v, %v", res, err)
			}
			if calls.Load() != tt.polls {
				t.Fatalf("polled %d times, want %d", calls.Load(), tt.polls)
			}
		})
	}
}

func TestUntilTimeout(t *testing.T) {
	var calls atomic.Int32
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	_, err := Until(ctx, Options{Poll: sequence(&calls, "queued"), Schedule: fast})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v", err)
	}
}

func TestUntilWebhook(t *testing.T) {
	slow := Schedule{First: time.Hour, Max: time.Hour, Factor: 1}
	completed := &higgsfield.Status{RequestID: "r", Status: "completed", Outputs: []higgsfield.Output{{URL: "https://evil.example/x"}}}
	tests := []struct {
		name       string
		deliveries []webhook.Delivery
		statuses   []string
		want       string
		polls      int32
	}{
		{name: "verified delivery is trusted as is", deliveries: []webhook.Delivery{{RequestID: "r", Verified: true, Status: completed}},
			statuses: []string{"queued"}, want: "completed", polls: 0},
		{name: "unverified delivery is confirmed by a GET", deliveries: []webhook.Delivery{{RequestID: "r", Status: completed}},
			statuses: []string{"completed"}, want: "completed", polls: 1},
		{name: "forged delivery is ignored, the true one wins", deliveries: []webhook.Delivery{{RequestID: "r", Status: completed}, {RequestID: "r", Status: completed}},
			statuses: []string{"in_progress", "failed"}, want: "failed", polls: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int32
			ch := make(chan webhook.Delivery, len(tt.deliveries))
			for _, d := range tt.deliveries {
				ch <- d
			}
			res, err := Until(context.Background(), Options{Poll: sequence(&calls, tt.statuses...), Deliveries: ch, Schedule: slow, ConfirmInterval: time.Millisecond})
			if err != nil || res.Status.Status != tt.want || res.NotifiedBy != ByWebhook {
				t.Fatalf("got %+v, %v", res, err)
			}
			if calls.Load() != tt.polls {
				t.Fatalf("polled %d times, want %d", calls.Load(), tt.polls)
			}
			if !tt.deliveries[0].Verified && len(res.Status.Outputs) != 0 {
				t.Fatalf("outputs of an unverified body were trusted: %+v", res.Status.Outputs)
			}
		})
	}
}

func TestUntilEndpointDownTightensPolling(t *testing.T) {
	var calls atomic.Int32
	down := make(chan struct{})
	close(down)
	start := time.Now()
	res, err := Until(context.Background(), Options{
		Poll:         sequence(&calls, "queued", "completed"),
		Schedule:     Schedule{First: time.Hour, Max: time.Hour, Factor: 1},
		Fallback:     fast,
		EndpointDown: down,
	})
	if err != nil || res.NotifiedBy != ByPoll || time.Since(start) > 5*time.Second {
		t.Fatalf("got %+v, %v after %s", res, err, time.Since(start))
	}
}

func TestScheduleGrowsAndCaps(t *testing.T) {
	tk := &ticker{s: Schedule{First: 2 * time.Second, Max: 10 * time.Second, Factor: 1.5}}
	var got []time.Duration
	for i := 0; i < 6; i++ {
		got = append(got, tk.delay())
	}
	want := []time.Duration{2 * time.Second, 3 * time.Second, 4500 * time.Millisecond, 6750 * time.Millisecond, 10 * time.Second, 10 * time.Second}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("delays = %v, want %v", got, want)
		}
	}
	j := &ticker{s: Tight}
	for i := 0; i < 50; i++ {
		d := j.delay()
		if d < 1600*time.Millisecond || d > 12*time.Second {
			t.Fatalf("jittered delay %s out of range", d)
		}
	}
}
