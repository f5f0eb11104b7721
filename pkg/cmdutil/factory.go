// Package cmdutil holds what every command shares: the Factory type (a set
// of functions that build the API client, journal, job engine and webhook
// settings, filled in by pkg/cmd/factory and replaced by fakes in tests),
// the shared flags, and the usage-error type that maps to exit code 2.
package cmdutil

import (
	"context"
	"fmt"
	"time"

	"github.com/hf-cli/hf/pkg/config"
	"github.com/hf-cli/hf/pkg/events"
	"github.com/hf-cli/hf/pkg/higgsfield"
	"github.com/hf-cli/hf/pkg/iostreams"
	"github.com/hf-cli/hf/pkg/job"
	"github.com/hf-cli/hf/pkg/journal"
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

// Factory is what commands are built from: the streams, the version, the
// global flags, and functions that build each dependency on demand.
// pkg/cmd/factory.New fills every function; a test replaces the ones it
// needs with fakes. Commands copy the functions they use into their Options.
type Factory struct {
	IOStreams *iostreams.IOStreams
	Version   string

	// Global flags, bound by pkg/cmd/root; the functions read them when called.
	APIKey, APISecret, BaseURL string
	Debug                      bool

	// Config loads the config file and environment (once).
	Config func() (*config.Config, error)
	// Credentials resolves the API key (flags > env > config file) and says
	// where it came from.
	Credentials func() (higgsfield.Credentials, string, error)
	// Client builds the API client.
	Client func(ClientOptions) (*higgsfield.Client, error)
	// Journal opens the journal (the sandbox's own when sandbox is set).
	Journal func(sandbox bool) (*journal.Journal, error)
	// Endpoint opens the webhook endpoint that o and the config ask for,
	// with pkg/endpoint's policy (auto: a warning on emit and polling;
	// webhook: an error; the sandbox, when sandboxSecret is set: a local
	// endpoint verifying with that secret). It returns nil without an error
	// when the run should poll. Generate (through Engine), batch and listen
	// share it; close what it returns.
	Endpoint func(ctx context.Context, o EndpointOptions, sandboxSecret string, emit events.Sink) (Endpoint, error)
	// Engine builds the job runner for generate, wait and download.
	Engine func(context.Context, EngineOptions) (*Engine, error)
}

// Endpoint is an open webhook endpoint: what job.Runner takes, and Close.
type Endpoint interface {
	job.Endpoint
	Close() error
}

// ClientOptions tune the API client of one command.
type ClientOptions struct {
	// BaseURL overrides the configured base (the sandbox's fake API).
	BaseURL string
	// NoCredentials: the sandbox needs none.
	NoCredentials bool
	OnRetry       func(higgsfield.RetryInfo)
}

// EngineOptions choose how one command runs jobs.
type EngineOptions struct {
	Sandbox      bool
	Quiet        bool
	PollInterval time.Duration
	// Endpoint selects the webhook endpoint (generate only); nil means polling.
	Endpoint *EndpointOptions
	// Emit, when set, receives the runner's events (the endpoint's and the
	// API client's retries included) instead of a renderer the engine makes:
	// hf batch draws its own.
	Emit events.Sink
	// OnRetry, when set, is also told about every retry of an API call.
	OnRetry func(higgsfield.RetryInfo)
}

// Engine is a job runner (its Emit wired to a renderer), and what must be
// closed after: the renderer, the webhook endpoint, the sandbox.
type Engine struct {
	Runner  *job.Runner
	closers []func()
}

// OnClose adds f to what Close runs (in reverse order of addition).
func (e *Engine) OnClose(f func()) { e.closers = append(e.closers, f) }

// Close stops the renderer, the webhook endpoint and the sandbox, in reverse order.
func (e *Engine) Close() {
	for i := len(e.closers) - 1; i >= 0; i-- {
		e.closers[i]()
	}
	e.closers = nil
}

// SilentError carries an exit code for a failure the command has already
// reported itself.
type SilentError struct{ Code int }

func (e *SilentError) Error() string { return fmt.Sprintf("exit status %d", e.Code) }
