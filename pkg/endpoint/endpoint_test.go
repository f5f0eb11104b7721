package endpoint_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hf-cli/hf/pkg/endpoint"
	"github.com/hf-cli/hf/pkg/events"
	"github.com/hf-cli/hf/pkg/job"
	"github.com/hf-cli/hf/pkg/tunnel"
)

type sink struct {
	mu  sync.Mutex
	got []events.Event
}

func (s *sink) emit(e events.Event) { s.mu.Lock(); s.got = append(s.got, e); s.mu.Unlock() }

// busyAddr is a loopback address something already listens on.
func busyAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().String()
}

func TestOpen(t *testing.T) {
	busy := busyAddr(t)
	tests := []struct {
		name     string
		s        endpoint.Settings
		open     bool   // an endpoint is returned
		kind     string // the one event emitted: "", "warning", "tunnel_ready"
		usage    bool   // the error is a *UsageError
		errHas   string
		provider string
	}{
		{name: "poll", s: endpoint.Settings{Settings: tunnel.Settings{Via: "poll"}}},
		{name: "auto, nothing configured", s: endpoint.Settings{Settings: tunnel.Settings{Via: "auto"}}},
		{name: "sandbox gets a local endpoint", s: endpoint.Settings{Sandbox: true}, open: true, kind: "tunnel_ready", provider: "static"},
		{name: "sandbox with --via poll", s: endpoint.Settings{Sandbox: true, Settings: tunnel.Settings{Via: "poll"}}},
		{name: "static", s: endpoint.Settings{Settings: tunnel.Settings{WebhookURL: "https://hook.example/x", Listen: "127.0.0.1:0"}},
			open: true, kind: "tunnel_ready", provider: "static"},
		{name: "auto: a provider that cannot open is a warning", s: endpoint.Settings{Settings: tunnel.Settings{WebhookURL: "http://" + busy, Listen: busy}},
			kind: "warning"},
		{name: "webhook: a provider that cannot open is an error", s: endpoint.Settings{Settings: tunnel.Settings{Via: "webhook", WebhookURL: "http://" + busy, Listen: busy}},
			errHas: "cannot open the static webhook endpoint"},
		{name: "unknown via", s: endpoint.Settings{Settings: tunnel.Settings{Via: "pigeon"}}, usage: true, errHas: `--via "pigeon"`},
		{name: "webhook with nothing configured", s: endpoint.Settings{Settings: tunnel.Settings{Via: "webhook"}}, usage: true, errHas: "needs a public endpoint"},
		{name: "bad secret", s: endpoint.Settings{Secret: "nope", Settings: tunnel.Settings{WebhookURL: "https://hook.example", Listen: "127.0.0.1:0"}},
			usage: true, errHas: "HF_WEBHOOK_SECRET"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s sink
			w, err := endpoint.Open(context.Background(), tt.s, s.emit)
			if w != nil {
				defer w.Close()
			}
			if tt.errHas != "" {
				var ue *endpoint.UsageError
				if err == nil || !strings.Contains(err.Error(), tt.errHas) || errors.As(err, &ue) != tt.usage {
					t.Fatalf("err = %v, want one saying %q (usage %v)", err, tt.errHas, tt.usage)
				}
				return
			}
			if err != nil || (w != nil) != tt.open {
				t.Fatalf("endpoint %v err %v, want open %v", w, err, tt.open)
			}
			kinds := ""
			for _, e := range s.got {
				kinds += string(e.Kind)
			}
			if kinds != tt.kind {
				t.Fatalf("events %+v, want %q", s.got, tt.kind)
			}
			if w == nil {
				return
			}
			ev := s.got[0].Tunnel
			if w.Provider != tt.provider || ev.Provider != tt.provider || ev.PublicURL != w.Public || !strings.HasPrefix(w.URL(), w.Public) ||
				!strings.HasSuffix(w.URL(), w.Path()) {
				t.Fatalf("endpoint %+v url %s, event %+v", w, w.URL(), ev)
			}
			var _ job.Endpoint = w
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			select {
			case <-w.Done():
			case <-time.After(time.Second):
				t.Fatal("Done not closed after Close")
			}
		})
	}
}

// TestCleartextWebhookURL: a plain-http --webhook-url to a host other than
// loopback warns once (deliveries cross the network unencrypted); https
// and loopback do not.
func TestCleartextWebhookURL(t *testing.T) {
	for _, tt := range []struct {
		url  string
		warn bool
	}{
		{"http://hook.example.com/x", true},
		{"http://203.0.113.7:8080", true},
		{"https://hook.example.com/x", false},
		{"http://127.0.0.1:8080", false},
		{"http://localhost:8080", false},
		{"http://[::1]:8080", false},
	} {
		var s sink
		w, err := endpoint.Open(context.Background(), endpoint.Settings{Settings: tunnel.Settings{WebhookURL: tt.url, Listen: "127.0.0.1:0"}}, s.emit)
		if err != nil {
			t.Fatalf("%s: %v", tt.url, err)
		}
		w.Close()
		warnings := 0
		for _, e := range s.got {
			if e.Kind == events.Warning && strings.Contains(e.Text, "plain http") && strings.Contains(e.Text, "use https://") {
				warnings++
			}
		}
		if (warnings == 1) != tt.warn || warnings > 1 {
			t.Errorf("%s: %d warnings, want warn=%v (%+v)", tt.url, warnings, tt.warn, s.got)
		}
	}
}

// TestListenNeedsWebhookURL: --listen alone is a usage error, not ignored.
func TestListenNeedsWebhookURL(t *testing.T) {
	var s sink
	_, err := endpoint.Open(context.Background(), endpoint.Settings{Settings: tunnel.Settings{Listen: "127.0.0.1:0"}}, s.emit)
	var ue *endpoint.UsageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "--listen needs --webhook-url") {
		t.Fatalf("err = %v, want a usage error", err)
	}
}
