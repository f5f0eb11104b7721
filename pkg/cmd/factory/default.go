// Package factory builds the real cmdutil.Factory (New): the config from
// the file and environment, the API client, the journal under
// $XDG_STATE_HOME/hf, and the job engine with its renderer, sandbox and
// webhook endpoint. Tests build their own Factory with fakes instead.
package factory

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hf-cli/hf/pkg/await"
	"github.com/hf-cli/hf/pkg/cmdutil"
	"github.com/hf-cli/hf/pkg/config"
	"github.com/hf-cli/hf/pkg/download"
	"github.com/hf-cli/hf/pkg/endpoint"
	"github.com/hf-cli/hf/pkg/events"
	"github.com/hf-cli/hf/pkg/higgsfield"
	"github.com/hf-cli/hf/pkg/iostreams"
	"github.com/hf-cli/hf/pkg/job"
	"github.com/hf-cli/hf/pkg/journal"
	"github.com/hf-cli/hf/pkg/sandbox"
	"github.com/hf-cli/hf/pkg/ui"
)

// New returns the Factory of the hf process: the system's streams and
// every function wired to the real config, API, journal and endpoint. The
// functions read f's fields (IOStreams, the global flags) when called, so a
// caller may replace those after New.
func New(version string) *cmdutil.Factory {
	f := &cmdutil.Factory{IOStreams: iostreams.System(), Version: version}
	f.Config = configFunc(f)
	f.Credentials = func() (higgsfield.Credentials, string, error) {
		cfg, err := f.Config()
		if err != nil {
			return higgsfield.Credentials{}, "", err
		}
		return cfg.Credentials(f.APIKey, f.APISecret)
	}
	f.Client = func(o cmdutil.ClientOptions) (*higgsfield.Client, error) { return client(f, o) }
	f.Journal = openJournal
	f.Endpoint = func(ctx context.Context, o cmdutil.EndpointOptions, sandboxSecret string, emit events.Sink) (cmdutil.Endpoint, error) {
		return openEndpoint(ctx, f, o, sandboxSecret, emit)
	}
	f.Engine = func(ctx context.Context, o cmdutil.EngineOptions) (*cmdutil.Engine, error) { return engine(ctx, f, o) }
	return f
}

// configFunc loads the config file and environment once, printing its
// warnings on stderr.
func configFunc(f *cmdutil.Factory) func() (*config.Config, error) {
	var (
		once sync.Once
		cfg  *config.Config
		err  error
	)
	return func() (*config.Config, error) {
		once.Do(func() {
			cfg, err = config.Load()
			var ve *config.ValueError
			if errors.As(err, &ve) { // a bad setting is a usage error
				err = &cmdutil.FlagError{Err: err}
			}
			if cfg != nil {
				for _, w := range cfg.Warnings {
					fmt.Fprintln(f.IOStreams.ErrOut, "hf: warning: "+w)
				}
			}
		})
		return cfg, err
	}
}

func debugWriter(f *cmdutil.Factory, cfg *config.Config) io.Writer {
	if f.Debug || cfg.Bool("debug") {
		return f.IOStreams.ErrOut
	}
	return nil
}

// client builds the API client: credentials and base URL from flags > env >
// config file.
func client(f *cmdutil.Factory, o cmdutil.ClientOptions) (*higgsfield.Client, error) {
	cfg, err := f.Config()
	if err != nil {
		return nil, err
	}
	var creds higgsfield.Credentials
	if !o.NoCredentials {
		if creds, _, err = f.Credentials(); err != nil {
			return nil, err
		}
	}
	base := o.BaseURL
	if base == "" {
		base = f.BaseURL
	}
	if base == "" {
		base = cfg.String("base_url")
	}
	c, err := higgsfield.New(higgsfield.Options{
		BaseURL:     base,
		Credentials: creds,
		UserAgent:   "hf/" + f.Version,
		Debug:       debugWriter(f, cfg),
		OnRetry:     o.OnRetry,
		Secrets:     []string{cfg.String("webhook.secret")},
	})
	if err == nil {
		clientWarnings.Do(func() {
			for _, w := range c.Warnings() {
				fmt.Fprintln(f.IOStreams.ErrOut, "hf: warning: "+w)
			}
		})
	}
	return c, err
}

// clientWarnings shows the client's configuration warnings (a plain-http
// base URL) once per process, however many clients are built.
var clientWarnings sync.Once

// openJournal opens the journal ($XDG_STATE_HOME/hf); the sandbox keeps its
// own beside it so fake requests never mix with real ones.
func openJournal(sandbox bool) (*journal.Journal, error) {
	dir, err := journal.DefaultDir()
	if err != nil {
		return nil, err
	}
	if sandbox {
		dir = filepath.Join(dir, "sandbox")
	}
	return journal.Open(dir)
}

// EndpointSettings resolves the endpoint settings of o from f's config; a
// bad setting is a cmdutil.FlagError.
func EndpointSettings(f *cmdutil.Factory, o cmdutil.EndpointOptions) (endpoint.Settings, error) {
	cfg, err := f.Config()
	if err != nil {
		return endpoint.Settings{}, err
	}
	s, err := endpoint.FromConfig(cfg, endpoint.Flags(o), f.Version)
	return s, UsageError(err)
}

// engine builds the runner for generate, wait and download.
func engine(ctx context.Context, f *cmdutil.Factory, o cmdutil.EngineOptions) (*cmdutil.Engine, error) {
	// The journal first: without it, even -q shows the request id, the
	// only way back to a request nothing records.
	jrnl, jerr := f.Journal(o.Sandbox)
	if jerr == nil {
		jerr = jrnl.Writable() // readable is not enough to record requests
	}
	e := &cmdutil.Engine{}
	var r ui.Renderer = emitter(o.Emit)
	if o.Emit == nil {
		r = ui.NewRenderer(f.IOStreams, ui.Mode{Quiet: o.Quiet, Unrecorded: jerr != nil})
		e.OnClose(r.Close)
	}
	fail := func(err error) (*cmdutil.Engine, error) {
		e.Close()
		return nil, err
	}
	cfg, err := f.Config()
	if err != nil {
		return fail(err)
	}
	// Durations follow config's one rule (a bare number is seconds).
	stallText := cfg.String("download.stall_timeout")
	if d, derr := cfg.Duration("download.stall_timeout"); derr == nil && d > 0 {
		stallText = d.String()
	}
	maxBytes, stall, err := download.Limits(cfg.String("download.max_bytes"), stallText)
	if err != nil {
		return fail(&cmdutil.FlagError{Err: err})
	}
	runner := &job.Runner{Emit: r.Handle, Fetcher: &download.Fetcher{Client: cmdutil.DownloadClient(debugWriter(f, cfg)), MaxBytes: maxBytes, StallTimeout: stall}, Ephemeral: o.Sandbox}
	e.Runner = runner
	copts := cmdutil.ClientOptions{OnRetry: func(ri higgsfield.RetryInfo) {
		if o.OnRetry != nil {
			o.OnRetry(ri)
		}
		r.Handle(events.Event{Kind: events.Retry, Time: time.Now(), Retry: events.RetryInfo{Op: ri.Op, Err: ri.Err, Attempt: ri.Attempt, Delay: ri.Delay}})
	}}
	var sb *sandbox.Sandbox
	if o.Sandbox {
		sb = sandbox.Start()
		e.OnClose(sb.Close)
		copts.BaseURL, copts.NoCredentials = sb.URL, true
	}
	if runner.Client, err = f.Client(copts); err != nil {
		return fail(err)
	}
	if runner.Journal = jrnl; jerr != nil {
		r.Handle(events.Event{Kind: events.Warning, Time: time.Now(), Text: "no journal, requests will not be recorded: " + jerr.Error()})
		runner.Journal = nil
	}
	if o.PollInterval == 0 {
		o.PollInterval = testPollInterval(runner.Client.BaseURL(), o.Sandbox)
	}
	if o.PollInterval > 0 {
		runner.Schedule = await.Schedule{First: o.PollInterval, Max: o.PollInterval, Factor: 1, Jitter: 0.1}
	}
	if o.Endpoint == nil {
		return e, nil
	}
	var secret string
	if sb != nil {
		secret = sb.Secret
	}
	ep, err := f.Endpoint(ctx, *o.Endpoint, secret, r.Handle)
	if err != nil {
		return fail(err)
	}
	if ep != nil {
		e.OnClose(func() { _ = ep.Close() })
		runner.Endpoint = ep
	}
	return e, nil
}

// emitter is a Renderer that hands events to a caller's sink.
type emitter events.Sink

func (e emitter) Handle(ev events.Event) { e(ev) }
func (emitter) Close()                   {}

// TestPollEnv names the polling interval hf's own tests use to run fast
// (e.g. 20ms). Users cannot reach it by accident: it is honoured only
// against the sandbox or an API on a loopback address (the in-repo fake),
// never against a real API, where --poll-interval has a 1 s floor.
const TestPollEnv = "HF_TEST_POLL_INTERVAL"

func testPollInterval(baseURL string, sandbox bool) time.Duration {
	v := os.Getenv(TestPollEnv)
	if v == "" {
		return 0
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0
	}
	if sandbox {
		return d
	}
	u, err := url.Parse(baseURL)
	if err != nil {
		return 0
	}
	if ip := net.ParseIP(u.Hostname()); ip != nil && ip.IsLoopback() {
		return d
	}
	return 0
}

// openEndpoint resolves o against the config and opens the endpoint with
// endpoint.Open; its usage errors become cmdutil.FlagErrors.
func openEndpoint(ctx context.Context, f *cmdutil.Factory, o cmdutil.EndpointOptions, sandboxSecret string, emit events.Sink) (cmdutil.Endpoint, error) {
	s, err := EndpointSettings(f, o)
	if err != nil {
		return nil, err
	}
	if sandboxSecret != "" {
		s.Sandbox, s.Secret = true, sandboxSecret
	}
	if j, err := f.Journal(s.Sandbox); err == nil {
		// The audit trail: verified deliveries kept beside the journal.
		s.Keep = job.KeepDeliveries(j, func(err error) {
			emit(events.Event{Kind: events.Warning, Time: time.Now(), Text: err.Error()})
		})
	}
	ep, err := endpoint.Open(ctx, s, emit)
	if err != nil || ep == nil { // a nil *Webhook must not become a non-nil interface
		return nil, UsageError(err)
	}
	return ep, nil
}

// UsageError turns an endpoint.UsageError anywhere in err's chain into a
// cmdutil.FlagError (exit code 2) with the same message.
func UsageError(err error) error {
	var ue *endpoint.UsageError
	if errors.As(err, &ue) {
		return &cmdutil.FlagError{Err: err}
	}
	return err
}
