package higgsfield

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hf-cli/hf/pkg/redact"
)

// APIError is a non-2xx answer from the API.
type APIError struct {
	StatusCode int
	// Detail is the API's message, flattened to one line
	// (FastAPI validation arrays become "loc: msg; loc: msg").
	Detail string
	// Code is the machine-readable code when the body has one
	// (e.g. "account_queue_full").
	Code string
	// RetryAfter is the parsed Retry-After header, 0 when absent.
	RetryAfter time.Duration
	// Shaped: the body was a JSON object with a "detail" field, the shape of
	// the API's own errors (FastAPI's), not some other server's page.
	Shaped bool
	Method string
	URL    string
}

func (e *APIError) Error() string {
	msg := e.Detail
	if msg == "" {
		msg = http.StatusText(e.StatusCode)
	}
	return fmt.Sprintf("API answered %d: %s", e.StatusCode, msg)
}

// Retryable reports whether the same call may be sent again: 5xx, 429, and
// the legacy 400 "maximum number of concurrent requests".
func (e *APIError) Retryable() bool {
	switch {
	case e.StatusCode >= 500, e.StatusCode == http.StatusTooManyRequests:
		return true
	case e.StatusCode == http.StatusBadRequest && strings.Contains(strings.ToLower(e.Detail), "concurrent"):
		return true
	}
	return false
}

// StatusCodeOf returns the HTTP status of an *APIError in err's chain, or 0.
func StatusCodeOf(err error) int {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.StatusCode
	}
	return 0
}

// RequestError is an API call that got no complete answer: the connection
// failed, the answer broke off, or none came within the call's timeout.
type RequestError struct {
	Method string
	URL    string // redacted
	// Sent: the request was written, so the API may have received (and
	// acted on) it. A refused connection or a failed DNS lookup is not sent.
	Sent bool
	// Timeout is the per-attempt limit that ran out, 0 for other failures.
	Timeout time.Duration
	Err     error // nil for a timeout; its text is redacted
}

func (e *RequestError) Error() string {
	if e.Timeout > 0 {
		return fmt.Sprintf("%s %s: no answer within %s", e.Method, e.URL, e.Timeout)
	}
	if !e.Sent {
		return fmt.Sprintf("%s %s: %v (nothing was sent)", e.Method, e.URL, e.Err)
	}
	return fmt.Sprintf("%s %s: %v", e.Method, e.URL, e.Err)
}

func (e *RequestError) Unwrap() error { return e.Err }

// MaybeCreatedError is a submit that failed after at least one attempt may
// have reached the API (written before the connection broke or timed out,
// or answered 5xx): the request may exist and be charged. Submitting again
// with the same Idempotency-Key finds it without a second charge.
type MaybeCreatedError struct{ Err error }

func (e *MaybeCreatedError) Error() string { return e.Err.Error() }
func (e *MaybeCreatedError) Unwrap() error { return e.Err }

// MaybeCreated reports whether a failed submit may have created the
// request anyway. A refused connection, a DNS failure or a definite
// refusal (4xx, 429, the concurrency limit) did not.
func MaybeCreated(err error) bool {
	var me *MaybeCreatedError
	return errors.As(err, &me)
}

// BadAnswerError is a 2xx answer hf refuses to act on: a field that is not
// what the API documents (a request_id that is not a UUID).
type BadAnswerError struct {
	Field, Value, Want string
}

func (e *BadAnswerError) Error() string {
	return fmt.Sprintf("the API answered an invalid %s %q (want %s); nothing was saved", e.Field, redact.OneLine(e.Value, 80), e.Want)
}

// mayHaveArrived reports whether one failed attempt may have been received.
func mayHaveArrived(err error) bool {
	var re *RequestError
	if errors.As(err, &re) {
		return re.Sent
	}
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.StatusCode >= 500
	}
	return false
}

func (c *Client) newAPIError(resp *http.Response, body []byte) *APIError {
	return newAPIError(resp, body, c.secrets)
}

// newAPIError builds the error of a non-2xx answer. Server text is
// scrubbed of secrets before it is cut to length (so no secret survives
// half-shown) and again after decoding (JSON escapes).
func newAPIError(resp *http.Response, body []byte, sec *redact.Secrets) *APIError {
	e := &APIError{StatusCode: resp.StatusCode, Method: resp.Request.Method, URL: redact.Of(resp.Request.URL)}
	defer func() {
		e.Detail, e.Code = sec.Text(e.Detail), sec.Text(e.Code)
	}()
	body = []byte(sec.Text(string(body)))
	e.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	var obj map[string]json.RawMessage
	if json.Unmarshal(body, &obj) == nil {
		_, e.Shaped = obj["detail"]
		for _, k := range []string{"detail", "details", "message", "error"} {
			if raw, ok := obj[k]; ok {
				e.Detail = formatDetail(raw)
				break
			}
		}
		if raw, ok := obj["code"]; ok {
			_ = json.Unmarshal(raw, &e.Code)
			e.Code = oneLine(e.Code, 64)
		}
	}
	if e.Detail == "" {
		e.Detail = oneLine(string(body), 200)
	}
	return e
}

// formatDetail renders a FastAPI detail: a string, or an array of
// {loc, msg} objects shown as "loc.path: msg" joined by "; ".
func formatDetail(raw json.RawMessage) string {
	var items []struct {
		Loc []any  `json:"loc"`
		Msg string `json:"msg"`
	}
	if json.Unmarshal(raw, &items) == nil && len(items) > 0 {
		parts := make([]string, 0, len(items))
		for _, it := range items {
			loc := make([]string, 0, len(it.Loc))
			for i, l := range it.Loc {
				s := fmt.Sprint(l)
				if i == 0 && s == "body" && len(it.Loc) > 1 {
					continue
				}
				loc = append(loc, s)
			}
			if len(loc) == 0 {
				parts = append(parts, it.Msg)
				continue
			}
			parts = append(parts, strings.Join(loc, ".")+": "+it.Msg)
		}
		return oneLine(strings.Join(parts, "; "), 300)
	}
	return oneLine(flattenMessage(raw), 300)
}

func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0
		}
		// Saturate instead of overflowing: callers cap it anyway.
		return time.Duration(min(secs, int64(24*time.Hour/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// oneLine makes API-supplied text safe to print (see redact.OneLine).
func oneLine(s string, max int) string { return redact.OneLine(s, max) }
