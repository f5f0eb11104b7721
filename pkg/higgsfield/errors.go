package higgsfield

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
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
	Method     string
	URL        string
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

func newAPIError(resp *http.Response, body []byte) *APIError {
	e := &APIError{StatusCode: resp.StatusCode, Method: resp.Request.Method, URL: redactURL(resp.Request.URL)}
	e.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	var obj map[string]json.RawMessage
	if json.Unmarshal(body, &obj) == nil {
		for _, k := range []string{"detail", "details", "message", "error"} {
			if raw, ok := obj[k]; ok {
				e.Detail = formatDetail(raw)
				break
			}
		}
		if raw, ok := obj["code"]; ok {
			_ = json.Unmarshal(raw, &e.Code)
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

// oneLine makes API-supplied text safe to print: control characters
// (newlines, escape sequences) become spaces, runs of space collapse, and
// the result is cut at max bytes on a character boundary.
func oneLine(s string, max int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
