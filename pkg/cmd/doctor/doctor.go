// Package doctor implements `hf doctor`: check credentials and the webhook
// endpoint end to end, step by step, with each step's latency.
package doctor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/hf-cli/hf/pkg/cmdutil"
	"github.com/hf-cli/hf/pkg/config"
	"github.com/hf-cli/hf/pkg/endpoint"
	"github.com/hf-cli/hf/pkg/higgsfield"
	"github.com/hf-cli/hf/pkg/iostreams"
	"github.com/hf-cli/hf/pkg/signature"
	"github.com/hf-cli/hf/pkg/tunnel"
)

// Options are the parsed flags of `hf doctor`.
type Options struct {
	IO          *iostreams.IOStreams
	Version     string
	Config      func() (*config.Config, error)
	Credentials func() (higgsfield.Credentials, string, error)
	Client      func(cmdutil.ClientOptions) (*higgsfield.Client, error)
	Endpoint    cmdutil.EndpointOptions
	JSON        bool
	// DeliveryTimeout bounds the self-test delivery.
	DeliveryTimeout time.Duration
}

// NewCmdDoctor builds `hf doctor`. runF replaces the run step in tests.
func NewCmdDoctor(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Version: f.Version, Config: f.Config, Credentials: f.Credentials, Client: f.Client,
		DeliveryTimeout: 15 * time.Second}
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check credentials and the webhook endpoint",
		Long: `Check that hf can work here, step by step:

  credentials  a free status call for an all-zero request id (the API's 404,
               a JSON "detail", means the key is valid; 401 that it is not;
               a 404 of another shape, that the base URL is not the API)
  endpoint     open the configured webhook endpoint (ngrok, or --webhook-url
               with --listen)
  delivery     POST a test webhook to the endpoint's public URL and receive it

Each step prints its latency. The exit code is 6 when the key is rejected,
1 when another step fails, 130 on Ctrl-C.`,
		Args: cmdutil.ExactArgs(0, "doctor takes no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return doctorRun(cmd.Context(), opts)
		},
	}
	opts.Endpoint.Register(cmd)
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print the steps as one JSON array")
	return cmd
}

// Step is one check and its outcome.
type Step struct {
	Name    string        `json:"name"`
	OK      bool          `json:"ok"`
	Skipped bool          `json:"skipped,omitempty"`
	Detail  string        `json:"detail"`
	Latency time.Duration `json:"latency_ns"`
	// rejected: the API refused the key (exit 6).
	rejected bool
}

func doctorRun(ctx context.Context, opts *Options) error {
	var steps []Step
	add := func(s Step) {
		steps = append(steps, s)
		if !opts.JSON {
			printStep(opts.IO, s)
		}
	}
	add(checkCredentials(ctx, opts))
	for _, s := range checkEndpoint(ctx, opts) {
		add(s)
	}
	if opts.JSON {
		_ = cmdutil.WriteJSON(opts.IO.Out, steps)
	}
	if ctx.Err() != nil {
		return context.Cause(ctx) // the exit code of an interrupt
	}
	code := 0
	for _, s := range steps {
		switch {
		case s.rejected:
			code = exitAuth
		case !s.OK && !s.Skipped && code == 0:
			code = 1
		}
	}
	if code != 0 {
		return &cmdutil.SilentError{Code: code}
	}
	return nil
}

// exitAuth is hf's exit code for rejected credentials (pkg/cmd/root).
const exitAuth = 6

func printStep(ios *iostreams.IOStreams, s Step) {
	st := ios.OutStyles()
	mark, style := "✓", st.Success
	switch {
	case s.Skipped:
		mark, style = "-", st.Muted
	case !s.OK:
		mark, style = "✗", st.Error
	}
	lat := ""
	if s.Latency > 0 {
		round := time.Millisecond
		if s.Latency < 10*time.Millisecond {
			round = 10 * time.Microsecond
		}
		lat = st.Muted.Render(fmt.Sprintf(" (%s)", s.Latency.Round(round)))
	}
	fmt.Fprintf(ios.Out, "%s %-12s %s%s\n", style.Render(mark), s.Name, s.Detail, lat)
}

// probeID is a request id no account has: the free credentials check.
const probeID = "00000000-0000-0000-0000-000000000000"

func checkCredentials(ctx context.Context, opts *Options) Step {
	s := Step{Name: "credentials"}
	client, err := opts.Client(cmdutil.ClientOptions{})
	if err != nil {
		s.Detail = err.Error()
		return s
	}
	_, src, _ := opts.Credentials()
	start := time.Now()
	_, err = client.Status(ctx, probeID, "")
	s.Latency = time.Since(start)
	var ae *higgsfield.APIError
	errors.As(err, &ae)
	switch code := higgsfield.StatusCodeOf(err); {
	case ctx.Err() != nil:
		s.Detail = "interrupted"
	case code == http.StatusNotFound && ae.Shaped:
		s.OK, s.Detail = true, fmt.Sprintf("valid (from %s; %s answered 404 for a probe)", src, client.BaseURL())
	case code == http.StatusNotFound:
		s.Detail = fmt.Sprintf("unverified: %s answered 404 for a probe, but not with the API's JSON error: is the base URL the Higgsfield API (%s)?", client.BaseURL(), higgsfield.DefaultBaseURL)
	case code == http.StatusUnauthorized:
		s.rejected = true
		s.Detail = fmt.Sprintf("rejected: %s answered 401 for the key from %s", client.BaseURL(), src)
	case err == nil:
		s.Detail = "unexpected: the probe request exists"
	default:
		s.Detail = "cannot reach the API: " + err.Error()
	}
	return s
}

func checkEndpoint(ctx context.Context, opts *Options) []Step {
	s := Step{Name: "endpoint"}
	cfg, err := opts.Config()
	if err != nil {
		s.Detail = err.Error()
		return []Step{s}
	}
	settings, err := endpoint.FromConfig(cfg, endpoint.Flags(opts.Endpoint), opts.Version)
	if err != nil {
		s.Detail = err.Error()
		return []Step{s}
	}
	p, err := tunnel.Choose(settings.Settings)
	if err != nil {
		s.Detail = err.Error()
		return []Step{s}
	}
	if p == nil {
		s.Skipped = true
		s.Detail = "none configured: hf polls (set NGROK_AUTHTOKEN, or pass --webhook-url with --listen)"
		return []Step{s}
	}
	start := time.Now()
	ep, err := endpoint.OpenProvider(ctx, p, settings.Secret)
	s.Latency = time.Since(start)
	if err != nil {
		s.Detail = withName(p.Name(), err)
		return []Step{s}
	}
	defer ep.Close()
	s.OK, s.Detail = true, fmt.Sprintf("%s at %s", p.Name(), ep.Public)
	return []Step{s, checkDelivery(ctx, opts, ep, settings.Secret)}
}

// checkDelivery sends a webhook to the endpoint's public URL, signed when
// a secret is configured, and waits for the receiver to hand it over.
func checkDelivery(ctx context.Context, opts *Options, ep *endpoint.Webhook, secret string) Step {
	s := Step{Name: "delivery"}
	id := "doctor-" + uuid.NewString()
	ch := ep.Expect(id)
	defer ep.Forget(id)
	body, _ := json.Marshal(map[string]string{"request_id": id, "status": "completed"})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.URL(), bytes.NewReader(body))
	if err != nil {
		s.Detail = err.Error()
		return s
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "hf-doctor/"+opts.Version)
	// ngrok's free tier shows browsers an interstitial page; this skips it.
	req.Header.Set("ngrok-skip-browser-warning", "1")
	if secret != "" {
		msgID, now := "msg_"+id, time.Now()
		req.Header.Set("webhook-id", msgID)
		req.Header.Set("webhook-timestamp", fmt.Sprint(now.Unix()))
		sig, err := signature.Sign(secret, msgID, now, body)
		if err != nil {
			s.Detail = err.Error()
			return s
		}
		req.Header.Set("webhook-signature", sig)
	}
	start := time.Now()
	resp, err := (&http.Client{Timeout: opts.DeliveryTimeout}).Do(req)
	if err != nil {
		s.Latency = time.Since(start)
		s.Detail = "POST to the public URL failed: " + strings.ReplaceAll(err.Error(), ep.Path(), "/…")
		return s
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		s.Latency = time.Since(start)
		s.Detail = fmt.Sprintf("the public URL answered %d (is it forwarded to --listen?)", resp.StatusCode)
		return s
	}
	t := time.NewTimer(opts.DeliveryTimeout)
	defer t.Stop()
	select {
	case d := <-ch:
		s.Latency = time.Since(start)
		s.OK = true
		s.Detail = "test webhook received through the endpoint"
		if d.Verified {
			s.Detail += " (signature verified)"
		}
	case <-t.C:
		s.Latency = time.Since(start)
		s.Detail = fmt.Sprintf("the public URL answered but no delivery reached hf within %s (another process may serve that URL)", opts.DeliveryTimeout)
	case <-ctx.Done():
		s.Detail = "interrupted"
	}
	return s
}

// withName prefixes err's message with the provider's name unless it says it already.
func withName(name string, err error) string {
	if msg := err.Error(); strings.HasPrefix(msg, name) {
		return msg
	}
	return name + ": " + err.Error()
}
