package higgsfield

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"

	"github.com/hf-cli/hf/pkg/redact"
)

// UploadTarget is one presigned upload slot from POST
// /files/generate-upload-url: PUT the bytes to UploadURL with every
// UploadHeaders entry, then pass PublicURL to a model.
type UploadTarget struct {
	PublicURL     string            `json:"public_url"`
	UploadURL     string            `json:"upload_url"`
	ContentType   string            `json:"content_type"`
	UploadHeaders map[string]string `json:"upload_headers"`
	// Issued is when hf received the slot (its URL expires an hour later).
	Issued time.Time `json:"-"`
}

// UploadError is a failed PUT to presigned storage. It is not an *APIError:
// storage answers 403 for an expired signature, which says nothing about
// the API credentials or credits.
type UploadError struct {
	StatusCode int
	Detail     string
}

func (e *UploadError) Error() string {
	msg := e.Detail
	if msg == "" {
		msg = http.StatusText(e.StatusCode)
	}
	return fmt.Sprintf("upload storage answered %d: %s", e.StatusCode, msg)
}

// ErrUploadStalled is the cause of a PUT that moved no byte (and got no
// answer) for the stall timeout.
var ErrUploadStalled = errors.New("upload stalled: no progress")

// Timeouts of the upload calls. uploadStall bounds a PUT's silence, not its
// length, so a big file on a slow link is fine while a hung peer is not.
var (
	apiCallTimeout  = 30 * time.Second
	uploadStall     = 60 * time.Second
	uploadURLFresh  = 50 * time.Minute // the URL lives an hour; ask anew after this
	maxUploadHeader = 64               // entries of upload_headers accepted
)

// NewUploadTarget asks for a presigned upload slot for contentType. The call
// is free, so it is retried on 5xx, 429 and network errors.
func (c *Client) NewUploadTarget(ctx context.Context, contentType string) (*UploadTarget, error) {
	reqBody, err := json.Marshal(map[string]string{"content_type": contentType})
	if err != nil {
		return nil, err
	}
	u := c.base.JoinPath("files", "generate-upload-url").String()
	data, err := c.call(ctx, "upload", http.MethodPost, u, reqBody)
	if err != nil {
		return nil, err
	}
	var t UploadTarget
	if err := json.Unmarshal(data, &t); err != nil {
		return nil, fmt.Errorf("decoding upload slot: %w", err)
	}
	if err := t.check(); err != nil {
		return nil, err
	}
	t.Issued = time.Now()
	return &t, nil
}

func (t *UploadTarget) check() error {
	if t.UploadURL == "" || t.PublicURL == "" {
		return errors.New("upload answer has no upload_url/public_url")
	}
	for _, raw := range []string{t.UploadURL, t.PublicURL} {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return fmt.Errorf("upload answer has an invalid URL %q", oneLine(raw, 80))
		}
	}
	if len(t.UploadHeaders) > maxUploadHeader {
		return fmt.Errorf("upload answer has %d upload_headers", len(t.UploadHeaders))
	}
	for k, v := range t.UploadHeaders {
		if !validHeader(k, v) {
			return fmt.Errorf("upload answer has an invalid upload header %q", oneLine(k, 40))
		}
	}
	return nil
}

func validHeader(k, v string) bool {
	if k == "" || strings.ContainsAny(k, " \t\r\n:") || strings.ContainsAny(v, "\r\n\x00") {
		return false
	}
	for _, r := range k {
		if r < '!' || r > '~' {
			return false
		}
	}
	return true
}

// Put sends size bytes of r to t's presigned URL with every header of
// t.UploadHeaders and never the API credentials. It tries once; the error of
// a refused PUT is an *UploadError.
func (c *Client) Put(ctx context.Context, t *UploadTarget, r io.Reader, size int64) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	body := &stallReader{r: r, stall: time.AfterFunc(uploadStall, func() { cancel(ErrUploadStalled) })}
	defer body.stop()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, t.UploadURL, body)
	if err != nil {
		return err
	}
	req.ContentLength = size
	if size == 0 {
		req.Body = http.NoBody
	}
	for k, v := range t.UploadHeaders {
		req.Header.Set(k, v)
	}
	if req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", orString(t.ContentType, "application/octet-stream"))
	}
	resp, err := c.storage().Do(req)
	if err != nil {
		if cause := context.Cause(ctx); errors.Is(cause, ErrUploadStalled) {
			return fmt.Errorf("PUT %s: %w after %s", redactQuery(req.URL), ErrUploadStalled, uploadStall)
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			ue.URL = redactQuery(req.URL)
		}
		return err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return &UploadError{StatusCode: resp.StatusCode, Detail: storageDetail(data)}
	}
	return nil
}

// storageDetail pulls a message out of an S3/GCS XML error or a JSON body.
func storageDetail(body []byte) string {
	s := string(body)
	for _, tag := range []string{"Message", "Code"} {
		if i := strings.Index(s, "<"+tag+">"); i >= 0 {
			rest := s[i+len(tag)+2:]
			if j := strings.Index(rest, "</"+tag+">"); j >= 0 {
				return oneLine(rest[:j], 200)
			}
		}
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(body, &obj) == nil {
		for _, k := range []string{"detail", "message", "error"} {
			if raw, ok := obj[k]; ok {
				return formatDetail(raw)
			}
		}
	}
	return oneLine(s, 200)
}

// Upload sends size bytes of r to Higgsfield's storage as contentType and
// returns the public URL to pass in a model's *_url field: a free slot
// (retried), then the PUT. A failed PUT is retried (5xx, 429, network,
// stall) when r can be rewound (an io.Seeker such as *os.File), with a fresh
// slot when the old one may have expired (a 403, or older than 50 minutes).
func (c *Client) Upload(ctx context.Context, contentType string, r io.Reader, size int64) (string, error) {
	if size < 0 {
		return "", errors.New("upload: negative size")
	}
	t, err := c.NewUploadTarget(ctx, contentType)
	if err != nil {
		return "", err
	}
	seeker, canRewind := r.(io.Seeker)
	var start int64
	if canRewind {
		if start, err = seeker.Seek(0, io.SeekCurrent); err != nil {
			canRewind = false
		}
	}
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = c.initial
	b.MaxInterval = 10 * time.Second
	b.RandomizationFactor = 0.3
	for attempt := 1; ; attempt++ {
		if attempt > 1 {
			if _, err := seeker.Seek(start, io.SeekStart); err != nil {
				return "", fmt.Errorf("upload: rewinding for a retry: %w", err)
			}
		}
		err := c.Put(ctx, t, r, size)
		if err == nil {
			return t.PublicURL, nil
		}
		if !canRewind || attempt >= c.maxAttempts || !putRetryable(err) || ctx.Err() != nil {
			return "", err
		}
		delay := b.NextBackOff()
		if c.onRetry != nil {
			c.onRetry(RetryInfo{Op: "upload", Attempt: attempt, Err: err, Delay: delay})
		}
		tm := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			tm.Stop()
			return "", fmt.Errorf("%w (last error: %v)", ctx.Err(), err)
		case <-tm.C:
		}
		if mayHaveExpired(err) || time.Since(t.Issued) >= uploadURLFresh {
			if t, err = c.NewUploadTarget(ctx, contentType); err != nil {
				return "", err
			}
		}
	}
}

func putRetryable(err error) bool {
	var ue *UploadError
	if errors.As(err, &ue) {
		return ue.StatusCode >= 500 || ue.StatusCode == http.StatusTooManyRequests ||
			ue.StatusCode == http.StatusRequestTimeout || mayHaveExpired(err)
	}
	return !errors.Is(err, context.Canceled)
}

// mayHaveExpired: presigned storage answers 403 to an expired signature.
func mayHaveExpired(err error) bool {
	var ue *UploadError
	return errors.As(err, &ue) && ue.StatusCode == http.StatusForbidden
}

func orString(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// stallReader resets its stall timer on every read; the timer stays armed
// after the last byte, so a peer that never answers is bounded too. Once
// stopped it reads nothing more: the transport may still hold the body after
// Do returns, and a retry rewinds the same file.
type stallReader struct {
	r      io.Reader
	mu     sync.Mutex
	stall  *time.Timer
	closed bool
}

var errBodyClosed = errors.New("upload body already closed")

func (s *stallReader) Read(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, errBodyClosed
	}
	n, err := s.r.Read(p)
	s.stall.Reset(uploadStall)
	return n, err
}

func (s *stallReader) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stall.Stop()
	s.closed = true
}

// storage is the HTTP client for presigned URLs: the API client's transport
// underneath (with its --debug log), hf's User-Agent, and never the API
// credentials. Redirects are not followed: a presigned URL stores the bytes
// itself, and a 301/302/303 would turn the PUT into a body-less GET whose
// 200 looks like success while nothing was stored (and would carry the
// upload headers to another host).
func (c *Client) storage() *http.Client {
	st := &storageTransport{base: http.DefaultTransport}
	if t, ok := c.http.Transport.(*transport); ok {
		st.base, st.ua, st.auth = t.base, t.ua, t.auth
	}
	return &http.Client{Transport: st, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
}

type storageTransport struct {
	base http.RoundTripper
	ua   string
	auth string // the API credentials, to make sure they never leave
}

func (t *storageTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	if t.ua != "" {
		req.Header.Set("User-Agent", t.ua)
	}
	// An upload header the API asked for is sent; hf's own credentials never are.
	if t.auth != "" && req.Header.Get("Authorization") == t.auth {
		req.Header.Del("Authorization")
	}
	req.Header.Del("hf-api-key")
	req.Header.Del("hf-secret")
	return t.base.RoundTrip(req)
}

// redactQuery prints a URL for messages: a presigned URL's query is its
// signature.
func redactQuery(u *url.URL) string { return redact.Of(u) }
