package factory_test

import (
	"bytes"
	"context"
	"errors"
	"github.com/hf-cli/hf/internal/testenv"
	"github.com/hf-cli/hf/pkg/events"
	"github.com/hf-cli/hf/pkg/webhook"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hf-cli/hf/pkg/cmd/factory"
	"github.com/hf-cli/hf/pkg/cmdutil"
	"github.com/hf-cli/hf/pkg/config"
	"github.com/hf-cli/hf/pkg/endpoint"
	"github.com/hf-cli/hf/pkg/higgsfield"
	"github.com/hf-cli/hf/pkg/iostreams"
	"github.com/hf-cli/hf/pkg/tunnel"
)

// isolate keeps the user's config, journal, credentials, tunnel settings and
// proxies out of a test, and returns the config directory.
func isolate(t *testing.T) string {
	t.Helper()
	cfgHome, _ := testenv.Isolate(t)
	return filepath.Join(cfgHome, "hf")
}

// writeConfig writes a private config.yaml into dir.
func writeConfig(t *testing.T, dir, yaml string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.yaml"), []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
}

// settings resolves the endpoint settings the way the engine does.
func settings(f *cmdutil.Factory, o cmdutil.EndpointOptions) (tunnel.Settings, error) {
	s, err := factory.EndpointSettings(f, o)
	return s.Settings, err
}

func newFactory() (*cmdutil.Factory, *bytes.Buffer) {
	ios, _, _, errOut := iostreams.Test()
	f := factory.New("1.2.3")
	f.IOStreams = ios
	return f, errOut
}

const fileConfig = `
webhook:
  via: poll
  url: https://file.example/hook
  listen: ":1111"
ngrok:
  authtoken: file-token
  url: https://file.ngrok.app
  connect_url: connect.file.example:443
  connect_timeout: 7s
`

func TestSettings(t *testing.T) {
	tests := []struct {
		name  string
		file  string
		env   map[string]string
		flags cmdutil.EndpointOptions
		want  tunnel.Settings
	}{
		{name: "defaults", want: tunnel.Settings{Via: "auto", Ngrok: tunnel.Ngrok{ConnectTimeout: 15 * time.Second}}},
		{name: "config file", file: fileConfig, want: tunnel.Settings{
			Via: "poll", WebhookURL: "https://file.example/hook", Listen: ":1111",
			Ngrok: tunnel.Ngrok{Authtoken: "file-token", URL: "https://file.ngrok.app", ConnectURL: "connect.file.example:443", ConnectTimeout: 7 * time.Second},
		}},
		{name: "env over config file", file: fileConfig, env: map[string]string{
			"HF_VIA": "webhook", "HF_WEBHOOK_URL": "https://env.example", "HF_LISTEN": ":2222",
			"NGROK_AUTHTOKEN": "env-token", "HF_NGROK_URL": "https://env.ngrok.app", "HF_NGROK_CONNECT_URL": "connect.env.example",
			"HF_NGROK_CONNECT_TIMEOUT": "3s",
		}, want: tunnel.Settings{
			Via: "webhook", WebhookURL: "https://env.example", Listen: ":2222",
			Ngrok: tunnel.Ngrok{Authtoken: "env-token", URL: "https://env.ngrok.app", ConnectURL: "connect.env.example", ConnectTimeout: 3 * time.Second},
		}},
		{name: "flags over env and config file", file: fileConfig,
			env:   map[string]string{"HF_VIA": "webhook", "HF_WEBHOOK_URL": "https://env.example", "HF_LISTEN": ":2222"},
			flags: cmdutil.EndpointOptions{Via: "auto", WebhookURL: "https://flag.example", Listen: "127.0.0.1:3333"},
			want: tunnel.Settings{
				Via: "auto", WebhookURL: "https://flag.example", Listen: "127.0.0.1:3333",
				Ngrok: tunnel.Ngrok{Authtoken: "file-token", URL: "https://file.ngrok.app", ConnectURL: "connect.file.example:443", ConnectTimeout: 7 * time.Second},
			}},
		{name: "one flag, the rest from env", env: map[string]string{"HF_WEBHOOK_URL": "https://env.example", "HF_LISTEN": ":2222"},
			flags: cmdutil.EndpointOptions{Listen: ":4444"},
			want:  tunnel.Settings{Via: "auto", WebhookURL: "https://env.example", Listen: ":4444", Ngrok: tunnel.Ngrok{ConnectTimeout: 15 * time.Second}}},
		{name: "ngrok from env", env: map[string]string{"NGROK_AUTHTOKEN": "tok", "HF_NGROK_URL": "https://x.ngrok.app", "HF_NGROK_CONNECT_TIMEOUT": "2m"},
			want: tunnel.Settings{Via: "auto", Ngrok: tunnel.Ngrok{Authtoken: "tok", URL: "https://x.ngrok.app", ConnectTimeout: 2 * time.Minute}}},
		{name: "HF_NGROK_AUTHTOKEN over NGROK_AUTHTOKEN", env: map[string]string{"NGROK_AUTHTOKEN": "agent-token", "HF_NGROK_AUTHTOKEN": "hf-token"},
			want: tunnel.Settings{Via: "auto", Ngrok: tunnel.Ngrok{Authtoken: "hf-token", ConnectTimeout: 15 * time.Second}}},
		{name: "bare seconds", env: map[string]string{"HF_NGROK_CONNECT_TIMEOUT": "45"},
			want: tunnel.Settings{Via: "auto", Ngrok: tunnel.Ngrok{ConnectTimeout: 45 * time.Second}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := isolate(t)
			if tt.file != "" {
				writeConfig(t, dir, tt.file)
			}
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			f, errOut := newFactory()
			got, err := settings(f, tt.flags)
			if err != nil {
				t.Fatal(err)
			}
			want := tt.want
			want.Ngrok.Version = "1.2.3"
			if got.Via != want.Via || got.WebhookURL != want.WebhookURL || got.Listen != want.Listen {
				t.Fatalf("got via %q url %q listen %q, want %q %q %q", got.Via, got.WebhookURL, got.Listen, want.Via, want.WebhookURL, want.Listen)
			}
			g, w := got.Ngrok, want.Ngrok
			if g.Authtoken != w.Authtoken || g.URL != w.URL || g.ConnectURL != w.ConnectURL || g.RootCAs != w.RootCAs ||
				g.ConnectTimeout != w.ConnectTimeout || g.Version != w.Version {
				t.Fatalf("ngrok %+v, want %+v", g, w)
			}
			if errOut.Len() != 0 {
				t.Fatalf("stderr %q", errOut)
			}
		})
	}
}

func TestSettingsBadConnectTimeout(t *testing.T) {
	for _, src := range []string{"env", "file"} {
		t.Run(src, func(t *testing.T) {
			dir := isolate(t)
			if src == "env" {
				t.Setenv("HF_NGROK_CONNECT_TIMEOUT", "soon")
			} else {
				writeConfig(t, dir, "ngrok:\n  connect_timeout: soon\n")
			}
			f, _ := newFactory()
			_, err := settings(f, cmdutil.EndpointOptions{})
			var fe *cmdutil.FlagError
			if !errors.As(err, &fe) || !strings.Contains(err.Error(), "ngrok.connect_timeout") || !strings.Contains(err.Error(), `"soon"`) {
				t.Fatalf("err = %T %v, want a FlagError naming ngrok.connect_timeout", err, err)
			}
		})
	}
}

// hostOf returns the host:port of a URL.
func hostOf(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

func TestEngineSandbox(t *testing.T) {
	ctx := context.Background()
	probe := "00000000-0000-0000-0000-000000000000"

	t.Run("no credentials, no endpoint", func(t *testing.T) {
		isolate(t)
		f, errOut := newFactory()
		e, err := f.Engine(ctx, cmdutil.EngineOptions{Sandbox: true})
		if err != nil {
			t.Fatalf("the sandbox needs no credentials: %v", err)
		}
		r := e.Runner
		if r.Client == nil || r.Journal == nil || r.Fetcher == nil || r.Emit == nil {
			t.Fatalf("engine not wired: %+v", r)
		}
		if r.Endpoint != nil {
			t.Fatal("an endpoint without EngineOptions.Endpoint")
		}
		if base := r.Client.BaseURL(); !strings.HasPrefix(base, "http://127.0.0.1:") {
			t.Fatalf("sandbox client talks to %s", base)
		}
		state, _ := os.LookupEnv("XDG_STATE_HOME")
		if want := filepath.Join(state, "hf", "sandbox", "journal.jsonl"); r.Journal.Path() != want {
			t.Fatalf("sandbox journal %s, want %s", r.Journal.Path(), want)
		}
		// The fake answers without credentials...
		if _, err := r.Client.Status(ctx, probe, ""); higgsfield.StatusCodeOf(err) != 404 {
			t.Fatalf("probe: %v, want the fake's 404", err)
		}
		e.Close()
		// ...and is gone after Close.
		if _, err := r.Client.Status(ctx, probe, ""); err == nil || higgsfield.StatusCodeOf(err) != 0 {
			t.Fatalf("probe after Close: %v, want a connection error", err)
		}
		e.Close() // idempotent
		if errOut.Len() != 0 {
			t.Fatalf("stderr %q", errOut)
		}
	})

	t.Run("endpoint", func(t *testing.T) {
		isolate(t)
		f, errOut := newFactory()
		e, err := f.Engine(ctx, cmdutil.EngineOptions{Sandbox: true, Endpoint: &cmdutil.EndpointOptions{}})
		if err != nil {
			t.Fatal(err)
		}
		r := e.Runner
		ep, ok := r.Endpoint.(*endpoint.Webhook)
		if !ok || ep.Done() == nil {
			t.Fatalf("no webhook endpoint: %T", r.Endpoint)
		}
		if hook := ep.URL(); !strings.HasPrefix(hook, "http://127.0.0.1:") || !strings.HasSuffix(hook, ep.Path()) {
			t.Fatalf("webhook URL %q, want a loopback URL ending in the receiver's path %s", hook, ep.Path())
		}
		addr := hostOf(t, ep.URL())
		if ln, err := net.Listen("tcp", addr); err == nil {
			ln.Close()
			t.Fatalf("nothing listens on %s", addr)
		}
		e.Close()
		select {
		case <-ep.Done():
		default:
			t.Fatal("Done still open after Close")
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("Close did not release %s: %v", addr, err)
		}
		ln.Close()
		if want := "hf: webhook endpoint ready at http://" + addr + "\n"; errOut.String() != want {
			t.Fatalf("stderr %q, want %q", errOut, want)
		}
	})

	t.Run("poll", func(t *testing.T) {
		isolate(t)
		f, _ := newFactory()
		e, err := f.Engine(ctx, cmdutil.EngineOptions{Sandbox: true, Endpoint: &cmdutil.EndpointOptions{Via: "poll"}, PollInterval: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		if e.Runner.Endpoint != nil {
			t.Fatal("--via poll opened an endpoint")
		}
		if s := e.Runner.Schedule; s.First != 50*time.Millisecond || s.Max != 50*time.Millisecond || s.Factor != 1 {
			t.Fatalf("schedule %+v, want every 50ms", s)
		}
	})
}

func TestEngineNeedsCredentials(t *testing.T) {
	isolate(t)
	f, _ := newFactory()
	e, err := f.Engine(context.Background(), cmdutil.EngineOptions{})
	var missing *config.MissingCredentialsError
	if !errors.As(err, &missing) || e != nil {
		t.Fatalf("engine %v err %v, want a MissingCredentialsError", e, err)
	}
}

func TestEngineNoJournal(t *testing.T) {
	isolate(t)
	t.Setenv("HF_KEY", "kid:ksecret")
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("XDG_STATE_HOME", filepath.Join(file, "state"))
	f, errOut := newFactory()
	e, err := f.Engine(context.Background(), cmdutil.EngineOptions{})
	if err != nil {
		t.Fatalf("an unusable journal must not stop the run: %v", err)
	}
	e.Close()
	if e.Runner.Journal != nil {
		t.Fatal("Journal set")
	}
	if !strings.HasPrefix(errOut.String(), "hf: warning: no journal, requests will not be recorded: ") {
		t.Fatalf("stderr %q", errOut)
	}
}

func TestEngineEndpointErrors(t *testing.T) {
	tests := []struct {
		name     string
		env      map[string]string
		endpoint cmdutil.EndpointOptions
		usage    bool
		errHas   string
	}{
		{name: "--via webhook with nothing configured", endpoint: cmdutil.EndpointOptions{Via: "webhook"}, usage: true,
			errHas: "--via webhook needs a public endpoint"},
		{name: "unknown --via", endpoint: cmdutil.EndpointOptions{Via: "carrier-pigeon"}, usage: true, errHas: `--via "carrier-pigeon"`},
		{name: "--webhook-url without --listen", endpoint: cmdutil.EndpointOptions{WebhookURL: "https://hook.example"}, usage: true,
			errHas: "--webhook-url needs --listen"},
		{name: "bad webhook secret", env: map[string]string{"HF_WEBHOOK_SECRET": "nope"}, usage: true,
			endpoint: cmdutil.EndpointOptions{WebhookURL: "http://127.0.0.1:9", Listen: "127.0.0.1:0"}, errHas: "HF_WEBHOOK_SECRET"},
		{name: "ngrok unreachable with --via webhook",
			env:      map[string]string{"NGROK_AUTHTOKEN": "tok-secret-value", "HF_NGROK_CONNECT_URL": "127.0.0.1:1", "HF_NGROK_CONNECT_TIMEOUT": "300ms"},
			endpoint: cmdutil.EndpointOptions{Via: "webhook"}, errHas: "cannot open the ngrok webhook endpoint"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolate(t)
			t.Setenv("HF_KEY", "kid:ksecret")
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			f, errOut := newFactory()
			ep := tt.endpoint
			e, err := f.Engine(context.Background(), cmdutil.EngineOptions{Endpoint: &ep})
			if e != nil || err == nil {
				t.Fatalf("engine %v err %v, want an error", e, err)
			}
			var fe *cmdutil.FlagError
			if errors.As(err, &fe) != tt.usage {
				t.Fatalf("err = %T %v: FlagError should be %v", err, err, tt.usage)
			}
			if !strings.Contains(err.Error(), tt.errHas) {
				t.Fatalf("err %q does not say %q", err, tt.errHas)
			}
			if strings.Contains(err.Error()+errOut.String(), "tok-secret-value") {
				t.Fatal("the ngrok authtoken is shown")
			}
		})
	}
}

func TestEngineNgrokFallsBackToPolling(t *testing.T) {
	isolate(t)
	t.Setenv("HF_KEY", "kid:ksecret")
	t.Setenv("NGROK_AUTHTOKEN", "tok-secret-value")
	t.Setenv("HF_NGROK_CONNECT_URL", "127.0.0.1:1")
	t.Setenv("HF_NGROK_CONNECT_TIMEOUT", "300ms")
	f, errOut := newFactory()
	start := time.Now()
	e, err := f.Engine(context.Background(), cmdutil.EngineOptions{Endpoint: &cmdutil.EndpointOptions{}})
	if err != nil {
		t.Fatalf("auto mode must fall back to polling: %v", err)
	}
	e.Close()
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("falling back took %s", d)
	}
	if e.Runner.Endpoint != nil {
		t.Fatal("an endpoint is set although ngrok could not connect")
	}
	// First what hf is doing (connecting takes seconds), then one warning.
	msg, ok := strings.CutPrefix(errOut.String(), "hf: opening ngrok tunnel…\n")
	if !ok {
		t.Fatalf("stderr %q does not start by saying it opens the ngrok tunnel", errOut)
	}
	if !strings.HasPrefix(msg, "hf: warning: no webhook endpoint (") || !strings.HasSuffix(msg, "; polling instead\n") || strings.Count(msg, "\n") != 1 {
		t.Fatalf("stderr %q, want one warning line about polling instead", msg)
	}
	if !strings.Contains(msg, "ngrok") || strings.Contains(msg, "tok-secret-value") {
		t.Fatalf("stderr %q: want the ngrok reason without the authtoken", msg)
	}
}

func TestSettingsNegativeConnectTimeout(t *testing.T) {
	// Remove the Skip once fixed.
	for _, v := range []string{"-1s", "-5m"} {
		t.Run(v, func(t *testing.T) {
			isolate(t)
			t.Setenv("HF_NGROK_CONNECT_TIMEOUT", v)
			f, _ := newFactory()
			s, err := settings(f, cmdutil.EndpointOptions{})
			var fe *cmdutil.FlagError
			if !errors.As(err, &fe) || !strings.Contains(err.Error(), "ngrok.connect_timeout") {
				t.Fatalf("settings %+v err %v, want a FlagError naming ngrok.connect_timeout", s.Ngrok, err)
			}
		})
	}
}

func TestEngineSandboxRejectsUnknownVia(t *testing.T) {
	// Remove the Skip once fixed.
	isolate(t)
	f, _ := newFactory()
	e, err := f.Engine(context.Background(), cmdutil.EngineOptions{Sandbox: true, Endpoint: &cmdutil.EndpointOptions{Via: "bogus"}})
	if e != nil {
		e.Close()
	}
	var fe *cmdutil.FlagError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), `--via "bogus"`) {
		t.Fatalf("err = %v, want a FlagError about --via", err)
	}
}

// fakeEndpoint is an endpoint a test injects through Factory.Endpoint.
type fakeEndpoint struct {
	done   chan struct{}
	closed int
}

func (e *fakeEndpoint) URL() string                           { return "http://hook.test/hf/x" }
func (e *fakeEndpoint) Expect(string) <-chan webhook.Delivery { return nil }
func (e *fakeEndpoint) Forget(string)                         {}
func (e *fakeEndpoint) Done() <-chan struct{}                 { return e.done }
func (e *fakeEndpoint) Close() error                          { e.closed++; return nil }

func TestEngineTakesTheFactoryEndpoint(t *testing.T) {
	isolate(t)
	f, _ := newFactory()
	fake := &fakeEndpoint{done: make(chan struct{})}
	var gotOpts cmdutil.EndpointOptions
	var gotSecret string
	f.Endpoint = func(_ context.Context, o cmdutil.EndpointOptions, secret string, _ events.Sink) (cmdutil.Endpoint, error) {
		gotOpts, gotSecret = o, secret
		return fake, nil
	}
	e, err := f.Engine(context.Background(), cmdutil.EngineOptions{Sandbox: true, Endpoint: &cmdutil.EndpointOptions{Via: "webhook"}})
	if err != nil {
		t.Fatal(err)
	}
	if e.Runner.Endpoint != cmdutil.Endpoint(fake) || gotOpts.Via != "webhook" || !strings.HasPrefix(gotSecret, "whsec_") {
		t.Fatalf("runner endpoint %v, opened with %+v secret %q: want the injected one, the flags and the sandbox's secret", e.Runner.Endpoint, gotOpts, gotSecret)
	}
	e.Close()
	if fake.closed != 1 {
		t.Fatalf("endpoint closed %d times by Engine.Close, want 1", fake.closed)
	}
}

// TestTestPollInterval: the tests' fast polling is honoured only against
// the sandbox or a loopback API, never a real one.
func TestTestPollInterval(t *testing.T) {
	t.Setenv(factory.TestPollEnv, "20ms")
	for _, tt := range []struct {
		base    string
		sandbox bool
		want    time.Duration
	}{
		{"http://127.0.0.1:4000", false, 20 * time.Millisecond},
		{"http://[::1]:4000", false, 20 * time.Millisecond},
		{"https://api.higgsfield.ai", false, 0},
		{"https://api.higgsfield.ai", true, 20 * time.Millisecond},
		{"http://10.0.0.1:80", false, 0},
		{"http://localhost.evil.example", false, 0},
	} {
		if got := factory.TestPollIntervalFor(tt.base, tt.sandbox); got != tt.want {
			t.Errorf("%s sandbox=%v: %s, want %s", tt.base, tt.sandbox, got, tt.want)
		}
	}
	t.Setenv(factory.TestPollEnv, "soon")
	if got := factory.TestPollIntervalFor("http://127.0.0.1:1", false); got != 0 {
		t.Errorf("unparsable value gave %s", got)
	}
}
