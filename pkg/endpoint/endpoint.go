// Package endpoint owns the policy that turns the user's endpoint settings
// into an open webhook endpoint, or none (the run polls): --via auto warns
// and polls when no endpoint can be had, --via webhook makes that an error,
// and the sandbox gets a local endpoint its fake API delivers to. generate,
// batch and listen share it; the result is the job.Endpoint a job.Runner
// learns results from.
package endpoint

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"time"

	"github.com/hf-cli/hf/pkg/config"
	"github.com/hf-cli/hf/pkg/events"
	"github.com/hf-cli/hf/pkg/job"
	"github.com/hf-cli/hf/pkg/tunnel"
	"github.com/hf-cli/hf/pkg/webhook"
)

// Settings are everything Open needs.
type Settings struct {
	tunnel.Settings
	// Secret is the Standard Webhooks secret deliveries are verified with
	// ("" accepts unsigned deliveries and confirms them by polling).
	Secret string
	// Sandbox: the run talks to the built-in fake API, which delivers to a
	// local endpoint unless the user chose --via poll or a --webhook-url.
	Sandbox bool
	// Keep, when set, sees every delivery the receiver accepted as verified,
	// raw (the audit trail beside the journal; see webhook.Record).
	Keep func(webhook.RawDelivery)
}

// Flags are the command-line choices (--via, --webhook-url, --listen);
// empty fields come from the config.
type Flags struct {
	Via, WebhookURL, Listen string
}

// FromConfig resolves the settings: flags > environment > config file. A
// bad ngrok.connect_timeout is a *UsageError.
func FromConfig(cfg *config.Config, fl Flags, version string) (Settings, error) {
	timeout, err := cfg.Duration("ngrok.connect_timeout")
	if err != nil {
		return Settings{}, &UsageError{Err: fmt.Errorf("ngrok.connect_timeout: %w", err)}
	}
	return Settings{
		Settings: tunnel.Settings{
			Via:        cmp.Or(fl.Via, cfg.String("webhook.via")),
			WebhookURL: cmp.Or(fl.WebhookURL, cfg.String("webhook.url")),
			Listen:     cmp.Or(fl.Listen, cfg.String("webhook.listen")),
			Ngrok: tunnel.Ngrok{
				Authtoken:      cfg.String("ngrok.authtoken"),
				URL:            cfg.String("ngrok.url"),
				ConnectURL:     cfg.String("ngrok.connect_url"),
				RootCAs:        cfg.String("ngrok.root_cas"),
				ConnectTimeout: timeout,
				Version:        version,
			},
		},
		Secret: cfg.String("webhook.secret"),
	}, nil
}

// UsageError is a bad setting (exit code 2 once the command layer maps it).
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Webhook is an open endpoint: a receiver served on a provider's endpoint.
// It implements job.Endpoint.
type Webhook struct {
	// Provider is the provider's name: static or ngrok.
	Provider string
	// Public is the endpoint's public base URL (no secret path).
	Public string
	recv   *webhook.Receiver
	srv    *webhook.Server
	rec    *webhook.Recorder // nil unless deliveries are kept
}

var _ job.Endpoint = (*Webhook)(nil)

// URL is the full webhook URL, secret path included.
func (w *Webhook) URL() string { return w.srv.URL() }

// Expect returns the channel request id's deliveries arrive on.
func (w *Webhook) Expect(id string) <-chan webhook.Delivery { return w.recv.Expect(id) }

// Forget drops what Expect set up for id.
func (w *Webhook) Forget(id string) { w.recv.Forget(id) }

// Done is closed when the endpoint stops serving (lost, or closed).
func (w *Webhook) Done() <-chan struct{} { return w.srv.Done() }

// Path is the receiver's secret path (to keep it out of messages).
func (w *Webhook) Path() string { return w.recv.Path() }

// Close stops serving, waits for deliveries still being kept, and releases
// the endpoint; later calls return the first result.
func (w *Webhook) Close() error {
	err := w.srv.Close()
	if w.rec != nil {
		w.rec.Wait()
	}
	return err
}

// OpenProvider opens p and serves a receiver verifying with secret on it.
// A bad secret is a *UsageError.
func OpenProvider(ctx context.Context, p tunnel.Provider, secret string) (*Webhook, error) {
	return openProvider(ctx, p, secret, nil)
}

// openProvider is OpenProvider; with keep (and a secret), the receiver is
// served behind webhook.Record so that keep sees each verified delivery.
func openProvider(ctx context.Context, p tunnel.Provider, secret string, keep func(webhook.RawDelivery)) (*Webhook, error) {
	recv, err := webhook.NewReceiver(webhook.Options{Secret: secret})
	if err != nil {
		return nil, &UsageError{Err: fmt.Errorf("webhook secret (HF_WEBHOOK_SECRET): %w", err)}
	}
	ep, err := p.Open(ctx)
	if err != nil {
		return nil, err
	}
	w := &Webhook{Provider: p.Name(), Public: ep.URL().String(), recv: recv}
	if keep != nil && secret != "" {
		w.rec = webhook.Record(recv, keep)
		w.srv = webhook.ServeHandler(ep, w.rec, webhook.ServeOptions{})
	} else {
		w.srv = webhook.Serve(ep, recv)
	}
	return w, nil
}

// cleartext reports whether a public webhook URL is plain http to a host
// other than loopback.
func cleartext(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" {
		return false
	}
	if h := u.Hostname(); h == "localhost" {
		return false
	} else if ip := net.ParseIP(h); ip != nil && ip.IsLoopback() {
		return false
	}
	return true
}

// CleartextWarning is the warning for a --webhook-url that is plain http to
// a host other than this one (hf generate, hf batch and hf listen say the
// same), or "" when p is not such a URL.
func CleartextWarning(p tunnel.Provider) string {
	st, ok := p.(tunnel.Static)
	if !ok || !cleartext(st.PublicURL) {
		return ""
	}
	return fmt.Sprintf("--webhook-url %s is plain http on a host other than this one: deliveries (outputs' URLs) cross the network unencrypted; use https://", st.PublicURL)
}

// Open opens the endpoint s asks for and announces it on emit (a
// TunnelReady event). It returns nil, nil when the run should poll: --via
// poll, nothing configured, or (with --via auto) a provider that could not
// open, which emit hears as a warning. Bad settings are a *UsageError; a
// provider that fails with --via webhook is an error; Ctrl-C while opening
// is a *job.InterruptedError.
func Open(ctx context.Context, s Settings, emit events.Sink) (*Webhook, error) {
	if err := tunnel.CheckVia(s.Via); err != nil {
		return nil, &UsageError{Err: err}
	}
	var p tunnel.Provider
	var err error
	if s.Sandbox && s.Via != "poll" && s.WebhookURL == "" {
		p = tunnel.Static{Listen: "127.0.0.1:0"}
	} else if p, err = tunnel.Choose(s.Settings); err != nil {
		return nil, &UsageError{Err: err}
	}
	if p == nil {
		return nil, nil
	}
	if w := CleartextWarning(p); w != "" {
		emit(events.Event{Kind: events.Warning, Time: time.Now(), Text: w})
	}
	if p.Name() == "ngrok" {
		// Connecting can take seconds; say what hf is doing at once.
		emit(events.Event{Kind: events.TunnelOpening, Time: time.Now(), Tunnel: events.Tunnel{Provider: p.Name()}})
	}
	start := time.Now()
	w, err := openProvider(ctx, p, s.Secret, s.Keep)
	if err != nil {
		if errors.Is(context.Cause(ctx), job.ErrInterrupt) {
			return nil, &job.InterruptedError{}
		}
		var usage *UsageError
		if errors.As(err, &usage) || s.Via == "webhook" {
			return nil, fmt.Errorf("cannot open the %s webhook endpoint: %w", p.Name(), err)
		}
		emit(events.Event{Kind: events.Warning, Time: time.Now(), Text: fmt.Sprintf("no webhook endpoint (%v); polling instead", err)})
		return nil, nil
	}
	// The first delivery failing verification (most likely a wrong
	// HF_WEBHOOK_SECRET) is said once; the run goes on polling.
	w.recv.SetOnRejected(func(err error) {
		emit(events.Event{Kind: events.Warning, Time: time.Now(), Text: webhook.RejectionWarning(err)})
	})
	emit(events.Event{Kind: events.TunnelReady, Time: time.Now(), Tunnel: events.Tunnel{Provider: p.Name(), PublicURL: w.Public, OpenedIn: time.Since(start)}})
	return w, nil
}
