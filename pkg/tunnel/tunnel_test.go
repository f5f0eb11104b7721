package tunnel

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// sdkHeartbeatLeak is the one goroutine the ngrok SDK parks for good per
// session the network dropped (see TestNgrokReportsADroppedSessionAndReconnects).
var sdkHeartbeatLeak = goleak.IgnoreTopFunction("golang.ngrok.com/muxado/v2.(*Heartbeat).check")

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, sdkHeartbeatLeak) }

// noLeaks fails t if goroutines started during it outlive it by more than a
// grace period. The grace is for the ngrok SDK, which cannot be interrupted:
// after a failed connect its reconnect loop sleeps out one backoff step
// (0.5 s after a first failure), and after Disconnect its heartbeat requester
// waits for its next tick (the tests set 50 ms), before they see the closed
// session and return.
func noLeaks(t *testing.T, opts ...goleak.Option) {
	t.Helper()
	opts = append(opts, goleak.IgnoreCurrent())
	t.Cleanup(func() {
		start := time.Now()
		for {
			err := goleak.Find(opts...)
			if err == nil {
				return
			}
			if time.Since(start) > 3*time.Second {
				t.Errorf("goroutines left after %s: %v", time.Since(start), err)
				return
			}
			time.Sleep(25 * time.Millisecond)
		}
	})
}

func TestChoose(t *testing.T) {
	withToken := Ngrok{Authtoken: "tok"}
	tests := []struct {
		name     string
		s        Settings
		provider string // "" = none
		err      string
	}{
		{"auto nothing configured", Settings{}, "", ""},
		{"auto explicit nothing", Settings{Via: "auto"}, "", ""},
		{"auto ngrok", Settings{Ngrok: withToken}, "ngrok", ""},
		{"auto webhook url wins over ngrok", Settings{WebhookURL: "https://hooks.example.com", Listen: ":8080", Ngrok: withToken}, "static", ""},
		{"webhook url without listen", Settings{WebhookURL: "https://hooks.example.com"}, "", "--webhook-url needs --listen ADDR (the local address that URL reaches)"},
		{"webhook url not absolute", Settings{WebhookURL: "hooks.example.com", Listen: ":8080"}, "", "want an absolute http:// or https:// URL"},
		{"webhook url ftp", Settings{WebhookURL: "ftp://hooks.example.com", Listen: ":8080"}, "", "want an absolute"},
		{"plain http webhook url is allowed", Settings{Via: "webhook", WebhookURL: "http://10.0.0.5:8080", Listen: ":8080"}, "static", ""},
		{"via webhook ngrok", Settings{Via: "webhook", Ngrok: withToken}, "ngrok", ""},
		{"via webhook nothing", Settings{Via: "webhook"}, "", "--via webhook needs a public endpoint: set NGROK_AUTHTOKEN, or --webhook-url with --listen"},
		{"via poll ignores everything", Settings{Via: "poll", WebhookURL: "https://x.example", Ngrok: withToken}, "", ""},
		{"via unknown", Settings{Via: "carrier-pigeon"}, "", `--via "carrier-pigeon": want auto, webhook or poll`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Choose(tt.s)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want containing %q", err, tt.err)
				}
				if p != nil {
					t.Fatalf("provider = %v with an error", p)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			if p != nil {
				got = p.Name()
			}
			if got != tt.provider {
				t.Fatalf("provider = %q, want %q", got, tt.provider)
			}
			if st, ok := p.(Static); ok && (st.PublicURL != tt.s.WebhookURL || st.Listen != tt.s.Listen) {
				t.Fatalf("static = %+v", st)
			}
		})
	}
}

func TestStatic(t *testing.T) {
	tests := []struct {
		name   string
		s      Static
		want   string // "" = http://<listening address>
		errSub string
	}{
		{"local", Static{Listen: "127.0.0.1:0"}, "", ""},
		{"public https", Static{PublicURL: "https://hooks.example.com", Listen: "127.0.0.1:0"}, "https://hooks.example.com", ""},
		{"public with path", Static{PublicURL: "http://203.0.113.7:8080/relay", Listen: "127.0.0.1:0"}, "http://203.0.113.7:8080/relay", ""},
		{"no listen", Static{PublicURL: "https://hooks.example.com"}, "", "no listen address"},
		{"bad public url", Static{PublicURL: "https://hooks.example.com/?a=b", Listen: "127.0.0.1:0"}, "", "without query"},
		{"bad listen", Static{Listen: "127.0.0.1:99999"}, "", "listening for webhooks"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			noLeaks(t)
			ep, err := tt.s.Open(context.Background())
			if tt.errSub != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errSub) {
					t.Fatalf("err = %v, want containing %q", err, tt.errSub)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := tt.want
			if want == "" {
				want = "http://" + ep.Addr().String()
			}
			if got := ep.URL().String(); got != want {
				t.Errorf("URL = %q, want %q", got, want)
			}
			ep.URL().Path = "/mutated" // callers get a copy
			if got := ep.URL().String(); got != want {
				t.Errorf("URL after mutating a copy = %q", got)
			}
			if tt.want == "" { // the local URL really reaches the listener
				srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })}
				go func() { _ = srv.Serve(ep) }()
				resp, err := http.Get(ep.URL().String())
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusTeapot {
					t.Errorf("status = %d", resp.StatusCode)
				}
				http.DefaultClient.CloseIdleConnections()
				_ = srv.Close()
			}
			if err := ep.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
				t.Errorf("Close: %v", err)
			}
			first := ep.Close()
			if second := ep.Close(); first != second {
				t.Errorf("Close not idempotent: %v then %v", first, second)
			}
		})
	}
}
