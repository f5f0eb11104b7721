package redact

import (
	"fmt"
	"io"
	"net/http"
	"time"
)

// Transport is the --debug round tripper: it writes one line per exchange
// to W: method, redacted URL, whether credentials went along (never their
// value), the Range asked for, and the status, time taken and correlation id
// (or the error). Credentials must already be on the request when it
// arrives, so it sits below whatever adds them.
type Transport struct {
	Base http.RoundTripper // nil: http.DefaultTransport
	W    io.Writer
}

// RoundTrip logs and forwards req.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	start := time.Now()
	resp, err := base.RoundTrip(req)
	if t.W == nil {
		return resp, err
	}
	took := time.Since(start).Round(time.Millisecond)
	what := "no credentials"
	if req.Header.Get("Authorization") != "" {
		what = "Authorization: Key <redacted>"
	}
	if r := req.Header.Get("Range"); r != "" {
		what += ", Range: " + OneLine(r, 80)
	}
	if err != nil {
		fmt.Fprintf(t.W, "hf: debug: %s %s (%s) → error after %s: %s\n", req.Method, Of(req.URL), what, took, OneLine(Text(err.Error()), 300))
		return resp, err
	}
	corr := ""
	if id := resp.Header.Get("X-Correlation-Id"); id != "" {
		corr = " correlation-id=" + OneLine(id, 80)
	}
	fmt.Fprintf(t.W, "hf: debug: %s %s (%s) → %d in %s%s\n", req.Method, Of(req.URL), what, resp.StatusCode, took, corr)
	return resp, nil
}
