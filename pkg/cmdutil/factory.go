// Package cmdutil holds what every command shares: the Factory that builds
// the API client, journal, renderer and webhook endpoint from global flags
// and config, and the usage-error type that maps to exit code 2.
package cmdutil

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"sync"
	"time"

	"github.com/hf-cli/hf/pkg/await"
	"github.com/hf-cli/hf/pkg/config"
	"github.com/hf-cli/hf/pkg/download"
	"github.com/hf-cli/hf/pkg/higgsfield"
	"github.com/hf-cli/hf/pkg/higgsfield/hftest"
	"github.com/hf-cli/hf/pkg/job"
	"github.com/hf-cli/hf/pkg/journal"
	"github.com/hf-cli/hf/pkg/ui"
)

// FlagError is a usage error: bad flags or arguments (exit code 2).
type FlagError struct {
	Err  error
	Hint string
}

func (e *FlagError) Error() string { return e.Err.Error() }
func (e *FlagError) Unwrap() error { return e.Err }

// FlagErrorf builds a FlagError.
func FlagErrorf(format string, a ...any) error {
	return &FlagError{Err: fmt.Errorf(format, a...)}
}

// Factory builds the dependencies commands need, lazily.
type Factory struct {
	IOStreams *ui.IOStreams
	Version   string

	// Global flags.
	APIKey, APISecret, BaseURL string
	Debug                      bool

	cfgOnce sync.Once
	cfg     *config.Config
	cfgErr  error
}

// Config loads the config file and environment once.
func (f *Factory) Config() (*config.Config, error) {
	f.cfgOnce.Do(func() {
		f.cfg, f.cfgErr = config.Load()
		if f.cfg != nil {
			for _, w := range f.cfg.Warnings {
				fmt.Fprintln(f.IOStreams.ErrOut, "hf: warning: "+w)
			}
		}
	})
	return f.cfg, f.cfgErr
}

func (f *Factory) debugWriter(cfg *config.Config) io.Writer {
	if f.Debug || cfg.Bool("debug") {
		return f.IOStreams.ErrOut
	}
	return nil
}

// ClientOptions tune the API client of one command.
type ClientOptions struct {
	// BaseURL overrides the configured base (the sandbox's fake API).
	BaseURL string
	// NoCredentials: the sandbox needs none.
	NoCredentials bool
	OnRetry       func(higgsfield.RetryInfo)
}

// Client builds the API client: credentials and base URL from flags > env >
// config file.
func (f *Factory) Client(o ClientOptions) (*higgsfield.Client, error) {
	cfg, err := f.Config()
	if err != nil {
		return nil, err
	}
	var creds higgsfield.Credentials
	if !o.NoCredentials {
		creds, _, err = cfg.Credentials(f.APIKey, f.APISecret)
		if err != nil {
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
	return higgsfield.New(higgsfield.Options{
		BaseURL:     base,
		Credentials: creds,
		UserAgent:   "hf/" + f.Version,
		Debug:       f.debugWriter(cfg),
		OnRetry:     o.OnRetry,
	})
}

// Journal opens the journal ($XDG_STATE_HOME/hf); the sandbox keeps its
// own beside it so fake requests never mix with real ones.
func (f *Factory) Journal(sandbox bool) (*journal.Journal, error) {
	dir, err := journal.DefaultDir()
	if err != nil {
		return nil, err
	}
	if sandbox {
		dir = filepath.Join(dir, "sandbox")
	}
	return journal.Open(dir)
}

// EngineOptions choose how one command runs jobs.
type EngineOptions struct {
	Sandbox      bool
	Quiet        bool
	PollInterval time.Duration
	// Endpoint selects the webhook endpoint (generate only); nil means polling.
	Endpoint *EndpointOptions
}

// Engine is a job runner wired to a renderer, and what must be closed after.
type Engine struct {
	Runner   *job.Runner
	Renderer ui.Renderer
	closers  []func()
}

// Close stops the renderer, the webhook endpoint and the sandbox, in reverse order.
func (e *Engine) Close() {
	for i := len(e.closers) - 1; i >= 0; i-- {
		e.closers[i]()
	}
	e.closers = nil
}

// Engine builds the runner for generate, wait and download.
func (f *Factory) Engine(ctx context.Context, o EngineOptions) (*Engine, error) {
	e := &Engine{}
	r := ui.NewRenderer(f.IOStreams, ui.Mode{Quiet: o.Quiet})
	e.Renderer = r
	e.closers = append(e.closers, r.Close)
	cfg, err := f.Config()
	if err != nil {
		e.Close()
		return nil, err
	}
	runner := &job.Runner{Emit: r.Handle, Fetcher: &download.Fetcher{Client: downloadClient(f.debugWriter(cfg))}}
	e.Runner = runner
	copts := ClientOptions{OnRetry: func(ri higgsfield.RetryInfo) {
		r.Handle(job.Event{Kind: job.Retry, Time: time.Now(), Message: ri.Op, Err: ri.Err, Attempt: ri.Attempt, Delay: ri.Delay})
	}}
	var secret string
	if o.Sandbox {
		secret = sandboxSecret()
		srv := hftest.New(hftest.WithTiming(time.Second, 2*time.Second), hftest.WithWebhookSecret(secret))
		e.closers = append(e.closers, srv.Close)
		copts.BaseURL, copts.NoCredentials = srv.URL, true
	}
	client, err := f.Client(copts)
	if err != nil {
		e.Close()
		return nil, err
	}
	runner.Client = client
	if runner.Journal, err = f.Journal(o.Sandbox); err != nil {
		r.Handle(job.Event{Kind: job.Warning, Time: time.Now(), Message: "no journal, requests will not be recorded: " + err.Error()})
		runner.Journal = nil
	}
	if o.PollInterval > 0 {
		runner.Schedule = await.Schedule{First: o.PollInterval, Max: o.PollInterval, Factor: 1, Jitter: 0.1}
	}
	if o.Endpoint != nil {
		if err := f.openEndpoint(ctx, e, *o.Endpoint, secret); err != nil {
			e.Close()
			return nil, err
		}
	}
	return e, nil
}

// SilentError carries an exit code for a failure the command has already
// reported itself.
type SilentError struct{ Code int }

func (e *SilentError) Error() string { return fmt.Sprintf("exit status %d", e.Code) }
