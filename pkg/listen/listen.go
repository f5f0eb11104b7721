// Package listen owns hf listen, a transparent relay of Higgsfield webhook
// deliveries to an app's handlers: each delivery reaching the endpoint's
// secret path is received, verified (when a secret is set), forwarded to every
// target as a POST with the body byte for byte and the Content-Type,
// webhook-id, webhook-timestamp and webhook-signature headers unchanged, and
// answered the way the targets answered, so that Higgsfield's retries keep
// reaching the app. It also saves, replays and composes deliveries (hf
// webhook send/replay). It never prints: it reports through events.
package listen

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hf-cli/hf/pkg/higgsfield"
	"github.com/hf-cli/hf/pkg/signature"
	"github.com/hf-cli/hf/pkg/webhook"
)

// DefaultTimeout is how long a target may take to answer a forwarded
// delivery; Higgsfield expects an answer within 10 s.
const DefaultTimeout = 10 * time.Second

// Options configure a Relay.
type Options struct {
	// Secret is the account's "whsec_<base64>" signing secret. With it, a
	// delivery whose signature or timestamp is bad is answered 401 and not
	// forwarded; without it every delivery is forwarded, unverified.
	Secret string
	// Targets are the --forward-to URLs; none makes an inspector that
	// acknowledges every delivery with 200.
	Targets []string
	// Timeout bounds each forward (default DefaultTimeout).
	Timeout time.Duration
	// Tolerance bounds the signature timestamp's distance from now (default 5 m).
	Tolerance time.Duration
	// MaxBody bounds a delivery's body (default 1 MiB).
	MaxBody int64
	// SaveDir, when set, receives every delivery as <webhook-id>.http, the
	// rejected ones under SaveDir/rejected; New creates it.
	SaveDir string
	// SaveLimit bounds the bytes saved to SaveDir by this relay (default
	// DefaultSaveLimit).
	SaveLimit int64
	// Client sends the forwards (default: a client of its own that does not
	// follow redirects).
	Client *http.Client
	// UserAgent of the forwards (default "hf-listen").
	UserAgent string
	// Emit receives the events; calls are serialized.
	Emit func(Event)
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Relay is the handler behind the endpoint's secret path.
type Relay struct {
	o       Options
	key     []byte // the decoded secret; nil without one
	targets []*url.URL
	raw     *webhook.RawReceiver
	saver   *saver
	client  *http.Client
	ownTr   *http.Transport
	emitMu  sync.Mutex
	count   atomic.Int64
	// answered gets a token after each answer (never blocking), for Run.
	answered chan struct{}
}

// New checks the options and returns a relay on a fresh secret path.
func New(o Options) (*Relay, error) {
	r := &Relay{o: o, answered: make(chan struct{}, 1)}
	if o.Secret != "" {
		key, err := decodeSecret(o.Secret)
		if err != nil {
			return nil, err
		}
		r.key = key
	}
	for _, t := range o.Targets {
		u, err := ParseTarget(t)
		if err != nil {
			return nil, fmt.Errorf("--forward-to %w", err)
		}
		r.targets = append(r.targets, u)
	}
	if o.SaveDir != "" {
		if err := PrepareSaveDir(o.SaveDir); err != nil {
			return nil, fmt.Errorf("--save: %w", err)
		}
		r.saver = &saver{dir: o.SaveDir, limit: cmp.Or(o.SaveLimit, DefaultSaveLimit)}
	}
	r.o.Timeout = cmp.Or(o.Timeout, DefaultTimeout)
	r.o.UserAgent = cmp.Or(o.UserAgent, "hf-listen")
	if r.o.Now == nil {
		r.o.Now = time.Now
	}
	r.client = o.Client
	if r.client == nil {
		r.ownTr = http.DefaultTransport.(*http.Transport).Clone()
		r.client = &http.Client{
			Transport:     r.ownTr,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	r.raw = webhook.NewRawReceiver(webhook.RawOptions{MaxBody: o.MaxBody, Now: r.o.Now, OnRefused: r.refused}, r.handle)
	return r, nil
}

// ParseTarget accepts a --forward-to URL: absolute http or https, or, as
// stripe listen --forward-to takes it, host:port/path without a scheme
// (http is meant: localhost:3000/webhooks).
func ParseTarget(raw string) (*url.URL, error) {
	s := raw
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%q: want an http:// or https:// URL, or host:port/path, e.g. localhost:3000/webhooks", raw)
	}
	if u.Hostname() == "" {
		u.Host = "localhost" + u.Host // :3000/webhooks
	}
	return u, nil
}

// Handler is what the endpoint serves: the secret path, with the webhook
// receiver's checks in front of the relay.
func (r *Relay) Handler() webhook.PathHandler { return r.raw }

// Path is the secret path.
func (r *Relay) Path() string { return r.raw.Path() }

// WriteTimeout is the server write timeout the relay needs: its forward
// timeout and some margin to answer.
func (r *Relay) WriteTimeout() time.Duration { return r.o.Timeout + 5*time.Second }

// Answered returns how many deliveries were answered so far.
func (r *Relay) Answered() int64 { return r.count.Load() }

// Close releases the relay's idle connections to the targets.
func (r *Relay) Close() {
	if r.ownTr != nil {
		r.ownTr.CloseIdleConnections()
	}
}

func (r *Relay) emit(e Event) {
	if r.o.Emit == nil {
		return
	}
	if e.Time.IsZero() {
		e.Time = r.o.Now()
	}
	r.emitMu.Lock()
	defer r.emitMu.Unlock()
	r.o.Emit(e)
}

// refused reports a POST to the secret path that never became a delivery
// (wrong Content-Type, body too big or cut off): the sender meant one, and
// the user would otherwise see nothing.
func (r *Relay) refused(code int, reason string) {
	r.emit(Event{Kind: Warning, Message: fmt.Sprintf("refused a POST to the webhook path (%d %s): %s; not forwarded", code, http.StatusText(code), reason)})
}

// handle runs receive → verify → forward → answer for one delivery.
// ctx is the request's: a forward still running when the sender hangs up or
// hf stops (the server's grace over) is abandoned.
func (r *Relay) handle(ctx context.Context, w http.ResponseWriter, raw *webhook.RawDelivery) {
	d := describe(raw)
	if r.key != nil {
		if err := signature.VerifyKey(r.key, raw.Header, raw.Body, raw.ReceivedAt, r.o.Tolerance); err != nil {
			d.Rejected = strings.TrimPrefix(err.Error(), signature.ErrUnverified.Error()+": ")
		} else {
			d.Verified = true
		}
	}
	if d.Rejected == "" && !json.Valid(raw.Body) {
		d.Rejected = "the body is not JSON"
	}
	if r.saver != nil {
		path, err := r.saver.save(raw, d.Rejected != "", func(msg string) { r.emit(Event{Kind: Warning, Message: msg}) })
		if err != nil {
			r.emit(Event{Kind: Warning, Message: "could not save the delivery: " + err.Error()})
		}
		d.Saved = path
	}
	r.emit(Event{Kind: Received, Delivery: d.clone()})

	switch {
	case d.Rejected != "" && !d.Verified && r.key != nil:
		d.Answer = http.StatusUnauthorized
	case d.Rejected != "":
		d.Answer = http.StatusBadRequest
	case len(r.targets) == 0:
		d.Answer = http.StatusOK
	default:
		d.Forwards = r.forwardAll(ctx, raw, d)
		d.Answer = answer(d.Forwards)
	}
	if ctx.Err() == nil {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(d.Answer)
		_, _ = io.WriteString(w, http.StatusText(d.Answer)+"\n")
	} else {
		d.Answer = 0 // the connection is gone: the sender got no answer, and retries
	}
	r.emit(Event{Kind: Answered, Delivery: d.clone()})
	r.count.Add(1)
	select {
	case r.answered <- struct{}{}:
	default:
	}
}

// answer mirrors the targets: the first one's 2xx code when every target
// said 2xx, else 502 so that the sender retries.
func answer(fs []Forward) int {
	for _, f := range fs {
		if !f.OK() {
			return http.StatusBadGateway
		}
	}
	return fs[0].Code
}

// forwardAll sends the delivery to every target at once and returns their
// answers in target order.
func (r *Relay) forwardAll(ctx context.Context, raw *webhook.RawDelivery, d *Delivery) []Forward {
	out := make([]Forward, len(r.targets))
	var wg sync.WaitGroup
	for i, t := range r.targets {
		wg.Go(func() {
			out[i] = Deliver(ctx, r.client, t.String(), raw, r.o.Timeout, r.o.UserAgent)
			f := out[i]
			r.emit(Event{Kind: Forwarded, Delivery: d.clone(), Forward: &f})
		})
	}
	wg.Wait()
	return out
}

// Deliver POSTs one delivery to target with its body and signed headers
// unchanged and waits at most timeout for the answer (status line and a
// bounded read of its body).
func Deliver(ctx context.Context, c *http.Client, target string, raw *webhook.RawDelivery, timeout time.Duration, userAgent string) Forward {
	f := Forward{URL: target}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(raw.Body))
	if err != nil {
		f.Error = err.Error()
		return f
	}
	for _, k := range webhook.SignedHeaders {
		if vs := raw.Header.Values(k); len(vs) > 0 {
			req.Header[http.CanonicalHeaderKey(k)] = append([]string(nil), vs...)
		}
	}
	req.Header.Set("User-Agent", userAgent)
	start := time.Now()
	resp, err := c.Do(req)
	if err == nil {
		_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		_ = resp.Body.Close()
		f.Code = resp.StatusCode
		if loc := resp.Header.Get("Location"); loc != "" && resp.StatusCode >= 300 && resp.StatusCode < 400 {
			if u, perr := req.URL.Parse(loc); perr == nil {
				f.Location = u.String()
			}
		}
		if err != nil && !f.OK() {
			err = nil // the code is what counts; a cut-off error page is no news
		}
	}
	f.Latency = time.Since(start)
	if err != nil {
		// A 2xx whose body never ended is no answer for a sender either: it
		// would time out or see the connection break, and retry.
		f.Error = describeErr(err, timeout)
		if f.Code != 0 {
			f.Error = fmt.Sprintf("answered %d but its body did not end: %s", f.Code, f.Error)
		}
		f.Code = 0
	}
	return f
}

// describeErr says in a few words why a target gave no answer.
func describeErr(err error, timeout time.Duration) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		return fmt.Sprintf("no answer within %s", timeout)
	case errors.Is(err, context.Canceled):
		return "abandoned: the sender hung up or hf is stopping"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused (is the app running?)"
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return err.Error()
}

// describe reads what a delivery says about itself, trusting nothing.
func describe(raw *webhook.RawDelivery) *Delivery {
	d := &Delivery{
		Time:      raw.ReceivedAt,
		WebhookID: raw.Header.Get("webhook-id"),
		Signed:    raw.Header.Get("webhook-signature") != "",
		Forwards:  []Forward{},
	}
	if st, err := higgsfield.ParseStatus(raw.Body); err == nil {
		d.RequestID, d.Status = st.RequestID, st.Status
		for _, o := range st.Outputs {
			if d.Outputs == nil {
				d.Outputs = map[string]int{}
			}
			d.Outputs[outputKind(o.Field)]++
		}
	}
	return d
}

func outputKind(field string) string {
	name, _, _ := strings.Cut(field, "[")
	switch name {
	case "images", "image":
		return "image"
	case "video", "videos":
		return "video"
	case "audio", "audios":
		return "audio"
	}
	return "file"
}

func (d *Delivery) clone() *Delivery {
	c := *d
	c.Forwards = append([]Forward{}, d.Forwards...)
	if d.Outputs != nil {
		c.Outputs = make(map[string]int, len(d.Outputs))
		for k, v := range d.Outputs {
			c.Outputs[k] = v
		}
	}
	return &c
}
