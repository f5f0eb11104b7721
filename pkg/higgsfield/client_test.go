package higgsfield

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v5"

	"github.com/hf-cli/hf/pkg/higgsfield/hftest"
)

const (
	testModel  = "higgsfield-ai/soul/standard"
	testID     = "key-id"
	testSecret = "s3cr3t-value"
	testUA     = "hf/1.2.3"
)

// seen is one request as it left the client (after its transport stamped
// the headers), recorded in front of the real network.
type seen struct {
	Method, URL string
	Header      http.Header
}

// recorder wraps the default transport and keeps a copy of every request
// header set; the answers still come from hftest.
type recorder struct {
	mu   sync.Mutex
	reqs []seen
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.reqs = append(r.reqs, seen{Method: req.Method, URL: req.URL.String(), Header: req.Header.Clone()})
	r.mu.Unlock()
	return http.DefaultTransport.RoundTrip(req)
}

func (r *recorder) all() []seen {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]seen(nil), r.reqs...)
}

func newServer(t *testing.T, opts ...hftest.Option) *hftest.Server {
	t.Helper()
	srv := hftest.New(append([]hftest.Option{hftest.WithCredentials(testID, testSecret)}, opts...)...)
	t.Cleanup(srv.Close)
	return srv
}

// newClient returns a client for srv with fast retries; mod adjusts the options.
func newClient(t *testing.T, srv *hftest.Server, mod ...func(*Options)) *Client {
	t.Helper()
	o := Options{
		BaseURL:        srv.URL,
		Credentials:    Credentials{ID: testID, Secret: testSecret},
		UserAgent:      testUA,
		InitialBackoff: time.Millisecond,
		MaxAttempts:    5,
	}
	for _, m := range mod {
		m(&o)
	}
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func ctxT(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestNewBaseURL(t *testing.T) {
	tests := []struct {
		raw, want string
		wantErr   bool
	}{
		{raw: "", want: DefaultBaseURL},
		{raw: "https://api.example.com/", want: "https://api.example.com"},
		{raw: "http://127.0.0.1:8080", want: "http://127.0.0.1:8080"},
		{raw: "ftp://api.example.com", wantErr: true},
		{raw: "api.higgsfield.ai", wantErr: true},
		{raw: "https://", wantErr: true},
		{raw: "://bad", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			c, err := New(Options{BaseURL: tt.raw})
			if tt.wantErr {
				if err == nil {
					t.Fatalf("New(%q) = %v, want an error", tt.raw, c.BaseURL())
				}
				return
			}
			if err != nil || c.BaseURL() != tt.want {
				t.Fatalf("New(%q): %v, %v; want %s", tt.raw, c, err, tt.want)
			}
		})
	}
}

func TestSubmitRequest(t *testing.T) {
	tests := []struct {
		name    string
		webhook string
		key     string
	}{
		{name: "no webhook"},
		{name: "webhook and given key", webhook: "https://hook.example.com/wh/0123456789abcdef", key: "my-key-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t)
			rec := &recorder{}
			c := newClient(t, srv, func(o *Options) { o.Transport = rec })
			params := map[string]any{"prompt": "a red fox", "batch_size": 2, "enhance": true, "style": map[string]any{"id": "x"}}
			st, err := c.Submit(ctxT(t), SubmitRequest{Model: testModel, Params: params, Webhook: tt.webhook, IdempotencyKey: tt.key})
			if err != nil {
				t.Fatal(err)
			}
			if st.RequestID == "" || st.Status != StatusQueued {
				t.Fatalf("submit answer: %+v", st)
			}
			if st.StatusURL != srv.URL+"/requests/"+st.RequestID+"/status" || st.CancelURL != srv.URL+"/requests/"+st.RequestID+"/cancel" {
				t.Fatalf("status/cancel URLs: %q %q", st.StatusURL, st.CancelURL)
			}
			hits := srv.Hits()
			if len(hits) != 1 {
				t.Fatalf("hits: %+v", hits)
			}
			h := hits[0]
			if h.Endpoint != hftest.Submit || h.Method != http.MethodPost || h.Path != "/"+testModel {
				t.Fatalf("hit: %+v", h)
			}
			if h.Authorization != "Key "+testID+":"+testSecret {
				t.Fatalf("Authorization = %q", h.Authorization)
			}
			if h.UserAgent != testUA {
				t.Fatalf("User-Agent = %q, want %q", h.UserAgent, testUA)
			}
			if h.IdempotencyKey == "" || (tt.key != "" && h.IdempotencyKey != tt.key) {
				t.Fatalf("Idempotency-Key = %q, want %q (non-empty)", h.IdempotencyKey, tt.key)
			}
			reqs := rec.all()
			if len(reqs) != 1 {
				t.Fatalf("requests: %+v", reqs)
			}
			if ct := reqs[0].Header.Get("Content-Type"); ct != "application/json" {
				t.Fatalf("Content-Type = %q", ct)
			}
			u, _ := url.Parse(reqs[0].URL)
			if got := u.Query().Get("hf_webhook"); got != tt.webhook {
				t.Fatalf("hf_webhook = %q, want %q", got, tt.webhook)
			}
			if tt.webhook == "" && u.RawQuery != "" {
				t.Fatalf("query without a webhook: %q", u.RawQuery)
			}
			j, ok := srv.Job(st.RequestID)
			if !ok {
				t.Fatal("the fake has no such job")
			}
			// The body is the flat JSON object of the parameters.
			want := map[string]any{"prompt": "a red fox", "batch_size": float64(2), "enhance": true, "style": map[string]any{"id": "x"}}
			if fmt.Sprint(j.Body) != fmt.Sprint(want) {
				t.Fatalf("body = %v, want %v", j.Body, want)
			}
			if j.Webhook != tt.webhook || j.Model != testModel {
				t.Fatalf("job: %+v", j)
			}
		})
	}
}

func TestSubmitNilParamsSendsObject(t *testing.T) {
	srv := newServer(t)
	c := newClient(t, srv)
	_, err := c.Submit(ctxT(t), SubmitRequest{Model: testModel})
	// The fake wants a prompt: a 422 proves the body was a JSON object
	// (anything else is a "valid dictionary" error).
	var ae *APIError
	if !errors.As(err, &ae) || ae.StatusCode != 422 || ae.Detail != "prompt: field required" {
		t.Fatalf("err = %v", err)
	}
}

func TestSubmitInvalidModelSendsNothing(t *testing.T) {
	srv := newServer(t)
	c := newClient(t, srv)
	for _, m := range []string{"", "../x", "a b", "https://evil.example.com/x"} {
		if _, err := c.Submit(ctxT(t), SubmitRequest{Model: m, Params: map[string]any{"prompt": "x"}}); err == nil {
			t.Errorf("Submit(%q) succeeded", m)
		}
	}
	if n := len(srv.Hits()); n != 0 {
		t.Fatalf("%d requests sent for invalid models", n)
	}
}

func TestSubmitRetries(t *testing.T) {
	tests := []struct {
		name   string
		faults []hftest.Fault
		hits   int
	}{
		{name: "500", faults: []hftest.Fault{{Endpoint: hftest.Submit, Status: 500}}, hits: 2},
		{name: "502 then 503", faults: []hftest.Fault{{Endpoint: hftest.Submit, Status: 502}, {Endpoint: hftest.Submit, Status: 503}}, hits: 3},
		{name: "dropped connection", faults: []hftest.Fault{{Endpoint: hftest.Submit, Drop: true}}, hits: 2},
		{name: "answer lost after the job was created (500)", faults: []hftest.Fault{{Endpoint: hftest.Submit, After: true, Status: 500}}, hits: 2},
		{name: "answer lost after the job was created (drop)", faults: []hftest.Fault{{Endpoint: hftest.Submit, After: true, Drop: true, Times: 2}}, hits: 3},
		{name: "429 without Retry-After", faults: []hftest.Fault{{Endpoint: hftest.Submit, Status: 429}}, hits: 2},
		{name: "legacy 400 concurrent limit", faults: []hftest.Fault{{Endpoint: hftest.Submit, Status: 400, Body: `{"detail":"Maximum number of concurrent requests reached"}`}}, hits: 2},
		{name: "truncated answer", faults: []hftest.Fault{{Endpoint: hftest.Submit, Truncate: 5}}, hits: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t)
			for _, f := range tt.faults {
				srv.Inject(f)
			}
			var retries []RetryInfo
			c := newClient(t, srv, func(o *Options) { o.OnRetry = func(ri RetryInfo) { retries = append(retries, ri) } })
			st, err := c.Submit(ctxT(t), SubmitRequest{Model: testModel, Params: map[string]any{"prompt": "x"}})
			if err != nil {
				t.Fatal(err)
			}
			hits := srv.Hits()
			if len(hits) != tt.hits {
				t.Fatalf("%d hits, want %d: %+v", len(hits), tt.hits, hits)
			}
			for _, h := range hits {
				if h.IdempotencyKey == "" || h.IdempotencyKey != hits[0].IdempotencyKey {
					t.Fatalf("retry changed the Idempotency-Key: %+v", hits)
				}
				if h.Authorization == "" {
					t.Fatalf("retry without credentials: %+v", h)
				}
			}
			if n := srv.Charged(); n != 1 {
				t.Fatalf("charged %d times, want 1", n)
			}
			if jobs := srv.Jobs(); st.RequestID != jobs[0].ID {
				t.Fatalf("request id %s, but the job charged is %s", st.RequestID, jobs[0].ID)
			}
			if len(retries) != tt.hits-1 {
				t.Fatalf("OnRetry saw %d retries, want %d", len(retries), tt.hits-1)
			}
			for i, ri := range retries {
				if ri.Op != "submit" || ri.Attempt != i+1 || ri.Err == nil || ri.Delay <= 0 {
					t.Fatalf("retry %d: %+v", i, ri)
				}
			}
		})
	}
}

func TestSubmitRetryAfter(t *testing.T) {
	srv := newServer(t)
	srv.Inject(hftest.Fault{Endpoint: hftest.Submit, Status: 429, RetryAfter: "1"})
	var delays []time.Duration
	c := newClient(t, srv, func(o *Options) { o.OnRetry = func(ri RetryInfo) { delays = append(delays, ri.Delay) } })
	start := time.Now()
	if _, err := c.Submit(ctxT(t), SubmitRequest{Model: testModel, Params: map[string]any{"prompt": "x"}}); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < 950*time.Millisecond {
		t.Fatalf("retried after %s, Retry-After asked for 1s", took)
	}
	if len(delays) != 1 || delays[0] != time.Second {
		t.Fatalf("OnRetry delays = %v, want [1s]", delays)
	}
	if srv.Count(hftest.Submit) != 2 || srv.Charged() != 1 {
		t.Fatalf("hits %d charged %d", srv.Count(hftest.Submit), srv.Charged())
	}
}

func TestSubmitGivesUpAfterMaxAttempts(t *testing.T) {
	srv := newServer(t)
	srv.Inject(hftest.Fault{Endpoint: hftest.Submit, Status: 503, Times: 10})
	c := newClient(t, srv, func(o *Options) { o.MaxAttempts = 3 })
	_, err := c.Submit(ctxT(t), SubmitRequest{Model: testModel, Params: map[string]any{"prompt": "x"}})
	if StatusCodeOf(err) != 503 {
		t.Fatalf("err = %v, want the last 503", err)
	}
	if n := srv.Count(hftest.Submit); n != 3 {
		t.Fatalf("%d attempts, want 3", n)
	}
}

func TestSubmitNotRetried(t *testing.T) {
	tests := []struct {
		name       string
		fault      *hftest.Fault
		badSecret  bool
		noPrompt   bool
		code       int
		detail     string
		errCode    string
		errMessage string
	}{
		{name: "401 from the fake's credential check", badSecret: true, code: 401, detail: "Invalid credentials"},
		{name: "403 not enough credits", fault: &hftest.Fault{Status: 403, Body: `{"detail":"Not enough credits"}`}, code: 403, detail: "Not enough credits",
			errMessage: "API answered 403: Not enough credits"},
		{name: "403 cloudflare 1010", fault: &hftest.Fault{Status: 403, Body: "<html>\n  error code: 1010\n</html>"}, code: 403, detail: "<html> error code: 1010 </html>"},
		{name: "422 validation array from the fake", noPrompt: true, code: 422, detail: "prompt: field required",
			errMessage: "API answered 422: prompt: field required"},
		{name: "422 several fields", fault: &hftest.Fault{Status: 422, Body: `{"detail":[{"loc":["body","prompt"],"msg":"field required"},{"loc":["body","style","id"],"msg":"bad"},{"loc":["body"],"msg":"whole"}]}`},
			code: 422, detail: "prompt: field required; style.id: bad; body: whole"},
		{name: "400 plain", fault: &hftest.Fault{Status: 400, Body: `{"message":"bad aspect_ratio","code":"invalid_param"}`}, code: 400, detail: "bad aspect_ratio", errCode: "invalid_param"},
		{name: "404 unknown model", fault: &hftest.Fault{Status: 404}, code: 404, detail: "Not Found"},
		{name: "402 payment", fault: &hftest.Fault{Status: 402, Body: `{"error":{"message":"pay up"}}`}, code: 402, detail: "pay up"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t)
			if tt.fault != nil {
				f := *tt.fault
				f.Endpoint = hftest.Submit
				srv.Inject(f)
			}
			var retries int
			c := newClient(t, srv, func(o *Options) {
				o.OnRetry = func(RetryInfo) { retries++ }
				if tt.badSecret {
					o.Credentials.Secret = "wrong"
				}
			})
			params := map[string]any{"prompt": "x"}
			if tt.noPrompt {
				params = map[string]any{"aspect_ratio": "1:1"}
			}
			_, err := c.Submit(ctxT(t), SubmitRequest{Model: testModel, Params: params})
			var ae *APIError
			if !errors.As(err, &ae) {
				t.Fatalf("err = %T %v, want *APIError", err, err)
			}
			if ae.StatusCode != tt.code || ae.Detail != tt.detail {
				t.Fatalf("APIError %d %q, want %d %q", ae.StatusCode, ae.Detail, tt.code, tt.detail)
			}
			if tt.errCode != "" && ae.Code != tt.errCode {
				t.Fatalf("Code = %q, want %q", ae.Code, tt.errCode)
			}
			if tt.errMessage != "" && err.Error() != tt.errMessage {
				t.Fatalf("Error() = %q, want %q", err.Error(), tt.errMessage)
			}
			if ae.Method != http.MethodPost || !strings.HasSuffix(ae.URL, "/"+testModel) {
				t.Fatalf("APIError method/url: %s %s", ae.Method, ae.URL)
			}
			if n := srv.Count(hftest.Submit); n != 1 || retries != 0 {
				t.Fatalf("%d hits, %d retries: want 1 and 0", n, retries)
			}
			if strings.Contains(err.Error(), testSecret) {
				t.Fatalf("error shows the secret: %v", err)
			}
		})
	}
}

func TestSubmit429Code(t *testing.T) {
	srv := newServer(t)
	srv.Inject(hftest.Fault{Endpoint: hftest.Submit, Status: 429, RetryAfter: "7"})
	c := newClient(t, srv, func(o *Options) { o.MaxAttempts = 1 })
	_, err := c.Submit(ctxT(t), SubmitRequest{Model: testModel, Params: map[string]any{"prompt": "x"}})
	var ae *APIError
	if !errors.As(err, &ae) || ae.Code != "account_queue_full" || ae.RetryAfter != 7*time.Second || !ae.Retryable() {
		t.Fatalf("err = %#v", err)
	}
}

func TestSubmitCancelDuringBackoff(t *testing.T) {
	srv := newServer(t)
	srv.Inject(hftest.Fault{Endpoint: hftest.Submit, Status: 503, RetryAfter: "60"})
	c := newClient(t, srv, func(o *Options) { o.InitialBackoff = 30 * time.Second })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	retrying := make(chan struct{})
	c.onRetry = func(RetryInfo) { close(retrying) }
	go func() {
		<-retrying
		cancel()
	}()
	start := time.Now()
	_, err := c.Submit(ctx, SubmitRequest{Model: testModel, Params: map[string]any{"prompt": "x"}})
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("Submit returned %s after cancel", took)
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if !strings.Contains(err.Error(), "503") {
		t.Fatalf("err %q does not say what failed last", err)
	}
	if Retryable(err) {
		t.Fatal("a canceled call is retryable")
	}
	if n := srv.Count(hftest.Submit); n != 1 {
		t.Fatalf("%d hits, want 1", n)
	}
}

func TestSubmitNetworkErrorHidesWebhookSecret(t *testing.T) {
	srv := newServer(t)
	srv.Inject(hftest.Fault{Endpoint: hftest.Submit, Drop: true, Times: 2})
	c := newClient(t, srv, func(o *Options) { o.MaxAttempts = 2 })
	hook := "https://hook.example.com/wh/5f2b8c1d9e0a4f6b8c7d6e5f4a3b2c1d"
	_, err := c.Submit(ctxT(t), SubmitRequest{Model: testModel, Params: map[string]any{"prompt": "x"}, Webhook: hook})
	if err == nil {
		t.Fatal("want an error")
	}
	if strings.Contains(err.Error(), "5f2b8c1d9e0a4f6b8c7d6e5f4a3b2c1d") {
		t.Fatalf("error shows the webhook's secret path: %v", err)
	}
}

func TestStatusProgression(t *testing.T) {
	srv := newServer(t, hftest.WithTiming(100*time.Millisecond, 150*time.Millisecond))
	c := newClient(t, srv)
	ctx := ctxT(t)
	sub, err := c.Submit(ctx, SubmitRequest{Model: testModel, Params: map[string]any{"prompt": "x", "batch_size": 2}})
	if err != nil {
		t.Fatal(err)
	}
	var seq []string
	var last *Status
	for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		st, err := c.Status(ctx, sub.RequestID, sub.StatusURL)
		if err != nil {
			t.Fatal(err)
		}
		if st.RequestID != sub.RequestID {
			t.Fatalf("status for %s", st.RequestID)
		}
		if len(seq) == 0 || seq[len(seq)-1] != st.Status {
			seq = append(seq, st.Status)
		}
		if st.Terminal() {
			last = st
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not terminal: %v", seq)
		}
	}
	if strings.Join(seq, ",") != "queued,in_progress,completed" {
		t.Fatalf("statuses %v", seq)
	}
	if len(last.Outputs) != 2 {
		t.Fatalf("outputs %+v", last.Outputs)
	}
	for _, o := range last.Outputs {
		if !strings.HasPrefix(o.URL, srv.AssetURL+"/") {
			t.Fatalf("output %+v not on the asset host", o)
		}
	}
	for _, h := range srv.Hits() {
		if h.Endpoint == hftest.StatusEP && (h.Authorization != "Key "+testID+":"+testSecret || h.UserAgent != testUA || h.Method != http.MethodGet) {
			t.Fatalf("status hit %+v", h)
		}
	}
}

func TestStatusErrors(t *testing.T) {
	const unknown = "00000000-0000-4000-8000-000000000000"
	srv := newServer(t)
	c := newClient(t, srv)
	ctx := ctxT(t)
	a, err := c.Submit(ctx, SubmitRequest{Model: testModel, Params: map[string]any{"prompt": "a"}})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("unknown id is a 404", func(t *testing.T) {
		_, err := c.Status(ctx, unknown, "")
		var ae *APIError
		if !errors.As(err, &ae) || ae.StatusCode != 404 || StatusCodeOf(err) != 404 {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("answer for another id", func(t *testing.T) {
		_, err := c.Status(ctx, unknown, a.StatusURL)
		if err == nil || !strings.Contains(err.Error(), a.RequestID) {
			t.Fatalf("err = %v, want a mismatch naming %s", err, a.RequestID)
		}
	})
	t.Run("500 is not retried", func(t *testing.T) {
		before := srv.Count(hftest.StatusEP)
		srv.Inject(hftest.Fault{Endpoint: hftest.StatusEP, Status: 500})
		_, err := c.Status(ctx, a.RequestID, "")
		if StatusCodeOf(err) != 500 || srv.Count(hftest.StatusEP)-before != 1 {
			t.Fatalf("err = %v after %d hits", err, srv.Count(hftest.StatusEP)-before)
		}
	})
	t.Run("answer that is not a status", func(t *testing.T) {
		srv.Inject(hftest.Fault{Endpoint: hftest.StatusEP, Status: 200, Body: `{"hello":"world"}`})
		if _, err := c.Status(ctx, a.RequestID, ""); err == nil {
			t.Fatal("want an error")
		}
	})
}

func TestStatusURLHintNeverLeaksCredentials(t *testing.T) {
	srv := newServer(t)
	c := newClient(t, srv)
	ctx := ctxT(t)
	sub, err := c.Submit(ctx, SubmitRequest{Model: testModel, Params: map[string]any{"prompt": "x"}})
	if err != nil {
		t.Fatal(err)
	}
	id := sub.RequestID
	hints := []string{
		srv.AssetURL + "/requests/" + id + "/status", // another origin: the asset host
		"https://evil.example.com/requests/" + id + "/status",
		"http://higgsfield.ai/requests/" + id + "/status",
		"https://evil-higgsfield.ai/requests/" + id + "/status",
		"::not a url",
	}
	for _, hint := range hints {
		t.Run(hint, func(t *testing.T) {
			before := len(srv.Hits())
			st, err := c.Status(ctx, id, hint)
			if err != nil {
				t.Fatal(err)
			}
			if st.RequestID != id {
				t.Fatalf("status %+v", st)
			}
			hits := srv.Hits()[before:]
			if len(hits) != 1 || hits[0].Endpoint != hftest.StatusEP || hits[0].Path != "/requests/"+id+"/status" {
				t.Fatalf("hits %+v: want one status hit on the base", hits)
			}
		})
	}
	t.Run("cancel hint on the asset host", func(t *testing.T) {
		err := c.Cancel(ctx, id, srv.AssetURL+"/requests/"+id+"/cancel")
		if err != nil && StatusCodeOf(err) != 400 {
			t.Fatal(err)
		}
		if srv.Count(hftest.Cancel) != 1 {
			t.Fatalf("cancel went elsewhere: %+v", srv.Hits())
		}
	})
	for _, h := range srv.Hits() {
		if h.Endpoint == hftest.AssetEP {
			t.Fatalf("the asset host was asked for a status: %+v", h)
		}
	}
}

// A redirect from the API to another origin is followed without the
// credentials; a redirect within the API's origin keeps them.
func TestRedirectsCarryCredentialsOnlyToTheAPI(t *testing.T) {
	srv := newServer(t)
	c := newClient(t, srv)
	ctx := ctxT(t)
	sub, err := c.Submit(ctx, SubmitRequest{Model: testModel, Params: map[string]any{"prompt": "x"}})
	if err != nil {
		t.Fatal(err)
	}
	id := sub.RequestID
	deadline := time.Now().Add(5 * time.Second)
	var asset string
	for asset == "" && time.Now().Before(deadline) {
		if j, _ := srv.Job(id); len(j.Assets) > 0 {
			asset = j.Assets[0].URL
		}
		time.Sleep(5 * time.Millisecond)
	}
	srv.Inject(hftest.Fault{Endpoint: hftest.StatusEP, Status: http.StatusTemporaryRedirect, Location: asset})
	_, _ = c.Status(ctx, id, "") // the PNG is no status: an error is expected, a leak is not
	var assetHits int
	for _, h := range srv.Hits() {
		if h.Endpoint == hftest.AssetEP {
			assetHits++
			if h.Authorization != "" {
				t.Fatalf("credentials followed the redirect to the asset host: %+v", h)
			}
		}
	}
	if assetHits != 1 {
		t.Fatalf("%d asset hits, want the redirect followed once", assetHits)
	}

	srv.Inject(hftest.Fault{Endpoint: hftest.StatusEP, Status: http.StatusTemporaryRedirect, Location: srv.URL + "/requests/" + id + "/status"})
	if _, err := c.Status(ctx, id, ""); err != nil {
		t.Fatalf("a redirect within the API lost the credentials: %v", err)
	}
}

func TestTrusted(t *testing.T) {
	tests := []struct {
		base, target string
		want         bool
	}{
		{DefaultBaseURL, "https://api.higgsfield.ai/requests/x/status", true},
		{DefaultBaseURL, "https://platform.higgsfield.ai/requests/x/status", true},
		{DefaultBaseURL, "https://higgsfield.ai/x", true},
		{DefaultBaseURL, "https://a.b.higgsfield.ai/x", true},
		{DefaultBaseURL, "http://higgsfield.ai/x", false},
		{DefaultBaseURL, "http://api.higgsfield.ai/x", false},
		{DefaultBaseURL, "https://evil-higgsfield.ai/x", false},
		{DefaultBaseURL, "https://higgsfield.ai.evil.com/x", false},
		{DefaultBaseURL, "https://evilhiggsfield.ai/x", false},
		{DefaultBaseURL, "https://cdn.example.com/a.png", false},
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080/requests/x/status", true},
		{"http://127.0.0.1:8080", "http://127.0.0.1:8081/requests/x/status", false},
		{"http://127.0.0.1:8080", "https://127.0.0.1:8080/requests/x/status", false},
		{"http://127.0.0.1:8080", "http://localhost:8080/x", false},
		{"https://staging.example.com", "https://staging.example.com/x", true},
		{"https://staging.example.com", "https://api.higgsfield.ai/x", true},
	}
	for _, tt := range tests {
		t.Run(tt.base+" "+tt.target, func(t *testing.T) {
			c, err := New(Options{BaseURL: tt.base})
			if err != nil {
				t.Fatal(err)
			}
			u, err := url.Parse(tt.target)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Trusted(u); got != tt.want {
				t.Fatalf("Trusted = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestDebugLog(t *testing.T) {
	srv := newServer(t, hftest.WithTiming(time.Hour, time.Hour))
	var buf bytes.Buffer
	c := newClient(t, srv, func(o *Options) { o.Debug = &buf })
	ctx := ctxT(t)
	const hookSecret = "9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d"
	srv.Inject(hftest.Fault{Endpoint: hftest.Submit, Status: 502})
	sub, err := c.Submit(ctx, SubmitRequest{Model: testModel, Params: map[string]any{"prompt": "x"}, Webhook: "https://hook.example.com/wh/" + hookSecret})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Status(ctx, sub.RequestID, sub.StatusURL); err != nil {
		t.Fatal(err)
	}
	if err := c.Cancel(ctx, sub.RequestID, sub.CancelURL); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Upload(ctx, "image/png", bytes.NewReader([]byte("png")), 3); err != nil {
		t.Fatal(err)
	}
	log := buf.String()
	lines := strings.Split(strings.TrimSuffix(log, "\n"), "\n")
	if n := len(srv.Hits()); len(lines) != n {
		t.Fatalf("%d debug lines for %d exchanges:\n%s", len(lines), n, log)
	}
	for _, bad := range []string{testSecret, hookSecret, "hook.example.com"} {
		if strings.Contains(log, bad) {
			t.Fatalf("debug log shows %q:\n%s", bad, log)
		}
	}
	for _, want := range []string{"hf_webhook=REDACTED", "→ 502", "→ 200", "→ 202", "Authorization: Key <redacted>", "no credentials"} {
		if !strings.Contains(log, want) {
			t.Fatalf("debug log lacks %q:\n%s", want, log)
		}
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "hf: debug: ") {
			t.Fatalf("line %q", l)
		}
		if strings.Contains(l, "PUT ") != strings.Contains(l, "no credentials") {
			t.Fatalf("only the upload PUT goes without credentials: %q", l)
		}
	}
}

func TestDebugLogNetworkError(t *testing.T) {
	srv := newServer(t)
	var buf bytes.Buffer
	c := newClient(t, srv, func(o *Options) { o.Debug = &buf; o.MaxAttempts = 1 })
	srv.Inject(hftest.Fault{Endpoint: hftest.Submit, Drop: true})
	if _, err := c.Submit(ctxT(t), SubmitRequest{Model: testModel, Params: map[string]any{"prompt": "x"}}); err == nil {
		t.Fatal("want an error")
	}
	if log := buf.String(); strings.Count(log, "\n") != 1 || !strings.Contains(log, "→ error after") || strings.Contains(log, testSecret) {
		t.Fatalf("debug log:\n%s", log)
	}
}

func TestCancel(t *testing.T) {
	tests := []struct {
		name            string
		queued, running time.Duration
		id              string
		code            int
		detail          string
	}{
		{name: "queued is canceled", queued: time.Hour, running: time.Hour},
		{name: "started cannot be", queued: 0, running: time.Hour, code: 400, detail: "already started"},
		{name: "unknown id", id: "00000000-0000-4000-8000-000000000000", code: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, hftest.WithTiming(tt.queued, tt.running))
			c := newClient(t, srv)
			ctx := ctxT(t)
			sub, err := c.Submit(ctx, SubmitRequest{Model: testModel, Params: map[string]any{"prompt": "x"}})
			if err != nil {
				t.Fatal(err)
			}
			id := sub.RequestID
			if tt.id != "" {
				id = tt.id
			}
			err = c.Cancel(ctx, id, "")
			if tt.code == 0 {
				if err != nil {
					t.Fatal(err)
				}
				j, _ := srv.Job(id)
				if !j.Canceled || j.Status != StatusCanceled {
					t.Fatalf("job %+v", j)
				}
			} else {
				var ae *APIError
				if !errors.As(err, &ae) || ae.StatusCode != tt.code || !strings.Contains(ae.Detail, tt.detail) {
					t.Fatalf("err = %v, want %d %q", err, tt.code, tt.detail)
				}
			}
			hits := srv.Hits()
			var cancels []hftest.Hit
			for _, h := range hits {
				if h.Endpoint == hftest.Cancel {
					cancels = append(cancels, h)
				}
			}
			want := tt.code
			if want == 0 {
				want = http.StatusAccepted
			}
			if len(cancels) != 1 || cancels[0].Status != want || cancels[0].Method != http.MethodPost ||
				cancels[0].Path != "/requests/"+id+"/cancel" || cancels[0].Authorization == "" {
				t.Fatalf("cancel hits %+v", cancels)
			}
		})
	}
}

func TestCancelRetries5xx(t *testing.T) {
	srv := newServer(t, hftest.WithTiming(time.Hour, time.Hour))
	c := newClient(t, srv)
	ctx := ctxT(t)
	sub, err := c.Submit(ctx, SubmitRequest{Model: testModel, Params: map[string]any{"prompt": "x"}})
	if err != nil {
		t.Fatal(err)
	}
	srv.Inject(hftest.Fault{Endpoint: hftest.Cancel, Status: 503})
	if err := c.Cancel(ctx, sub.RequestID, sub.CancelURL); err != nil {
		t.Fatal(err)
	}
	if srv.Count(hftest.Cancel) != 2 {
		t.Fatalf("%d cancel hits", srv.Count(hftest.Cancel))
	}
}

func TestEstimate(t *testing.T) {
	srv := newServer(t)
	c := newClient(t, srv)
	ctx := ctxT(t)
	est, err := c.Estimate(ctx, testModel, map[string]any{"prompt": "x"})
	if err != nil {
		t.Fatal(err)
	}
	if est.Credits != "1.500" || est.USD != "0.094" {
		t.Fatalf("estimate %+v", est)
	}
	hits := srv.Hits()
	if len(hits) != 1 || hits[0].Endpoint != hftest.Estimate || hits[0].Path != "/estimate/"+testModel || hits[0].Authorization == "" {
		t.Fatalf("hits %+v", hits)
	}
	if srv.Charged() != 0 {
		t.Fatal("an estimate was charged")
	}

	t.Run("numbers are kept as text", func(t *testing.T) {
		srv.Inject(hftest.Fault{Endpoint: hftest.Estimate, Status: 200, Body: `{"credits":2.25,"usd":0.14}`})
		est, err := c.Estimate(ctx, testModel, map[string]any{"prompt": "x"})
		if err != nil || est.Credits != "2.25" || est.USD != "0.14" {
			t.Fatalf("%+v %v", est, err)
		}
	})
	t.Run("retried on 500", func(t *testing.T) {
		before := srv.Count(hftest.Estimate)
		srv.Inject(hftest.Fault{Endpoint: hftest.Estimate, Status: 500})
		if _, err := c.Estimate(ctx, testModel, map[string]any{"prompt": "x"}); err != nil {
			t.Fatal(err)
		}
		if srv.Count(hftest.Estimate)-before != 2 {
			t.Fatal("not retried")
		}
	})
	t.Run("nil params", func(t *testing.T) {
		if _, err := c.Estimate(ctx, testModel, nil); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("invalid model", func(t *testing.T) {
		before := len(srv.Hits())
		if _, err := c.Estimate(ctx, "../x", nil); err == nil || len(srv.Hits()) != before {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestValidModel(t *testing.T) {
	tests := []struct {
		model string
		ok    bool
	}{
		{"higgsfield-ai/soul/standard", true},
		{"kling-video/v2.1/pro/image-to-video", true},
		{"bytedance/seedance/v1/pro/text-to-video", true},
		{"flux_pro", true},
		{"a", true},
		{"", false},
		{"/higgsfield-ai/soul", false},
		{"higgsfield-ai/soul/", false},
		{"higgsfield-ai//soul", false},
		{"../estimate/x", false},
		{"a/../b", false},
		{"a..b", false},
		{"a/.hidden", false},
		{"-flag", false},
		{"a b", false},
		{"a?b=c", false},
		{"a#frag", false},
		{"a%2fb", false},
		{"https://evil.example.com/x", false},
		{"a\\b", false},
		{"soul\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.model, func(t *testing.T) {
			err := ValidModel(tt.model)
			if (err == nil) != tt.ok {
				t.Fatalf("ValidModel(%q) = %v, want ok=%v", tt.model, err, tt.ok)
			}
		})
	}
}

func TestValidID(t *testing.T) {
	tests := []struct {
		id string
		ok bool
	}{
		{"d7e6c0f3-6699-4f6c-bb45-2ad7fd9158ff", true},
		{"D7E6C0F3-6699-4F6C-BB45-2AD7FD9158FF", true},
		{"abc123", true},
		{strings.Repeat("a", 128), true},
		{strings.Repeat("a", 129), false},
		{"", false},
		{"-abc", false},
		{"../etc/passwd", false},
		{"a/b", false},
		{"a b", false},
		{"a?b", false},
		{"a.b", false},
		{"abc\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			err := ValidID(tt.id)
			if (err == nil) != tt.ok {
				t.Fatalf("ValidID(%q) = %v, want ok=%v", tt.id, err, tt.ok)
			}
		})
	}
}

func TestParseCredentials(t *testing.T) {
	tests := []struct {
		in         string
		id, secret string
		wantErr    bool
	}{
		{in: "id:secret", id: "id", secret: "secret"},
		{in: "  id:secret\n", id: "id", secret: "secret"},
		{in: "id:sec:ret", id: "id", secret: "sec:ret"},
		{in: "id", wantErr: true},
		{in: "sekrit-without-colon", wantErr: true},
		{in: ":secret", wantErr: true},
		{in: "id:", wantErr: true},
		{in: ":", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			cr, err := ParseCredentials(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("got %+v, want an error", cr)
				}
				if strings.Contains(err.Error(), "sekrit") {
					t.Fatalf("error repeats the input (it may be a secret): %v", err)
				}
				return
			}
			if err != nil || cr.ID != tt.id || cr.Secret != tt.secret {
				t.Fatalf("got %+v %v", cr, err)
			}
		})
	}
}

func TestRetryable(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"canceled", context.Canceled, false},
		{"deadline", context.DeadlineExceeded, false},
		{"wrapped canceled", fmt.Errorf("post: %w", context.Canceled), false},
		{"permanent", backoff.Permanent(errors.New("bad answer")), false},
		{"500", &APIError{StatusCode: 500}, true},
		{"502", &APIError{StatusCode: 502}, true},
		{"503 wrapped", fmt.Errorf("submit: %w", &APIError{StatusCode: 503}), true},
		{"429", &APIError{StatusCode: 429}, true},
		{"400 concurrent", &APIError{StatusCode: 400, Detail: "Maximum number of CONCURRENT requests"}, true},
		{"400", &APIError{StatusCode: 400, Detail: "bad prompt"}, false},
		{"401", &APIError{StatusCode: 401}, false},
		{"402", &APIError{StatusCode: 402}, false},
		{"403", &APIError{StatusCode: 403}, false},
		{"404", &APIError{StatusCode: 404}, false},
		{"422", &APIError{StatusCode: 422}, false},
		{"EOF", io.ErrUnexpectedEOF, true},
		{"connection refused", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}, true},
		{"url error", &url.Error{Op: "Post", URL: "http://x", Err: io.EOF}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Retryable(tt.err); got != tt.want {
				t.Fatalf("Retryable(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"1", time.Second},
		{" 30 ", 30 * time.Second},
		{"0", 0},
		{"-5", 0},
		{"soon", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := parseRetryAfter(tt.in, now); got != tt.want {
				t.Fatalf("parseRetryAfter(%q) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
}

func TestRetryAfterIsCapped(t *testing.T) {
	srv := newServer(t)
	srv.Inject(hftest.Fault{Endpoint: hftest.Submit, Status: 503, RetryAfter: "86400"})
	var delay time.Duration
	c := newClient(t, srv)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c.onRetry = func(ri RetryInfo) { delay = ri.Delay; cancel() }
	_, _ = c.Submit(ctx, SubmitRequest{Model: testModel, Params: map[string]any{"prompt": "x"}})
	if delay != maxRetryAfter {
		t.Fatalf("delay %s, want the cap %s", delay, maxRetryAfter)
	}
}

// The submit attempt in flight when ctx ends runs to its answer (the
// request id), bounded by the per-attempt timeout; no retry follows it.
func TestSubmitAttemptInFlightOutlivesCancel(t *testing.T) {
	tests := []struct {
		name    string
		fault   hftest.Fault
		wantErr bool
	}{
		{"slow success is kept", hftest.Fault{Endpoint: hftest.Submit, Delay: 200 * time.Millisecond}, false},
		{"no answer within the attempt timeout", hftest.Fault{Endpoint: hftest.Submit, Delay: 10 * time.Second}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t)
			srv.Inject(tt.fault)
			c := newClient(t, srv, func(o *Options) { o.SubmitTimeout = 400 * time.Millisecond })
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var sending atomic.Int32
			go func() {
				for srv.Count(hftest.Submit) == 0 {
					time.Sleep(time.Millisecond)
				}
				cancel()
			}()
			start := time.Now()
			st, err := c.Submit(ctx, SubmitRequest{Model: testModel, Params: map[string]any{"prompt": "x"},
				Sending: func(on bool) {
					if on {
						sending.Add(1)
					}
				}})
			if took := time.Since(start); took > 2*time.Second {
				t.Fatalf("Submit took %s", took)
			}
			if n := srv.Count(hftest.Submit); n != 1 || sending.Load() != 1 {
				t.Fatalf("%d submits (%d told), want 1", n, sending.Load())
			}
			if tt.wantErr {
				if err == nil || !MaybeCreated(err) || !errors.Is(err, context.Canceled) {
					t.Fatalf("err = %v, want a canceled, maybe-created submit", err)
				}
				return
			}
			if err != nil || st.RequestID == "" {
				t.Fatalf("Submit = %+v, %v; want the answer that came after the cancel", st, err)
			}
		})
	}
}

// A submit asked for with a context already done sends nothing.
func TestSubmitCanceledSendsNothing(t *testing.T) {
	srv := newServer(t)
	c := newClient(t, srv)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Submit(ctx, SubmitRequest{Model: testModel, Params: map[string]any{"prompt": "x"}}); !errors.Is(err, context.Canceled) || MaybeCreated(err) {
		t.Fatalf("err = %v", err)
	}
	if srv.Count(hftest.Submit) != 0 {
		t.Fatal("a canceled submit was sent")
	}
}
