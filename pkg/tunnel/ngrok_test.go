package tunnel

import (
	"cmp"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.ngrok.com/ngrok/v2"

	"github.com/hf-cli/hf/pkg/tunnel/ngroktest"
)

const testToken = "2fakeTokenValue_abcdefghijklmnop"

// newFakeEdge starts the in-repo fake ngrok edge for t, assigning
// https://hf-test.ngrok.app.
func newFakeEdge(t *testing.T, authErr, bindErr string) *ngroktest.Edge {
	t.Helper()
	e, err := ngroktest.Start(ngroktest.Options{Dir: t.TempDir(), AuthErr: authErr, BindErr: bindErr, URL: "https://hf-test.ngrok.app"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e
}

// edgeNgrok returns a provider pointed at the edge.
func edgeNgrok(e *ngroktest.Edge) Ngrok {
	return Ngrok{
		Authtoken:      testToken,
		ConnectURL:     e.Addr,
		RootCAs:        e.CAFile,
		ConnectTimeout: 5 * time.Second,
		AgentOptions:   []ngrok.AgentOption{ngrok.WithHeartbeatInterval(50 * time.Millisecond)},
	}
}

// visit opens a visitor's connection through the bound endpoint.
func visit(t *testing.T, e *ngroktest.Edge) net.Conn {
	t.Helper()
	c, err := e.Visit()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestNgrokOpenServesAndCloses(t *testing.T) {
	noLeaks(t)
	// Nothing may reach slog.Default (the SDK warns there about old Go
	// versions unless given a logger).
	var logged strings.Builder
	defer slog.SetDefault(slog.Default())
	slog.SetDefault(slog.New(slog.NewTextHandler(&logged, nil)))
	edge := newFakeEdge(t, "", "")
	ep, err := edgeNgrok(edge).Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if logged.Len() > 0 {
		t.Errorf("the SDK logged to slog.Default: %s", logged.String())
	}
	if got := ep.URL().String(); got != edge.URL {
		t.Errorf("URL = %q, want %q", got, edge.URL)
	}
	if auths := edge.Auths(); len(auths) != 1 || auths[0] != testToken {
		t.Errorf("authtokens seen = %q", auths)
	}

	// A visitor's bytes reach Accept, and the answer goes back.
	done := make(chan error, 1)
	go func() {
		c, err := ep.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		buf := make([]byte, 4)
		if _, err := io.ReadFull(c, buf); err != nil {
			done <- err
			return
		}
		_, err = c.Write([]byte(strings.ToUpper(string(buf))))
		done <- err
	}()
	visitor := visit(t, edge)
	if _, err := visitor.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 4)
	if _, err := io.ReadFull(visitor, got); err != nil || string(got) != "PING" {
		t.Fatalf("visitor read %q, %v", got, err)
	}
	visitor.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	if err := ep.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := ep.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := ep.Accept(); err == nil {
		t.Error("Accept after Close succeeded")
	}
}

func TestNgrokFailsFastOnNgrokErrors(t *testing.T) {
	tests := []struct {
		name, authErr, bindErr, code, msg string
	}{
		{"malformed token", "The authtoken you specified does not look like a proper ngrok tunnel authtoken.\nYour authtoken: " + testToken + "\n\nERR_NGROK_105\n", "", "ERR_NGROK_105", ""},
		{"unverified account", "Usage of ngrok requires a verified account and authtoken.\n\nERR_NGROK_4018\n", "", "ERR_NGROK_4018", ""},
		{"too many sessions", "Your account is limited to 3 simultaneous ngrok agent sessions.\n\nERR_NGROK_108\n", "", "ERR_NGROK_108", ""},
		{"unknown auth code", "Your agent is too old.\nYour authtoken: " + testToken + "\n\nERR_NGROK_120\n", "", "ERR_NGROK_120", "ngrok ERR_NGROK_120: authentication failed: Your agent is too old."},
		{"url already online", "", "The endpoint 'https://hf-test.ngrok.app' is already online.\n\nERR_NGROK_334\n", "ERR_NGROK_334", ""},
		{"invalid url", "", "Invalid URL.\n\nERR_NGROK_9037\n", "ERR_NGROK_9037", ""},
	}
	noLeaks(t) // once for all: each subtest leaves the SDK's 0.5 s backoff sleeper
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			edge := newFakeEdge(t, tt.authErr, tt.bindErr)
			p := edgeNgrok(edge)
			p.ConnectTimeout = 10 * time.Second // failing fast must not wait for it
			start := time.Now()
			ep, err := p.Open(context.Background())
			elapsed := time.Since(start)
			if err == nil {
				ep.Close()
				t.Fatal("Open succeeded")
			}
			if elapsed > 500*time.Millisecond {
				t.Errorf("Open took %s, want well under a second", elapsed)
			}
			t.Logf("Open failed after %s: %v", elapsed.Round(time.Millisecond), err)
			var ne *NgrokError
			if !errors.As(err, &ne) || ne.Code != tt.code {
				t.Fatalf("err = %#v (%v), want *NgrokError %s", err, err, tt.code)
			}
			want := cmp.Or(tt.msg, "ngrok "+tt.code+": "+ExplainNgrok(tt.code))
			if err.Error() != want {
				t.Errorf("Error() = %q, want %q", err.Error(), want)
			}
			if ne.Err == nil || strings.Contains(ne.Err.Error(), testToken) {
				t.Errorf("wrapped error missing or leaks the token: %v", ne.Err)
			}
		})
	}
}

func TestNgrokConnectTimeout(t *testing.T) {
	noLeaks(t)
	// An "edge" that accepts and hangs up at once: every attempt fails
	// without an ngrok error code, so only the connect timeout ends Open.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	})
	t.Cleanup(func() { ln.Close(); wg.Wait() })

	p := Ngrok{Authtoken: testToken, ConnectURL: ln.Addr().String(), ConnectTimeout: 300 * time.Millisecond}
	start := time.Now()
	ep, err := p.Open(context.Background())
	elapsed := time.Since(start)
	if err == nil {
		ep.Close()
		t.Fatal("Open succeeded")
	}
	const want = "ngrok: not connected within 300ms (check network/proxy; ngrok.connect_url)"
	if !strings.HasPrefix(err.Error(), want) {
		t.Errorf("err = %q, want prefix %q", err, want)
	}
	if elapsed < 300*time.Millisecond || elapsed > 800*time.Millisecond {
		t.Errorf("Open returned after %s, want about 300ms", elapsed)
	}
	var ne *NgrokError
	if errors.As(err, &ne) {
		t.Errorf("a timeout is not an ngrok rejection: %v", ne)
	}
}

func TestNgrokOpenRefusesBadSettings(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		p    Ngrok
		want string
	}{
		{"no authtoken", Ngrok{}, "ngrok: no authtoken: set NGROK_AUTHTOKEN"},
		{"root CAs missing", Ngrok{Authtoken: "t", RootCAs: filepath.Join(dir, "missing.pem")}, "ngrok.root_cas:"},
		{"root CAs not PEM", Ngrok{Authtoken: "t", RootCAs: notPEM}, "no PEM certificate found"},
		{"proxy scheme unknown", Ngrok{Authtoken: "t", ConnectURL: "127.0.0.1:1", Proxy: "gopher://proxy:70"}, "unknown scheme: gopher"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			noLeaks(t)
			start := time.Now()
			_, err := tt.p.Open(context.Background())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want containing %q", err, tt.want)
			}
			if time.Since(start) > 200*time.Millisecond {
				t.Errorf("took %s; bad settings should fail without trying", time.Since(start))
			}
		})
	}
}

func TestNgrokRootCAsReplacesTrust(t *testing.T) {
	noLeaks(t)
	edge := newFakeEdge(t, "", "")
	other := newFakeEdge(t, "", "")
	p := edgeNgrok(edge)
	p.RootCAs = other.CAFile // trusts a different CA: every handshake fails
	p.ConnectTimeout = 300 * time.Millisecond
	_, err := p.Open(context.Background())
	if err == nil || !strings.Contains(err.Error(), "not connected within 300ms") || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("err = %v, want a timeout caused by certificate verification", err)
	}
}

func TestExplainNgrok(t *testing.T) {
	tests := []struct{ code, want string }{
		{"ERR_NGROK_4018", "set NGROK_AUTHTOKEN from https://dashboard.ngrok.com/get-started/your-authtoken"},
		{"4018", "account not verified"},
		{"ERR_NGROK_105", "malformed"},
		{"ERR_NGROK_107", "invalid or was revoked"},
		{"ERR_NGROK_108", "close other ngrok agents"},
		{"ERR_NGROK_313", "paid ngrok plan"},
		{"ERR_NGROK_334", "another hf or ngrok uses it; pick another ngrok.url or stop that one"},
		{"ERR_NGROK_9037", "ngrok.url is not a valid"},
		{"ERR_NGROK_1234", "ngrok error ERR_NGROK_1234"},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			got := ExplainNgrok(tt.code)
			if !strings.Contains(got, tt.want) || strings.Contains(got, "\n") {
				t.Errorf("ExplainNgrok(%q) = %q, want one line containing %q", tt.code, got, tt.want)
			}
		})
	}
}

func TestNgrokReportsADroppedSessionAndReconnects(t *testing.T) {
	// The SDK never closes the heartbeat of a session the network dropped
	// (muxado's Heartbeat.check waits for a Close that only a client-side
	// close sends): one parked goroutine per drop, which hf cannot reach.
	noLeaks(t, sdkHeartbeatLeak)
	edge := newFakeEdge(t, "", "")
	events := make(chan SessionEvent, 16)
	p := edgeNgrok(edge)
	p.OnSession = func(ev SessionEvent) { events <- ev }
	ep, err := p.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer ep.Close()
	next := func() SessionEvent {
		t.Helper()
		select {
		case ev := <-events:
			return ev
		case <-time.After(5 * time.Second):
			t.Fatal("no session event within 5s")
		}
		return SessionEvent{}
	}
	select {
	case ev := <-events:
		t.Fatalf("event before any drop: %+v", ev)
	case <-time.After(100 * time.Millisecond):
	}

	// Two outages: the second time the edge refuses the first reconnects.
	for round := range 2 {
		if round == 1 {
			edge.Refuse(true)
		}
		edge.Drop()
		if ev := next(); ev.Up || ev.Err == nil {
			t.Fatalf("round %d: first event %+v, want a drop with its error", round, ev)
		}
		if round == 1 {
			if ev := next(); ev.Up || ev.Err == nil {
				t.Fatalf("round %d: want a failed reconnect attempt, got %+v", round, ev)
			}
			edge.Refuse(false)
		}
		var ev SessionEvent
		for ev = next(); !ev.Up; ev = next() {
		}
		if got := edge.Binds(); got != round+2 {
			t.Errorf("round %d: %d binds, want %d (the endpoint rebound)", round, got, round+2)
		}
		if ep.URL().String() != edge.URL {
			t.Errorf("URL after reconnect = %s", ep.URL())
		}
		// The same listener accepts visitors again.
		accepted := make(chan error, 1)
		go func() {
			c, err := ep.Accept()
			if err == nil {
				_, err = c.Write([]byte("ok"))
				c.Close()
			}
			accepted <- err
		}()
		v := visit(t, edge)
		got, err := io.ReadAll(v)
		v.Close()
		if err != nil || string(got) != "ok" {
			t.Fatalf("round %d: visitor read %q, %v", round, got, err)
		}
		if err := <-accepted; err != nil {
			t.Fatal(err)
		}
	}

	// Closing is not a drop.
	ep.Close()
	select {
	case ev := <-events:
		t.Errorf("event after Close: %+v", ev)
	case <-time.After(200 * time.Millisecond):
	}
}

// noDNS is a dialer for a machine without name resolution.
type noDNS struct{}

func (noDNS) Dial(network, address string) (net.Conn, error) {
	return noDNS{}.DialContext(context.Background(), network, address)
}
func (noDNS) DialContext(_ context.Context, _, address string) (net.Conn, error) {
	host, _, _ := net.SplitHostPort(address)
	return nil, &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}}
}

// TestNgrokFailsFastOnDNS: a connect host that does not resolve (no
// network) fails at once, not after the connect timeout.
func TestNgrokFailsFastOnDNS(t *testing.T) {
	noLeaks(t)
	p := Ngrok{Authtoken: testToken, ConnectURL: "connect.example.invalid:443", ConnectTimeout: 10 * time.Second,
		AgentOptions: []ngrok.AgentOption{ngrok.WithDialer(noDNS{})}}
	start := time.Now()
	ep, err := p.Open(context.Background())
	elapsed := time.Since(start)
	if err == nil {
		ep.Close()
		t.Fatal("Open succeeded")
	}
	var de *DNSError
	if !errors.As(err, &de) || !strings.Contains(err.Error(), "cannot resolve") {
		t.Fatalf("err = %v, want a *DNSError", err)
	}
	if elapsed > time.Second {
		t.Errorf("Open took %s, want well under the 10s connect timeout", elapsed)
	}
}
