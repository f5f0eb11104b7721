package higgsfield

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/google/uuid"

	"github.com/hf-cli/hf/pkg/redact"
)

// DefaultBaseURL is the API's current host.
const DefaultBaseURL = "https://api.higgsfield.ai"

// Credentials are an API key id and its secret.
type Credentials struct{ ID, Secret string }

// ParseCredentials splits "id:secret".
func ParseCredentials(s string) (Credentials, error) {
	id, secret, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok || id == "" || secret == "" {
		return Credentials{}, errors.New(`credentials must look like "KEY_ID:KEY_SECRET"`)
	}
	return Credentials{ID: id, Secret: secret}, nil
}

// Options configure a Client.
type Options struct {
	BaseURL     string
	Credentials Credentials
	// Transport is the underlying round tripper (nil: http.DefaultTransport).
	Transport http.RoundTripper
	UserAgent string
	// Debug, when set, receives one line per HTTP exchange, credentials redacted.
	Debug io.Writer
	// MaxAttempts bounds the tries of a retryable call (default 5).
	MaxAttempts int
	// InitialBackoff is the first retry delay (default 500ms, doubling to 10s, jittered).
	InitialBackoff time.Duration
	// OnRetry is told about every retry before its delay.
	OnRetry func(RetryInfo)
	// StatusTimeout bounds one status GET, answer included (default 30s).
	StatusTimeout time.Duration
	// SubmitTimeout bounds one submit attempt (default 60s); retries get
	// their own.
	SubmitTimeout time.Duration
	// CancelTimeout bounds one cancel attempt (default 30s).
	CancelTimeout time.Duration
	// RequestTimeout bounds one attempt of any other API call (estimate,
	// upload URL; default 60s).
	RequestTimeout time.Duration
	// Secrets are more values to hide from every message that carries
	// server text (the webhook secret, say). The API key and secret are
	// always hidden, and so is anything shaped like a webhook secret or the
	// receiver's secret path.
	Secrets []string
}

// Default per-attempt timeouts.
const (
	DefaultStatusTimeout  = 30 * time.Second
	DefaultSubmitTimeout  = 60 * time.Second
	DefaultCancelTimeout  = 30 * time.Second
	DefaultRequestTimeout = 60 * time.Second
)

// RetryInfo describes one retry of an API call.
type RetryInfo struct {
	Op      string // "submit", "cancel", ...
	Attempt int    // the attempt that failed, from 1
	Err     error
	Delay   time.Duration
}

// Client talks to the Higgsfield API. Its credentials are attached only to
// requests for the API's own origin (or https *.higgsfield.ai), never to
// asset, upload or redirect targets elsewhere.
type Client struct {
	base        *url.URL
	http        *http.Client
	maxAttempts int
	initial     time.Duration
	onRetry     func(RetryInfo)
	timeouts    map[string]time.Duration // by op
	secrets     *redact.Secrets
	warnings    []string
}

// New returns a Client. It fails on a malformed base URL.
func New(o Options) (*Client, error) {
	raw := o.BaseURL
	if raw == "" {
		raw = DefaultBaseURL
	}
	base, err := url.Parse(strings.TrimRight(raw, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("invalid base URL %q: want http(s)://host", redact.URL(raw))
	}
	if base.User != nil {
		return nil, fmt.Errorf("invalid base URL %q: credentials go in --api-key/--api-secret, not in the URL", redact.URL(raw))
	}
	rt := o.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	c := &Client{
		base:        base,
		maxAttempts: o.MaxAttempts,
		initial:     o.InitialBackoff,
		onRetry:     o.OnRetry,
		timeouts: map[string]time.Duration{
			"status": cmpOr(o.StatusTimeout, DefaultStatusTimeout),
			"submit": cmpOr(o.SubmitTimeout, DefaultSubmitTimeout),
			"cancel": cmpOr(o.CancelTimeout, DefaultCancelTimeout),
			"":       cmpOr(o.RequestTimeout, DefaultRequestTimeout),
		},
		secrets: redact.NewSecrets(append([]string{o.Credentials.ID + ":" + o.Credentials.Secret, o.Credentials.Secret, o.Credentials.ID}, o.Secrets...)...),
	}
	if base.Scheme == "http" && !loopback(base.Hostname()) {
		c.warnings = append(c.warnings, fmt.Sprintf("the base URL %s is plain http: the API key and every answer cross the network unencrypted (use https://)", redact.Of(base)))
	}
	if c.maxAttempts <= 0 {
		c.maxAttempts = 5
	}
	if c.initial <= 0 {
		c.initial = 500 * time.Millisecond
	}
	ua := o.UserAgent
	if ua == "" {
		ua = "hf/dev"
	}
	var auth string
	if o.Credentials.ID != "" {
		auth = "Key " + o.Credentials.ID + ":" + o.Credentials.Secret
	}
	if o.Debug != nil {
		rt = &redact.Transport{Base: rt, W: o.Debug}
	}
	c.http = &http.Client{Transport: &transport{base: rt, trusted: c.Trusted, auth: auth, ua: ua}}
	return c, nil
}

func cmpOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// loopback reports whether host names this machine.
func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// SubmitTimeout is how long one submit attempt may take, answer included:
// the longest an interrupted submit holds the caller.
func (c *Client) SubmitTimeout() time.Duration { return c.timeouts["submit"] }

// BaseURL returns the API base URL in use.
func (c *Client) BaseURL() string { return c.base.String() }

// Warnings returns what the caller should tell the user once about the
// client's configuration (a plain-http base URL on another host). The
// client itself never prints.
func (c *Client) Warnings() []string { return append([]string(nil), c.warnings...) }

// Redact hides the client's secrets (API key, webhook secret, secret path)
// in text that may quote the server.
func (c *Client) Redact(text string) string { return c.secrets.Text(text) }

// Trusted reports whether credentials may be sent to u: the base URL's
// origin, or any https host under higgsfield.ai (status URLs come on both
// api. and platform.).
func (c *Client) Trusted(u *url.URL) bool {
	if u.Scheme == c.base.Scheme && u.Host == c.base.Host {
		return true
	}
	h := u.Hostname()
	return u.Scheme == "https" && (h == "higgsfield.ai" || strings.HasSuffix(h, ".higgsfield.ai"))
}

// SubmitRequest is one generation to submit.
type SubmitRequest struct {
	Model  string
	Params map[string]any
	// Webhook is sent as ?hf_webhook= when set.
	Webhook string
	// IdempotencyKey is reused on every retry; New generates one when empty.
	IdempotencyKey string
	// ExpiresAfter, when set, is sent as Hf-Expires-After (whole seconds):
	// the request's retention (the API takes 1 h to the account's retention).
	ExpiresAfter time.Duration
	// Sending, when set, is told true as each attempt goes out and false
	// when it has its answer (or failed).
	Sending func(bool)
}

// modelRe and idRe compile on first use, not at start-up (see bench/startup.sh).
var modelRe = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$`)
})

// ValidModel checks a model id such as "higgsfield-ai/soul/standard".
func ValidModel(m string) error {
	if !modelRe().MatchString(m) || strings.Contains(m, "..") {
		return fmt.Errorf("invalid model %q: want a path like higgsfield-ai/soul/standard", m)
	}
	return nil
}

var idRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]{0,127}$`) })

// ValidID checks a request id (a UUID in practice).
func ValidID(id string) error {
	if !idRe().MatchString(id) {
		return fmt.Errorf("invalid request id %q: want a UUID like d7e6c0f3-6699-4f6c-bb45-2ad7fd9158ff", id)
	}
	return nil
}

// Submit creates a generation: POST {base}/{model}. Retries (5xx, 429,
// network errors) reuse the same Idempotency-Key so a lost answer never
// charges twice; Retry-After is honoured.
//
// ctx ends the retries, their waits included: once it is done no further
// attempt is sent. The attempt in flight is not cut short by ctx (only by
// the submit's per-attempt timeout): its answer carries the request id, the
// one thing that makes a created request recoverable. An attempt that
// succeeds after ctx ended is returned as a success; the caller decides.
func (c *Client) Submit(ctx context.Context, r SubmitRequest) (*Status, error) {
	if err := ValidModel(r.Model); err != nil {
		return nil, err
	}
	params := r.Params
	if params == nil {
		params = map[string]any{}
	}
	body, err := json.Marshal(params)
	if err != nil {
		return nil, fmt.Errorf("encoding parameters: %w", err)
	}
	key := r.IdempotencyKey
	if key == "" {
		key = uuid.NewString()
	}
	u := c.base.JoinPath(r.Model)
	if r.Webhook != "" {
		u.RawQuery = url.Values{"hf_webhook": {r.Webhook}}.Encode()
	}
	if err := ctx.Err(); err != nil {
		return nil, err // nothing was sent
	}
	attemptCtx := context.WithoutCancel(ctx)
	var maybe bool // an attempt may have reached the API
	st, err := retry(ctx, c, "submit", func() (*Status, error) {
		if r.Sending != nil {
			r.Sending(true)
			defer r.Sending(false)
		}
		req, err := newRequest(attemptCtx, http.MethodPost, u.String(), body)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Idempotency-Key", key)
		if r.ExpiresAfter > 0 {
			req.Header.Set("Hf-Expires-After", strconv.FormatInt(int64(r.ExpiresAfter/time.Second), 10))
		}
		st, err := c.doStatus(req, "submit")
		if err == nil {
			err = checkSubmitted(st)
		}
		if err != nil && mayHaveArrived(err) {
			maybe = true
		}
		return st, err
	})
	if err != nil && maybe {
		return nil, &MaybeCreatedError{Err: err}
	}
	return st, err
}

var uuidRe = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
})

// checkSubmitted validates a submit answer at the boundary: its request_id
// goes into paths, the journal and the terminal, so it must be a UUID.
func checkSubmitted(st *Status) error {
	if !uuidRe().MatchString(st.RequestID) {
		return backoff.Permanent(&BadAnswerError{Field: "request_id", Value: st.RequestID, Want: "a UUID"})
	}
	return nil
}

// Status fetches a request's status once (no retries: the caller's polling
// schedule is the retry). statusURL, when trusted, is used as given.
func (c *Client) Status(ctx context.Context, id, statusURL string) (*Status, error) {
	req, err := newRequest(ctx, http.MethodGet, c.endpoint(id, "status", statusURL), nil)
	if err != nil {
		return nil, err
	}
	st, err := c.doStatus(req, "status")
	if err != nil {
		return nil, err
	}
	if st.RequestID == "" {
		st.RequestID = id
	} else if st.RequestID != id {
		return nil, fmt.Errorf("status answer is for %q, not %s", redact.OneLine(st.RequestID, 80), id)
	}
	return st, nil
}

// Cancel asks the API to cancel a queued request. A request that already
// started answers 400 (an *APIError).
func (c *Client) Cancel(ctx context.Context, id, cancelURL string) error {
	u := c.endpoint(id, "cancel", cancelURL)
	_, err := retry(ctx, c, "cancel", func() (struct{}, error) {
		req, err := newRequest(ctx, http.MethodPost, u, nil)
		if err != nil {
			return struct{}{}, err
		}
		_, err = c.do(req, "cancel")
		return struct{}{}, err
	})
	return err
}

// newRequest builds an API request that accepts JSON and, with a body,
// sends JSON.
func newRequest(ctx context.Context, method, u string, body []byte) (*http.Request, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, r)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}

// endpoint returns hint when credentials may go there, else the URL built
// from the base: a forged or foreign status_url never receives credentials.
func (c *Client) endpoint(id, verb, hint string) string {
	if hint != "" {
		if u, err := url.Parse(hint); err == nil && c.Trusted(u) {
			return hint
		}
	}
	return c.base.JoinPath("requests", id, verb).String()
}

func (c *Client) doStatus(req *http.Request, op string) (*Status, error) {
	data, err := c.do(req, op)
	if err != nil {
		return nil, err
	}
	st, err := ParseStatus(data)
	if err != nil {
		// A 2xx answer came: the API did receive the request.
		return nil, &RequestError{Method: req.Method, URL: redact.Of(req.URL), Sent: true, Err: err}
	}
	return st, nil
}

// maxAnswer bounds API answers read into memory.
const maxAnswer = 4 << 20

// do sends req with the per-attempt timeout of op and reads the answer. A
// failure without an answer is a *RequestError saying whether the request
// was written (and so may have been received); a non-2xx answer is an
// *APIError. The caller's own cancellation comes back as ctx.Err().
func (c *Client) do(req *http.Request, op string) ([]byte, error) {
	parent := req.Context()
	ctx, cancel := parent, context.CancelFunc(func() {})
	limit, bounded := c.timeouts[op]
	if op != "upload_put" {
		if !bounded {
			limit = c.timeouts[""]
		}
		ctx, cancel = context.WithTimeout(parent, limit)
	}
	defer cancel()
	var wrote atomic.Bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{WroteHeaders: func() { wrote.Store(true) }})
	req = req.WithContext(ctx)
	fail := func(err error) error {
		if perr := parent.Err(); perr != nil {
			return perr
		}
		re := &RequestError{Method: req.Method, URL: redact.Of(req.URL), Sent: wrote.Load()}
		if ctx.Err() != nil {
			// Our own per-attempt limit: retryable, unlike the caller's.
			re.Timeout = limit
			return re
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL is shown redacted by RequestError
		}
		re.Err = redactedError{err: err, msg: c.secrets.Text(err.Error())}
		return re
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fail(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return nil, fail(fmt.Errorf("reading answer: %w", err))
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, c.newAPIError(resp, data)
	}
	return data, nil
}

type redactedError struct {
	err error
	msg string
}

func (e redactedError) Error() string { return e.msg }
func (e redactedError) Unwrap() error { return e.err }

// Retryable reports whether err is worth another try: retryable API
// answers and transport failures, but not cancellation or permanent errors.
func Retryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var pe *backoff.PermanentError
	if errors.As(err, &pe) {
		return false
	}
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Retryable()
	}
	return true
}

// unreachable reports a call that never left this machine: a refused
// connection or a failed DNS lookup. The call is not retried (the user
// re-runs it, safely: nothing was sent), though a poll may try again later.
func unreachable(err error) bool {
	var re *RequestError
	return errors.As(err, &re) && !re.Sent && re.Timeout == 0
}

// maxRetryAfter caps how long one Retry-After may hold a call.
const maxRetryAfter = 2 * time.Minute

// call sends one free, idempotent API call (each attempt bounded by
// apiCallTimeout, retried as retry says) and returns the answer's body.
func (c *Client) call(ctx context.Context, op, method, u string, body []byte) ([]byte, error) {
	return retry(ctx, c, op, func() ([]byte, error) {
		actx, cancel := context.WithTimeout(ctx, apiCallTimeout)
		defer cancel()
		req, err := newRequest(actx, method, u, body)
		if err != nil {
			return nil, err
		}
		return c.do(req, "")
	})
}

func retry[T any](ctx context.Context, c *Client, op string, f func() (T, error)) (T, error) {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = c.initial
	b.Multiplier = 2
	b.MaxInterval = 10 * time.Second
	b.RandomizationFactor = 0.3
	for attempt := 1; ; attempt++ {
		v, err := f()
		if err == nil || attempt >= c.maxAttempts || !Retryable(err) || unreachable(err) {
			var pe *backoff.PermanentError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return v, err
		}
		if ctx.Err() != nil { // ended during the attempt: no retry, no retry notice
			return v, fmt.Errorf("%w (last error: %v)", ctx.Err(), err)
		}
		delay := b.NextBackOff()
		var ae *APIError
		if errors.As(err, &ae) && ae.RetryAfter > 0 {
			delay = min(ae.RetryAfter, maxRetryAfter)
		}
		if c.onRetry != nil {
			c.onRetry(RetryInfo{Op: op, Attempt: attempt, Err: err, Delay: delay})
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return v, fmt.Errorf("%w (last error: %v)", ctx.Err(), err)
		case <-t.C:
		}
	}
}

// transport stamps the User-Agent and attaches credentials to trusted
// origins only (on every hop, so redirects elsewhere never carry them). The
// --debug log sits below it (redact.Transport), so it sees what went out.
type transport struct {
	base    http.RoundTripper
	trusted func(*url.URL) bool
	auth    string
	ua      string
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Header.Set("User-Agent", t.ua)
	req.Header.Del("Authorization")
	if t.auth != "" && t.trusted(req.URL) {
		req.Header.Set("Authorization", t.auth)
	}
	return t.base.RoundTrip(req)
}
