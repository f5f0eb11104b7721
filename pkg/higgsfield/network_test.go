package higgsfield

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hf-cli/hf/pkg/higgsfield/hftest"
)

// TestPerAttemptTimeouts: a submit, status or cancel that the API swallows
// fails after its own timeout instead of holding hf, with a retryable
// *RequestError; a hung submit counts as possibly received.
func TestPerAttemptTimeouts(t *testing.T) {
	const limit = 100 * time.Millisecond
	tests := []struct {
		name string
		ep   hftest.Endpoint
		call func(c *Client, st *Status) error
	}{
		{"status", hftest.StatusEP, func(c *Client, st *Status) error { _, err := c.Status(ctxT(t), st.RequestID, st.StatusURL); return err }},
		{"cancel", hftest.Cancel, func(c *Client, st *Status) error { return c.Cancel(ctxT(t), st.RequestID, st.CancelURL) }},
		{"submit", hftest.Submit, func(c *Client, _ *Status) error {
			_, err := c.Submit(ctxT(t), SubmitRequest{Model: testModel, Params: map[string]any{"prompt": "x"}})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, hftest.WithTiming(time.Hour, time.Hour))
			c := newClient(t, srv, func(o *Options) {
				o.MaxAttempts = 2
				o.StatusTimeout, o.SubmitTimeout, o.CancelTimeout = limit, limit, limit
			})
			st, err := c.Submit(ctxT(t), SubmitRequest{Model: testModel, Params: map[string]any{"prompt": "x"}})
			if err != nil {
				t.Fatal(err)
			}
			before := srv.Count(tt.ep)
			srv.Inject(hftest.Fault{Endpoint: tt.ep, Hang: true, Times: 2})
			start := time.Now()
			err = tt.call(c, st)
			took := time.Since(start)
			var re *RequestError
			if !errors.As(err, &re) || re.Timeout != limit || !re.Sent || !Retryable(err) {
				t.Fatalf("err = %#v, want a sent RequestError timing out after %s", err, limit)
			}
			if took > 2*time.Second {
				t.Fatalf("took %s", took)
			}
			wantHits := 2 // cancel and submit retry
			if tt.ep == hftest.StatusEP {
				wantHits = 1 // the polling schedule is the retry
			}
			if n := srv.Count(tt.ep) - before; n != wantHits {
				t.Fatalf("fake saw %d %s requests, want %d", n, tt.ep, wantHits)
			}
			if tt.ep == hftest.Submit && !MaybeCreated(err) {
				t.Fatalf("a submit that timed out after sending must say it may exist: %v", err)
			}
			if !strings.Contains(err.Error(), "no answer within 100ms") {
				t.Fatalf("message %q", err)
			}
		})
	}
}

// TestSubmitMaybeCreated: only an attempt that may have reached the API
// makes the outcome unknown.
func TestSubmitMaybeCreated(t *testing.T) {
	refused := func() string { // a loopback port nothing listens on
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		return "http://" + addr
	}()
	const concurrency = `{"detail":"Maximum number of concurrent requests (4) has been reached"}`
	tests := []struct {
		name   string
		base   string // "" = the fake
		faults []hftest.Fault
		maybe  bool
		code   int // APIError status expected, 0 none
		dns    bool
	}{
		{name: "connection refused", base: refused},
		{name: "DNS failure", base: "http://api.example.com", dns: true},
		{name: "concurrency limit 400", faults: []hftest.Fault{{Endpoint: hftest.Submit, Status: 400, Body: concurrency, Times: 3}}, code: 400},
		{name: "422", faults: []hftest.Fault{{Endpoint: hftest.Submit, Status: 422}}, code: 422},
		{name: "429 queue full", faults: []hftest.Fault{{Endpoint: hftest.Submit, Status: 429, Times: 3}}, code: 429},
		{name: "5xx", faults: []hftest.Fault{{Endpoint: hftest.Submit, Status: 502, Times: 3}}, maybe: true, code: 502},
		{name: "dropped after sending", faults: []hftest.Fault{{Endpoint: hftest.Submit, Drop: true, Times: 3}}, maybe: true},
		{name: "5xx then refused by 429", faults: []hftest.Fault{{Endpoint: hftest.Submit, Status: 503}, {Endpoint: hftest.Submit, Status: 429, Times: 2}}, maybe: true, code: 429},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t)
			for _, f := range tt.faults {
				srv.Inject(f)
			}
			c := newClient(t, srv, func(o *Options) {
				o.MaxAttempts = 3
				if tt.base != "" {
					o.BaseURL = tt.base
				}
				if tt.dns { // what the resolver says, without asking one
					o.Transport = &http.Transport{DialContext: func(context.Context, string, string) (net.Conn, error) {
						return nil, &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "api.example.com", IsNotFound: true}}
					}}
				}
			})
			_, err := c.Submit(ctxT(t), SubmitRequest{Model: testModel, Params: map[string]any{"prompt": "x"}})
			if err == nil {
				t.Fatal("want an error")
			}
			if MaybeCreated(err) != tt.maybe {
				t.Fatalf("MaybeCreated(%v) = %v, want %v", err, !tt.maybe, tt.maybe)
			}
			if StatusCodeOf(err) != tt.code {
				t.Fatalf("status code %d, want %d (%v)", StatusCodeOf(err), tt.code, err)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("not one line: %q", err)
			}
			if tt.base != "" && srv.Charged() != 0 {
				t.Fatal("charged")
			}
		})
	}
}

// TestSubmitAnswerValidated: a submit answer whose request_id is not a UUID
// is refused at the boundary with a typed error that shows it sanitized.
func TestSubmitAnswerValidated(t *testing.T) {
	for _, id := range []string{"../../x", "abc\x1b]0;pwned\x07", "d7e6c0f3-6699-4f6c-bb45-2ad7fd9158ff\r\n", "", "{d7e6c0f3-6699-4f6c-bb45-2ad7fd9158ff}"} {
		t.Run(id, func(t *testing.T) {
			srv := newServer(t)
			srv.Inject(hftest.Fault{Endpoint: hftest.Submit, Status: 200, Body: `{"status":"queued","request_id":` + quote(id) + `}`, Times: 5})
			c := newClient(t, srv)
			_, err := c.Submit(ctxT(t), SubmitRequest{Model: testModel, Params: map[string]any{"prompt": "x"}})
			var bad *BadAnswerError
			if !errors.As(err, &bad) || bad.Field != "request_id" || MaybeCreated(err) {
				t.Fatalf("err = %v, want a BadAnswerError", err)
			}
			if strings.ContainsAny(err.Error(), "\x1b\x07\r\n") {
				t.Fatalf("message carries control characters: %q", err)
			}
			if n := srv.Count(hftest.Submit); n != 1 {
				t.Fatalf("%d submits, want 1 (no retry of a definite answer)", n)
			}
		})
	}
}

func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteString(`\` + string(r))
		case r < 0x20:
			b.WriteString(`\u00` + "0123456789abcdef"[r>>4:r>>4+1] + "0123456789abcdef"[r&15:r&15+1])
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// TestServerStringsSanitized: every string of a status answer a terminal
// may show is printable.
func TestServerStringsSanitized(t *testing.T) {
	st, err := ParseStatus([]byte(`{"request_id":"r","status":"in_progress\u001b[2J\u0007","expires_at":"2026\r\nFAKE","status_url":"https://api.higgsfield.ai/x\u001b","cancel_url":"javascript:alert(1)","images":[{"url":"https://c/a.png","content_type":"image/png\u001b[31m"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]string{"status": st.Status, "expires_at": st.ExpiresAt, "status_url": st.StatusURL, "cancel_url": st.CancelURL, "content_type": st.Outputs[0].ContentType} {
		if strings.ContainsAny(v, "\x1b\x07\r\n") {
			t.Errorf("%s = %q", name, v)
		}
	}
	if st.StatusURL != "" || st.CancelURL != "" {
		t.Errorf("unusable URLs kept: %q %q", st.StatusURL, st.CancelURL)
	}
}

// TestServerTextRedacted: an error body quoting the credentials, the
// webhook secret and the receiver's secret path shows none of them, on
// every retry and in the final error.
func TestServerTextRedacted(t *testing.T) {
	const (
		whsec = "whsec_dGhlIHNpZ25pbmcgc2VjcmV0IG9mIHRoZSB0ZXN0"
		path  = "/hf/0123456789abcdef0123456789abcdef"
	)
	body := `{"detail":"bad request: Authorization=Key ` + testID + `:` + testSecret + ` hook=https://h.example` + path + ` secret ` + whsec + ` raw ` + testSecret + `"}`
	srv := newServer(t)
	srv.Inject(hftest.Fault{Endpoint: hftest.Submit, Status: 503, Body: body, Times: 2})
	srv.Inject(hftest.Fault{Endpoint: hftest.Submit, Status: 400, Body: body})
	var retries []string
	c := newClient(t, srv, func(o *Options) {
		o.OnRetry = func(r RetryInfo) { retries = append(retries, r.Err.Error()) }
	})
	_, err := c.Submit(ctxT(t), SubmitRequest{Model: testModel, Params: map[string]any{"prompt": "x"}, Webhook: "https://h.example" + path})
	if err == nil || len(retries) != 2 {
		t.Fatalf("err %v after %d retries", err, len(retries))
	}
	for _, msg := range append(retries, err.Error()) {
		for _, bad := range []string{testSecret, "0123456789abcdef0123456789abcdef", "dGhlIHNpZ25pbmcgc2VjcmV0"} {
			if strings.Contains(msg, bad) {
				t.Fatalf("message shows %q: %s", bad, msg)
			}
		}
		if !strings.Contains(msg, "bad request") {
			t.Fatalf("message lost the server's text: %s", msg)
		}
	}
}

// TestBaseURLUserinfoAndWarnings: userinfo never shows in the error about
// a base URL; plain http to another host is a warning, loopback is not.
func TestBaseURLUserinfoAndWarnings(t *testing.T) {
	for _, raw := range []string{"ftp://kid:ks3cret@api.example.com", "https://kid:ks3cret@api.example.com", "http://kid:ks3cret@[::1"} {
		_, err := New(Options{BaseURL: raw})
		if err == nil || strings.Contains(err.Error(), "ks3cret") {
			t.Errorf("New(%q) err = %v", raw, err)
		}
	}
	for raw, warn := range map[string]bool{
		"https://api.higgsfield.ai": false, "http://127.0.0.1:8080": false, "http://localhost:1": false, "http://[::1]:9": false,
		"http://api.example.com": true, "http://10.0.0.5:8080": true,
	} {
		c, err := New(Options{BaseURL: raw})
		if err != nil {
			t.Fatal(err)
		}
		w := c.Warnings()
		if (len(w) == 1) != warn || (warn && !strings.Contains(w[0], "plain http")) {
			t.Errorf("%s: warnings %q", raw, w)
		}
	}
}
