package cmdutil

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/hf-cli/hf/pkg/job"
	"github.com/hf-cli/hf/pkg/tunnel"
	"github.com/hf-cli/hf/pkg/webhook"
)

// EndpointOptions select the webhook endpoint for a run (--via,
// --webhook-url, --listen); empty fields come from the config.
type EndpointOptions struct {
	Via, WebhookURL, Listen string
}

// Register adds --via, --webhook-url and --listen to cmd.
func (o *EndpointOptions) Register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&o.Via, "via", "", "how to learn the result: auto (webhook when an endpoint can be had, else poll), webhook, or poll (default auto)")
	cmd.Flags().StringVar(&o.WebhookURL, "webhook-url", "", "public URL that reaches --listen; hf appends its own secret path")
	cmd.Flags().StringVar(&o.Listen, "listen", "", "local address for the webhook receiver behind --webhook-url, e.g. :8080")
}

// Settings resolves the endpoint settings from flags and config.
func (f *Factory) Settings(o EndpointOptions) (tunnel.Settings, error) {
	cfg, err := f.Config()
	if err != nil {
		return tunnel.Settings{}, err
	}
	pick := func(flag, key string) string {
		if flag != "" {
			return flag
		}
		return cfg.String(key)
	}
	timeout, err := cfg.Duration("ngrok.connect_timeout")
	if err != nil {
		return tunnel.Settings{}, &FlagError{Err: fmt.Errorf("ngrok.connect_timeout: %w", err)}
	}
	return tunnel.Settings{
		Via:        pick(o.Via, "webhook.via"),
		WebhookURL: pick(o.WebhookURL, "webhook.url"),
		Listen:     pick(o.Listen, "webhook.listen"),
		Ngrok: tunnel.Ngrok{
			Authtoken:      cfg.String("ngrok.authtoken"),
			URL:            cfg.String("ngrok.url"),
			ConnectURL:     cfg.String("ngrok.connect_url"),
			RootCAs:        cfg.String("ngrok.root_cas"),
			ConnectTimeout: timeout,
			Version:        f.Version,
		},
	}, nil
}

// Endpoint is an open webhook endpoint with its receiver.
type Endpoint struct {
	Provider string
	Receiver *webhook.Receiver
	Server   *webhook.Server
	// Public is the endpoint's public base URL (no secret path).
	Public string
}

// OpenEndpoint opens the endpoint s asks for. It returns nil, nil when the
// run should poll only. secret overrides the configured webhook secret.
func (f *Factory) OpenEndpoint(ctx context.Context, p tunnel.Provider, secret string) (*Endpoint, error) {
	if secret == "" {
		cfg, err := f.Config()
		if err != nil {
			return nil, err
		}
		secret = cfg.String("webhook.secret")
	}
	recv, err := webhook.NewReceiver(webhook.Options{Secret: secret})
	if err != nil {
		return nil, &FlagError{Err: fmt.Errorf("webhook secret (HF_WEBHOOK_SECRET): %w", err)}
	}
	ep, err := p.Open(ctx)
	if err != nil {
		return nil, err
	}
	return &Endpoint{Provider: p.Name(), Receiver: recv, Server: webhook.Serve(ep, recv), Public: ep.URL().String()}, nil
}

// sandboxSecret makes a fresh Standard Webhooks secret for the sandbox, so
// its deliveries are signed and verified like real ones.
func sandboxSecret() string {
	key := make([]byte, 24)
	_, _ = rand.Read(key)
	return "whsec_" + base64.StdEncoding.EncodeToString(key)
}

// openEndpoint wires the chosen endpoint into e's runner. In auto mode a
// provider that cannot open is a warning and the run polls; with --via
// webhook it is an error. The sandbox gets a local endpoint that its fake
// API delivers to.
func (f *Factory) openEndpoint(ctx context.Context, e *Engine, o EndpointOptions, sandboxSecret string) error {
	s, err := f.Settings(o)
	if err != nil {
		return err
	}
	if err := tunnel.CheckVia(s.Via); err != nil {
		return &FlagError{Err: err}
	}
	var p tunnel.Provider
	if sandboxSecret != "" && s.Via != "poll" && s.WebhookURL == "" {
		p = tunnel.Static{Listen: "127.0.0.1:0"}
	} else if p, err = tunnel.Choose(s); err != nil {
		return &FlagError{Err: err}
	}
	if p == nil {
		return nil
	}
	start := time.Now()
	ep, err := f.OpenEndpoint(ctx, p, sandboxSecret)
	if err != nil {
		if errors.Is(context.Cause(ctx), job.ErrInterrupt) {
			return &job.InterruptedError{}
		}
		if _, usage := err.(*FlagError); usage || s.Via == "webhook" {
			return fmt.Errorf("cannot open the %s webhook endpoint: %w", p.Name(), err)
		}
		e.Runner.Emit(job.Event{Kind: job.Warning, Time: time.Now(), Message: fmt.Sprintf("no webhook endpoint (%v); polling instead", err)})
		return nil
	}
	e.closers = append(e.closers, func() { _ = ep.Server.Close() })
	e.Runner.Receiver, e.Runner.WebhookURL, e.Runner.EndpointDown = ep.Receiver, ep.Server.URL(), ep.Server.Done()
	e.Runner.Emit(job.Event{Kind: job.TunnelReady, Time: time.Now(), URL: ep.Public, Message: p.Name(), Delay: time.Since(start)})
	return nil
}
