package hftest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/hf-cli/hf/pkg/signature"
)

const (
	webhookAttempts = 8
	webhookBackoff  = 50 * time.Millisecond
)

// terminal runs at a webhook job's terminal moment and delivers its final
// status, unless the job was canceled or the server closed.
func (s *Server) terminal(id string) {
	s.mu.Lock()
	delete(s.timers, id)
	j := s.jobs[id]
	switch j.info.Outcome.Status {
	case statusCompleted, statusFailed, statusNSFW:
	default:
		s.mu.Unlock()
		return
	}
	if s.closed || j.info.Canceled {
		s.mu.Unlock()
		return
	}
	f, hook, body := j.whFault, j.info.Webhook, s.statusBody(j, j.terminalAt())
	s.workers.Add(1)
	s.mu.Unlock()
	defer s.workers.Done()

	payload, _ := json.Marshal(body)
	if f.Drop || !sleep(s.ctx, f.Delay) {
		return
	}
	for range f.Duplicate + 1 {
		s.deliver(hook, "msg_"+id, payload)
	}
}

// deliver POSTs payload until the receiver answers 2xx, backing off
// exponentially, for at most webhookAttempts attempts.
func (s *Server) deliver(hook, msgID string, payload []byte) {
	backoff := webhookBackoff
	for attempt := 1; ; attempt++ {
		if s.post(hook, msgID, payload) || attempt == webhookAttempts || !sleep(s.ctx, backoff) {
			return
		}
		backoff *= 2
	}
}

func (s *Server) post(hook, msgID string, payload []byte) bool {
	req, err := http.NewRequestWithContext(s.ctx, http.MethodPost, hook, bytes.NewReader(payload))
	if err != nil {
		return false
	}
	s.mu.Lock()
	s.deliveries++
	secret := s.webhookSecret
	s.mu.Unlock()
	now := time.Now()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "hftest-webhook")
	req.Header.Set("webhook-id", msgID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	if secret != "" {
		// A malformed secret sends the delivery unsigned, as a misconfigured
		// sender would; the receiver then rejects it.
		if sig, err := signature.Sign(secret, msgID, now, payload); err == nil {
			req.Header.Set("webhook-signature", sig)
		}
	}
	resp, err := s.client.Do(req)
	if err != nil {
		s.recordAttempt(WebhookAttempt{URL: hook, WebhookID: msgID, Header: req.Header.Clone(), Body: payload, Err: err.Error(), At: time.Now()})
		return false
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	s.recordAttempt(WebhookAttempt{URL: hook, WebhookID: msgID, Header: req.Header.Clone(), Body: payload, Code: resp.StatusCode, At: time.Now()})
	return resp.StatusCode >= 200 && resp.StatusCode < 300
}

// sleep waits d and reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
