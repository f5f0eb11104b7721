// Package tunnel owns the public endpoint that webhook deliveries reach: an
// Endpoint is a net.Listener plus the public base URL that leads to it.
// Providers open one: Static (a local listener announced under a URL the user
// says reaches it, also used by tests) and Ngrok (an in-process ngrok agent).
// Choose picks the provider for a run from the user's settings.
package tunnel

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sync"

	"github.com/hf-cli/hf/pkg/redact"
)

// Endpoint is a listener that the public internet can reach at URL.
type Endpoint interface {
	net.Listener
	// URL is the public base URL, without the receiver's secret path.
	URL() *url.URL
}

// Provider opens an Endpoint. Closing the Endpoint releases everything the
// provider set up for it.
type Provider interface {
	Name() string
	Open(ctx context.Context) (Endpoint, error)
}

// Settings are the user's choices that decide how a run gets a webhook
// endpoint.
type Settings struct {
	Via        string // auto (or empty), webhook, poll
	WebhookURL string // --webhook-url: a public URL that reaches Listen
	Listen     string // --listen: the local address WebhookURL reaches
	Ngrok      Ngrok
}

// Choose picks the provider for a run. It returns nil without an error when
// the run should poll only: --via poll, or --via auto with nothing configured.
func Choose(s Settings) (Provider, error) {
	if err := CheckVia(s.Via); err != nil {
		return nil, err
	}
	switch {
	case s.Via == "poll":
		return nil, nil
	case s.WebhookURL != "":
		if s.Listen == "" {
			return nil, errors.New("--webhook-url needs --listen ADDR (the local address that URL reaches)")
		}
		if _, err := parsePublicURL(s.WebhookURL); err != nil {
			return nil, err
		}
		return Static{PublicURL: s.WebhookURL, Listen: s.Listen}, nil
	case s.Listen != "":
		return nil, errors.New("--listen needs --webhook-url URL (the public URL that reaches that address)")
	case s.Ngrok.Authtoken != "":
		return s.Ngrok, nil
	case s.Via == "webhook":
		return nil, errors.New("--via webhook needs a public endpoint: set NGROK_AUTHTOKEN, or --webhook-url with --listen")
	}
	return nil, nil
}

// CheckVia accepts the --via values: auto (or empty), webhook, poll.
func CheckVia(via string) error {
	switch via {
	case "", "auto", "webhook", "poll":
		return nil
	}
	return fmt.Errorf("--via %q: want auto, webhook or poll", via)
}

// Static listens on Listen and announces the endpoint as PublicURL, which the
// user promises reaches that address (a reachable host, their own reverse
// proxy or tunnel). An empty PublicURL announces http://<listening address>.
type Static struct {
	PublicURL string
	Listen    string
}

// Name implements Provider.
func (Static) Name() string { return "static" }

// Open implements Provider.
func (s Static) Open(ctx context.Context) (Endpoint, error) {
	if s.Listen == "" {
		return nil, errors.New("static endpoint: no listen address")
	}
	var u *url.URL
	if s.PublicURL != "" {
		var err error
		if u, err = parsePublicURL(s.PublicURL); err != nil {
			return nil, err
		}
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.Listen)
	if err != nil {
		return nil, fmt.Errorf("listening for webhooks: %w", err)
	}
	if u == nil {
		u = &url.URL{Scheme: "http", Host: ln.Addr().String()}
	}
	return &staticEndpoint{Listener: ln, url: u}, nil
}

// parsePublicURL accepts an absolute http(s) URL without query or fragment.
func parsePublicURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("--webhook-url %q: want an absolute http:// or https:// URL without query", redact.URL(raw))
	}
	return u, nil
}

type staticEndpoint struct {
	net.Listener
	url  *url.URL
	once sync.Once
	err  error
}

func (e *staticEndpoint) URL() *url.URL { u := *e.url; return &u }

// Close closes the listener; later calls return the first result.
func (e *staticEndpoint) Close() error {
	e.once.Do(func() { e.err = e.Listener.Close() })
	return e.err
}
