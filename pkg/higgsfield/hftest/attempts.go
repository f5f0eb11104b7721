package hftest

import (
	"net/http"
	"slices"
	"time"
)

// WebhookAttempt is one webhook POST the fake made: where to, which delivery
// (webhook-id), the headers and body it sent, and what the receiver answered
// (Code 0 and Err when it did not answer: refused, timed out, dropped).
type WebhookAttempt struct {
	URL       string
	WebhookID string
	Header    http.Header
	Body      []byte
	Code      int
	Err       string
	At        time.Time
}

// WebhookAttempts returns every webhook POST attempted so far, retries and
// duplicates included, in the order they finished.
func (s *Server) WebhookAttempts() []WebhookAttempt {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.attempts)
}

func (s *Server) recordAttempt(a WebhookAttempt) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.attempts = append(s.attempts, a)
}
