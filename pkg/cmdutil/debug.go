package cmdutil

import (
	"fmt"
	"io"
	"net/http"
	"time"
)

// debugTransport logs each download exchange the way the API client logs
// its own: one line, no credentials (downloads carry none) and no query
// string (signed asset URLs keep their signatures there).
type debugTransport struct {
	base http.RoundTripper
	w    io.Writer
}

func (t *debugTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := t.base.RoundTrip(req)
	took := time.Since(start).Round(time.Millisecond)
	u := *req.URL
	if u.RawQuery != "" {
		u.RawQuery = "REDACTED"
	}
	u.User = nil
	rng := ""
	if r := req.Header.Get("Range"); r != "" {
		rng = " Range: " + r
	}
	if err != nil {
		fmt.Fprintf(t.w, "hf: debug: %s %s (no credentials%s) → error after %s: %v\n", req.Method, u.String(), rng, took, err)
		return nil, err
	}
	fmt.Fprintf(t.w, "hf: debug: %s %s (no credentials%s) → %d in %s\n", req.Method, u.String(), rng, resp.StatusCode, took)
	return resp, nil
}

// downloadClient is the HTTP client for outputs: no overall timeout (a large
// video takes long; the context bounds it), 30 s to the first byte.
func downloadClient(debug io.Writer) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.ResponseHeaderTimeout = 30 * time.Second
	if debug == nil {
		return &http.Client{Transport: tr}
	}
	return &http.Client{Transport: &debugTransport{base: tr, w: debug}}
}
