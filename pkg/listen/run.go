package listen

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/hf-cli/hf/pkg/tunnel"
	"github.com/hf-cli/hf/pkg/webhook"
)

// DefaultReconnectTimeout is how long hf listen waits for a dropped tunnel
// session to come back before it gives up.
const DefaultReconnectTimeout = 5 * time.Minute

// RunOptions configure Run.
type RunOptions struct {
	// MaxDeliveries ends Run after this many answered deliveries (0: none).
	MaxDeliveries int
	// Watch follows the tunnel session (nil: the provider has none).
	Watch *Watch
	// OnReady is called once with the public webhook URL (secret path
	// included) when the endpoint answers requests. An error ends Run.
	OnReady func(url string) error
	// ProbeTimeout bounds the check that the public URL answers before
	// OnReady (default 10 s); when it does not, a Warning says so and Run
	// goes on: the sender may reach a URL that this host cannot.
	ProbeTimeout time.Duration
}

// LostError: the endpoint stopped serving (the listener failed, or the
// tunnel session stayed down for the reconnect timeout).
type LostError struct {
	// Down is how long the session was down before hf gave up (0: the
	// listener failed).
	Down time.Duration
	Err  error
}

func (e *LostError) Error() string {
	if e.Down > 0 {
		d := e.Down.Round(time.Second)
		if e.Down < time.Second {
			d = e.Down.Round(time.Millisecond)
		}
		msg := fmt.Sprintf("the tunnel stayed down for %s; giving up", d)
		if e.Err != nil {
			msg += " (last error: " + firstLine(e.Err) + ")"
		}
		return msg
	}
	if e.Err != nil {
		return "the webhook endpoint stopped: " + firstLine(e.Err)
	}
	return "the webhook endpoint stopped"
}

// firstLine is the first line of err's message (the SDK's ngrok errors
// run over several).
func firstLine(err error) string {
	s, _, _ := strings.Cut(strings.TrimSpace(err.Error()), "\n")
	return s
}

func (e *LostError) Unwrap() error { return e.Err }

// Run serves r on ep until ctx ends (it returns context.Cause(ctx)),
// MaxDeliveries were answered (nil), or the endpoint is lost (*LostError).
// It closes the server, and so ep, before it returns.
func Run(ctx context.Context, ep tunnel.Endpoint, r *Relay, o RunOptions) error {
	srv := webhook.ServeHandler(ep, r.Handler(), webhook.ServeOptions{WriteTimeout: r.WriteTimeout()})
	defer func() { _ = srv.Close() }()
	var lost <-chan struct{}
	if o.Watch != nil {
		lost = o.Watch.attach(r.emit, func() string { return ep.URL().JoinPath(r.Path()).String() })
	}
	timeout := o.ProbeTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	// A public URL that answers at once is checked silently; one that does
	// not is said within checkingAfter, so hf never sits mute for the
	// probe's timeout.
	n := &notice{f: func() {
		r.emit(Event{Kind: Checking, Time: time.Now(), URL: ep.URL().String(), Down: timeout})
	}}
	t := time.AfterFunc(checkingAfter, n.fire)
	err := probe(ctx, srv.URL(), timeout, n.fire)
	t.Stop()
	n.cancel()
	if err != nil {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		r.emit(Event{Kind: Warning, Message: fmt.Sprintf("the public URL did not answer from this host (%v); deliveries may still reach it", err)})
	}
	if o.OnReady != nil {
		if err := o.OnReady(srv.URL()); err != nil {
			return err
		}
	}
	for {
		if o.MaxDeliveries > 0 && r.Answered() >= int64(o.MaxDeliveries) {
			return nil
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-r.answered:
		case <-srv.Done():
			var last error
			if o.Watch != nil {
				last = o.Watch.lastErr()
			}
			return &LostError{Err: last}
		case <-lost:
			return o.Watch.lostErr()
		}
	}
}

// checkingAfter is how long the first check of the public URL may take
// before hf says that it is checking.
const checkingAfter = 300 * time.Millisecond

// notice calls f at most once, and never after cancel.
type notice struct {
	mu   sync.Mutex
	done bool
	f    func()
}

func (n *notice) fire() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.done {
		n.done = true
		n.f()
	}
}

func (n *notice) cancel() { n.mu.Lock(); n.done = true; n.mu.Unlock() }

// probeDial dials for probe (tests replace it).
var probeDial = (&net.Dialer{Timeout: 3 * time.Second}).DialContext

// probe GETs the public URL until the relay's own answer comes back (405
// with "Allow: POST": nothing else answers that way on the secret path), for
// at most timeout. A host name that does not resolve ends it at once (asking
// again for 10 s would only delay the same answer); before each retry it
// calls retry.
func probe(ctx context.Context, url string, timeout time.Duration, retry func()) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tr := &http.Transport{DisableKeepAlives: true, DialContext: probeDial}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 3 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	var last error
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		req.Header.Set("User-Agent", "hf-listen-probe")
		resp, err := c.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusMethodNotAllowed && resp.Header.Get("Allow") == http.MethodPost {
				return nil
			}
			err = fmt.Errorf("answered %s", resp.Status)
		}
		var dns *net.DNSError
		if errors.As(err, &dns) && dns.IsNotFound {
			return err
		}
		last = err
		retry()
		t := time.NewTimer(200 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			if errors.Is(last, context.DeadlineExceeded) || errors.Is(last, context.Canceled) {
				last = ctx.Err()
			}
			return last
		case <-t.C:
		}
	}
}

// Watch follows a tunnel session's health: it reports drops, failed
// reconnect attempts and recoveries as events, and gives up when the
// session stays down for its timeout. The provider reconnects by itself;
// Watch only watches. Feed it with Observe (tunnel.Ngrok.OnSession).
type Watch struct {
	timeout time.Duration
	now     func() time.Time

	mu       sync.Mutex
	emit     func(Event)
	url      func() string
	was      string // the URL when the session went down
	downAt   time.Time
	attempts int
	last     error
	timer    *time.Timer
	lost     chan struct{}
	gaveUp   bool
	early    []tunnel.SessionEvent // observed before Run attached
}

// NewWatch returns a watch that gives up after timeout down (default
// DefaultReconnectTimeout).
func NewWatch(timeout time.Duration) *Watch {
	if timeout <= 0 {
		timeout = DefaultReconnectTimeout
	}
	return &Watch{timeout: timeout, now: time.Now, lost: make(chan struct{})}
}

// Observe records a session change. It never blocks for long, so it can be
// called from the tunnel SDK's event handler.
func (w *Watch) Observe(ev tunnel.SessionEvent) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.emit == nil {
		w.early = append(w.early, ev)
		return
	}
	w.observe(ev)
}

func (w *Watch) observe(ev tunnel.SessionEvent) {
	if w.gaveUp {
		return
	}
	now := w.now()
	if !ev.Up {
		w.attempts++
		w.last = ev.Err
		if w.downAt.IsZero() {
			w.downAt, w.was = now, w.url()
			w.timer = time.AfterFunc(w.timeout, w.giveUp)
		}
		w.emit(Event{Kind: TunnelDown, Time: now, Err: ev.Err, Attempt: w.attempts, Down: now.Sub(w.downAt), URL: w.was})
		return
	}
	if w.downAt.IsZero() {
		return // connected without having been down
	}
	w.timer.Stop()
	down := now.Sub(w.downAt)
	w.downAt, w.attempts, w.last = time.Time{}, 0, nil
	// ngrok rebinds the endpoint with its reconnect token, under the same URL.
	url := w.url()
	w.emit(Event{Kind: TunnelUp, Time: now, URL: url, Changed: url != w.was, Down: down})
}

func (w *Watch) giveUp() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.downAt.IsZero() || w.gaveUp {
		return // came back meanwhile
	}
	w.gaveUp = true
	close(w.lost)
}

// attach starts reporting through emit and returns the channel closed when
// the watch gives up.
func (w *Watch) attach(emit func(Event), url func() string) <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.emit, w.url = emit, url
	for _, ev := range w.early {
		w.observe(ev)
	}
	w.early = nil
	return w.lost
}

func (w *Watch) lastErr() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.last
}

func (w *Watch) lostErr() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return &LostError{Down: w.timeout, Err: w.last}
}

// Stop releases the watch's timer.
func (w *Watch) Stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.timer != nil {
		w.timer.Stop()
	}
	w.gaveUp = true
}
