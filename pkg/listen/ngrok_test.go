package listen

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.ngrok.com/ngrok/v2"

	"github.com/hf-cli/hf/pkg/tunnel"
	"github.com/hf-cli/hf/pkg/tunnel/ngroktest"
)

// ngrokEndpoint opens the real ngrok provider against the in-repo fake edge,
// its session watched by w.
func ngrokEndpoint(t *testing.T, edge *ngroktest.Edge, w *Watch) tunnel.Endpoint {
	t.Helper()
	p := tunnel.Ngrok{
		Authtoken:      "2fakeTokenValue_abcdefghijklmnop",
		ConnectURL:     edge.Addr,
		RootCAs:        edge.CAFile,
		ConnectTimeout: 5 * time.Second,
		AgentOptions:   []ngrok.AgentOption{ngrok.WithHeartbeatInterval(50 * time.Millisecond)},
		OnSession:      w.Observe,
	}
	ep, err := p.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return ep
}

func startEdge(t *testing.T) *ngroktest.Edge {
	t.Helper()
	edge, err := ngroktest.Start(ngroktest.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(edge.Close)
	return edge
}

// waitEvent waits for the n-th event of kind k.
func waitEvent(t *testing.T, rec *recorder, k Kind, n int) Event {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if ev := rec.kinds(k); len(ev) >= n {
			return ev[n-1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s event #%d within 10s: %+v", k, n, rec.all())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestListenThroughNgrokSurvivesADroppedSession(t *testing.T) {
	noLeaks(t)
	edge := startEdge(t)
	srv := fake(t, secret)
	a := newApp(t)
	w := NewWatch(time.Minute)
	defer w.Stop()
	run := startOn(t, ngrokEndpoint(t, edge, w), Options{Secret: secret, Targets: []string{a.hook()}}, RunOptions{Watch: w})
	if want := edge.FrontURL + "/hf/"; len(run.url) != len(want)+32 || run.url[:len(want)] != want {
		t.Fatalf("public URL %q, want %s<secret>", run.url, want)
	}

	// A delivery through the edge reaches the app unchanged.
	submit(t, srv, run.url)
	sent := attempts(t, srv, 1)
	if sent[0].Code != 200 || len(a.requests()) != 1 {
		t.Fatalf("through ngrok: fake saw %v, app got %d", codes(sent), len(a.requests()))
	}
	sameDelivery(t, a.requests()[0], sent[0])

	// The session drops and reconnects refused twice: hf says so, then says
	// it is back under the same URL.
	edge.Refuse(true)
	edge.Drop()
	down := waitEvent(t, run.events, TunnelDown, 2)
	if down.Err == nil || down.Attempt != 2 || down.URL != run.url {
		t.Errorf("down event %+v", down)
	}
	edge.Refuse(false)
	up := waitEvent(t, run.events, TunnelUp, 1)
	if up.Changed || up.URL != run.url || up.Down <= 0 {
		t.Errorf("up event %+v", up)
	}
	if edge.Binds() != 2 {
		t.Errorf("%d binds, want 2 (the endpoint was bound again)", edge.Binds())
	}

	// The next delivery arrives over the reopened session.
	submit(t, srv, run.url)
	sent = attempts(t, srv, 2)
	if sent[1].Code != 200 || len(a.requests()) != 2 {
		t.Fatalf("after reconnect: fake saw %v, app got %d", codes(sent), len(a.requests()))
	}
	sameDelivery(t, a.requests()[1], sent[1])
	run.cancel()
	if err := run.wait(t); !errors.Is(err, context.Canceled) {
		t.Errorf("Run after cancel: %v", err)
	}
}

func TestListenGivesUpWhenTheTunnelStaysDown(t *testing.T) {
	noLeaks(t)
	edge := startEdge(t)
	w := NewWatch(400 * time.Millisecond)
	defer w.Stop()
	run := startOn(t, ngrokEndpoint(t, edge, w), Options{}, RunOptions{Watch: w})
	edge.Refuse(true)
	edge.Drop()
	start := time.Now()
	err := run.wait(t)
	var lost *LostError
	if !errors.As(err, &lost) || lost.Down != 400*time.Millisecond || lost.Err == nil {
		t.Fatalf("Run = %v, want a *LostError after 400ms", err)
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Errorf("gave up after %s", el)
	}
	t.Log(err)
}

// TestReadyOnlyOnceTheEndpointAnswers: when OnReady runs, a delivery to the
// URL it got is answered, on a local endpoint and through the ngrok edge.
func TestReadyOnlyOnceTheEndpointAnswers(t *testing.T) {
	noLeaks(t)
	for _, provider := range []string{"static", "ngrok"} {
		t.Run(provider, func(t *testing.T) {
			var ep tunnel.Endpoint
			if provider == "ngrok" {
				w := NewWatch(time.Minute)
				defer w.Stop()
				ep = ngrokEndpoint(t, startEdge(t), w)
			} else {
				var err error
				if ep, err = (tunnel.Static{Listen: "127.0.0.1:0"}).Open(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			r, err := New(Options{})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			answered := make(chan int, 1)
			done := make(chan error, 1)
			go func() {
				done <- Run(ctx, ep, r, RunOptions{MaxDeliveries: 1, OnReady: func(u string) error {
					resp, err := (&http.Client{Timeout: 5 * time.Second}).Post(u, "application/json", strings.NewReader(`{"request_id":"r1","status":"nsfw"}`))
					if err != nil {
						answered <- 0
						return err
					}
					resp.Body.Close()
					answered <- resp.StatusCode
					return nil
				}})
			}()
			if code := <-answered; code != 200 {
				t.Fatalf("a delivery right at OnReady was answered %d", code)
			}
			select {
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Run did not end after the delivery")
			}
		})
	}
}
