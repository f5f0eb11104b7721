package tunnel

import (
	"cmp"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"golang.ngrok.com/ngrok/v2"
)

// defaultConnectAddr is where the ngrok agent connects unless told otherwise.
const defaultConnectAddr = "connect.ngrok-agent.com:443"

// Ngrok opens an HTTPS endpoint through an in-process ngrok agent
// (golang.ngrok.com/ngrok/v2). It works around the SDK's traps: the Listen
// context is the session's lifetime, a rejected authtoken is retried forever,
// and closing the listener leaves the session up.
type Ngrok struct {
	Authtoken string
	// URL is a reserved domain or URL (ngrok.url); empty lets ngrok assign one.
	URL string
	// ConnectURL is the agent connect address host:port (ngrok.connect_url).
	ConnectURL string
	// RootCAs is a PEM file (ngrok.root_cas) whose certificates REPLACE the
	// pool trusted for the agent connection, e.g. a TLS-inspecting proxy's CA.
	RootCAs string
	// ConnectTimeout bounds connecting and binding (default 15s). It is not a
	// deadline on the session, which lives until the Endpoint is closed.
	ConnectTimeout time.Duration
	// Proxy is the proxy URL for the agent connection (http, https, socks5).
	// Empty means HTTPS_PROXY, https_proxy, ALL_PROXY or all_proxy, unless
	// NO_PROXY excludes the connect host.
	Proxy string
	// Logger receives the SDK's logs; nil discards them.
	Logger *slog.Logger
	// AgentOptions are appended last (tests point the agent at a local edge).
	AgentOptions []ngrok.AgentOption
	// Version is hf's version, reported to ngrok as client info.
	Version string
	// OnSession, when set, sees the session drop and come back after the
	// endpoint opened: the SDK reconnects by itself (backoff 0.5 s → 30 s)
	// and rebinds the endpoint under the same URL; each failed attempt is
	// reported too. It is called from the SDK's event handler: it must not
	// block. Nothing is reported once the endpoint is being closed.
	OnSession func(SessionEvent)
}

// NgrokError is ngrok refusing the session or the endpoint with an
// ERR_NGROK_xxx code.
type NgrokError struct {
	Code string
	Err  error
}

// Error is one line saying what went wrong and what to do: the explanation
// of a known code, else the first line of ngrok's message.
func (e *NgrokError) Error() string {
	msg := ExplainNgrok(e.Code)
	if _, known := ngrokExplanations[strings.TrimPrefix(e.Code, "ERR_NGROK_")]; !known && e.Err != nil {
		msg, _, _ = strings.Cut(strings.TrimSpace(e.Err.Error()), "\n")
	}
	return "ngrok " + e.Code + ": " + msg
}

func (e *NgrokError) Unwrap() error { return e.Err }

var ngrokExplanations = map[string]string{
	"4018": "authtoken missing or account not verified: set NGROK_AUTHTOKEN from https://dashboard.ngrok.com/get-started/your-authtoken",
	"105":  "the authtoken is malformed: copy it again from https://dashboard.ngrok.com/get-started/your-authtoken",
	"107":  "the authtoken is invalid or was revoked: get a current one from https://dashboard.ngrok.com/get-started/your-authtoken",
	"108":  "too many agent sessions for your ngrok plan: close other ngrok agents",
	"313":  "custom subdomains need a paid ngrok plan: unset ngrok.url to use your assigned domain",
	"334":  "this URL is already online: another hf or ngrok uses it; pick another ngrok.url or stop that one",
	"9037": "ngrok.url is not a valid ngrok URL",
}

// ExplainNgrok says in one line what an ngrok error code means for hf's
// user. It accepts "ERR_NGROK_105" or "105".
func ExplainNgrok(code string) string {
	if s, ok := ngrokExplanations[strings.TrimPrefix(code, "ERR_NGROK_")]; ok {
		return s
	}
	return "ngrok error " + code
}

// Name implements Provider.
func (Ngrok) Name() string { return "ngrok" }

// Open connects an agent and binds an HTTPS endpoint. ctx bounds the whole
// session; ConnectTimeout bounds only the connect. An ngrok error code during
// connect (a rejected authtoken, too many sessions) fails at once with a
// *NgrokError instead of retrying. After a failure the SDK's reconnect loop
// may sleep out one backoff step (0.5 s after a first attempt, up to 30 s
// after many) before it sees the closed session and exits.
func (n Ngrok) Open(ctx context.Context) (Endpoint, error) {
	if n.Authtoken == "" {
		return nil, errors.New("ngrok: no authtoken: set NGROK_AUTHTOKEN from https://dashboard.ngrok.com/get-started/your-authtoken")
	}
	opts, err := n.agentOptions()
	if err != nil {
		return nil, err
	}

	ctx, cancel := context.WithCancelCause(ctx)
	var (
		mu   sync.Mutex
		last error // the last attempt's error, for the timeout message
		life sessionLife
	)
	onEvent := func(ev ngrok.Event) {
		n.report(&life, ev)
		d, ok := ev.(*ngrok.EventAgentDisconnected)
		if !ok || d.Error == nil || errors.Is(d.Error, context.Canceled) {
			return
		}
		mu.Lock()
		last = d.Error
		mu.Unlock()
		var dns *net.DNSError
		if errors.As(d.Error, &dns) && !dns.IsTemporary && !dns.IsTimeout {
			// The connect host does not resolve (no network, a typo in
			// ngrok.connect_url): retrying will not help.
			cancel(&DNSError{Err: n.redact(d.Error)})
			return
		}
		var coded interface{ ErrorCode() string }
		if errors.As(d.Error, &coded) && coded.ErrorCode() != "" {
			// Fail now rather than retry forever; this also ends a session
			// whose reconnect is refused later.
			cancel(&NgrokError{Code: coded.ErrorCode(), Err: n.redact(d.Error)})
		}
	}
	agent, err := ngrok.NewAgent(append(append(opts, ngrok.WithEventHandler(onEvent)), n.AgentOptions...)...)
	if err != nil {
		cancel(nil)
		return nil, n.redact(fmt.Errorf("ngrok: %w", err))
	}

	timeout := cmp.Or(n.ConnectTimeout, 15*time.Second)
	timer := time.AfterFunc(timeout, func() { cancel(errConnectTimeout) })
	var epOpts []ngrok.EndpointOption
	if n.URL != "" {
		epOpts = append(epOpts, ngrok.WithURL(n.URL))
	}
	ln, err := agent.Listen(ctx, epOpts...)
	timer.Stop()
	if err == nil {
		life.opened.Store(true)
		return &ngrokEndpoint{EndpointListener: ln, agent: agent, cancel: func() { cancel(nil) }, life: &life}, nil
	}
	cancel(nil)
	_ = agent.Disconnect()

	var (
		rejected *NgrokError
		dns      *DNSError
		coded    ngrok.Error
		cause    = context.Cause(ctx)
	)
	switch {
	case errors.As(cause, &rejected):
		return nil, rejected
	case errors.As(cause, &dns):
		return nil, dns
	case errors.As(err, &coded) && coded.Code() != "": // bind refused: 313, 334, 9037
		return nil, &NgrokError{Code: coded.Code(), Err: n.redact(err)}
	case errors.Is(cause, errConnectTimeout):
		mu.Lock()
		defer mu.Unlock()
		if last != nil {
			err = last // more telling than "context canceled"
		}
		return nil, n.redact(fmt.Errorf("ngrok: not connected within %s (check network/proxy; ngrok.connect_url): %w", timeout, err))
	}
	return nil, n.redact(fmt.Errorf("ngrok: %w", err))
}

var errConnectTimeout = errors.New("ngrok connect timeout")

// DNSError: the ngrok connect host does not resolve; Open fails at once
// instead of retrying until ConnectTimeout.
type DNSError struct{ Err error }

func (e *DNSError) Error() string {
	return fmt.Sprintf("ngrok: cannot resolve the ngrok service (no network or DNS?): %v", e.Err)
}
func (e *DNSError) Unwrap() error { return e.Err }

// agentOptions turns the settings into agent options (without the event
// handler and AgentOptions).
func (n Ngrok) agentOptions() ([]ngrok.AgentOption, error) {
	logger := n.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	opts := []ngrok.AgentOption{
		ngrok.WithAuthtoken(n.Authtoken),
		ngrok.WithLogger(logger),
		ngrok.WithClientInfo("hf", cmp.Or(n.Version, "dev")),
	}
	addr := defaultConnectAddr
	if n.ConnectURL != "" {
		addr = n.ConnectURL
		if _, _, err := net.SplitHostPort(addr); err != nil {
			addr = net.JoinHostPort(addr, "443")
		}
		opts = append(opts, ngrok.WithAgentConnectURL(addr))
	}
	if n.RootCAs != "" {
		pem, err := os.ReadFile(n.RootCAs)
		if err != nil {
			return nil, fmt.Errorf("ngrok.root_cas: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ngrok.root_cas %s: no PEM certificate found", n.RootCAs)
		}
		opts = append(opts, ngrok.WithAgentConnectCAs(pool))
	}
	proxyURL, err := proxyFor(n.Proxy, addr)
	if err != nil {
		return nil, err
	}
	if proxyURL != "" {
		registerProxyDialers()
		opts = append(opts, ngrok.WithProxyURL(proxyURL))
	}
	return opts, nil
}

// redact hides the authtoken should an error message quote it.
func (n Ngrok) redact(err error) error {
	// A token too short to be real would blank out ordinary words.
	if err == nil || len(n.Authtoken) < 8 || !strings.Contains(err.Error(), n.Authtoken) {
		return err
	}
	return redactedError{err: err, msg: strings.ReplaceAll(err.Error(), n.Authtoken, "[redacted]")}
}

type redactedError struct {
	err error
	msg string
}

func (e redactedError) Error() string { return e.msg }
func (e redactedError) Unwrap() error { return e.err }

type ngrokEndpoint struct {
	ngrok.EndpointListener
	agent  ngrok.Agent
	cancel context.CancelFunc
	life   *sessionLife
	once   sync.Once
	err    error
}

// Close unbinds the endpoint (waiting at most 2 s for the edge), disconnects
// the agent and ends the session context; later calls return the first
// result. The SDK's heartbeat goroutine exits at its next tick.
func (e *ngrokEndpoint) Close() error {
	e.once.Do(func() {
		e.life.closing.Store(true)
		unbound := make(chan error, 1)
		go func() { unbound <- e.EndpointListener.Close() }()
		timer := time.NewTimer(2 * time.Second)
		defer timer.Stop()
		var err error
		select {
		case err = <-unbound:
			err = errors.Join(err, e.agent.Disconnect())
			e.cancel()
		case <-timer.C:
			err = errors.Join(errors.New("ngrok: the edge did not confirm closing the endpoint"), e.agent.Disconnect())
			e.cancel()
			<-unbound // the closed session fails the pending unbind at once
		}
		e.err = err
	})
	return e.err
}
